"""Pool.map() over objects that hold a lock and an open file: neither can be pickled.

Expect: unpicklable-object
Exit: 1

Python stops at the first failure ("cannot pickle '_thread.lock' object") and names neither the
object nor the attribute; mpdoctor lists every member that fails, with its path
(`iterable[0] -> Account.guard`, `iterable[0] -> Account.audit`).
"""

import os
import threading
from multiprocessing import Pool


class Account:
    def __init__(self, name):
        self.name = name
        self.guard = threading.Lock()
        self.audit = open(os.devnull, "w")


def balance(account):
    return len(account.name)


def main():
    accounts = [Account("alice"), Account("bob")]
    with Pool(2) as pool:
        print(pool.map(balance, accounts))  # <- finding (sent)


if __name__ == "__main__":
    main()
