"""A Manager proxy used after its `with Manager()` block has ended.

Expect: manager-gone
Exit: 1

Leaving the block shuts the manager's server process down; the list proxy still points at it,
so the next call fails with BrokenPipeError (or ConnectionRefusedError, FileNotFoundError) from
deep inside multiprocessing/managers.py, naming neither the manager nor the block.
"""

from multiprocessing import Manager


def main():
    with Manager() as manager:  # <- finding (shut down)
        totals = manager.list()
        totals.append(1)
    totals.append(2)  # <- finding (used)


if __name__ == "__main__":
    main()
