"""A ProcessPoolExecutor worker is killed (SIGKILL) while tasks are outstanding.

Expect: worker-died
Exit: 1

concurrent.futures notices and fails every pending future with BrokenProcessPool ("A process in
the process pool was terminated abruptly..."), which does not say which worker died or why; the
finding does. The program catches the error and exits with a message.
"""

import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool


def render_page(number):
    if number == 5:
        os.kill(os.getpid(), signal.SIGKILL)  # <- finding (killed)
    return f"page {number}"


if __name__ == "__main__":
    try:
        with ProcessPoolExecutor(max_workers=2) as executor:  # <- finding (created)
            print(list(executor.map(render_page, range(10))))
    except BrokenProcessPool as exc:
        sys.exit(f"rendering failed: {exc}")
