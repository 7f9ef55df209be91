"""A child asks for input(): multiprocessing gave it /dev/null as stdin.

Expect: child-stdin
Exit: 0

`input()` in the child raises "EOFError: EOF when reading a line" at once, whatever the
terminal holds; the child exits 1 and the parent carries on.
"""

from multiprocessing import Process


def ask():
    name = input("name? ")  # <- finding (raised)
    print("hello", name)


if __name__ == "__main__":
    child = Process(target=ask)
    child.start()
    child.join()
    print("child exit code:", child.exitcode)
