"""A Manager's server process, used and shut down by the `with` block."""

import multiprocessing as mp
import sys

if __name__ == "__main__":
    with mp.get_context(sys.argv[1]).Manager() as manager:  # SITE: manager
        shared = manager.list([1, 2])
        shared.append(3)
        print(list(shared))
