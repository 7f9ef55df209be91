"""A child gives up with sys.exit(3); the parent joins it and never checks the exit code.

Expect: process-crashed
Exit: 0

A non-zero exit code is the only trace of the failure: the finding reports code 3 for that
child and where it was started.
"""

import sys
from multiprocessing import Process


def import_batch(path):
    batch = []  # reading `path` found no records
    if not batch:
        print("no records in", path, file=sys.stderr)
        sys.exit(3)


if __name__ == "__main__":
    importer = Process(target=import_batch, args=("batch-0001.csv",))
    importer.start()  # <- finding (started)
    importer.join()
    print("import finished")
