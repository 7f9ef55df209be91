"""Run a script as `python script.py` would, with the multiprocessing start method forced.

    python with_start_method.py {fork|spawn|forkserver} SCRIPT [ARGS...]

The samples use the interpreter's default start method, as tutorial programs do; the tests run
them under every method through this launcher. The script runs as `__main__` with its own
`__file__`, `sys.argv` and `sys.path[0]`, so spawn and forkserver children re-import it by path
exactly as they would import a script started directly. Python 3.8+ syntax.
"""

import multiprocessing
import os
import runpy
import sys


def main():
    method, script = sys.argv[1], sys.argv[2]
    multiprocessing.set_start_method(method)
    sys.argv = sys.argv[2:]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
