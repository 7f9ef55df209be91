"""Run as `python -c`: spawn children cannot import a main module that has no file.

Expect: interactive-main
Exit: 0

The same code pasted into `python -c` (or a notebook, or stdin) defines `square` in a
`__main__` without a file. A spawn child re-imports the main module to find the target and
cannot: "Can't get attribute 'square' on <module '__main__' (built-in)>", exit code 1. This file
runs that code through `python -c` itself, so the test needs nothing special.
"""

import subprocess
import sys

CODE = """
import multiprocessing

def square(x):
    print(x * x)

child = multiprocessing.get_context("spawn").Process(target=square, args=(7,))
child.start()
child.join()
print("child exit code:", child.exitcode)
"""

if __name__ == "__main__":
    subprocess.run([sys.executable, "-c", CODE], check=True)
