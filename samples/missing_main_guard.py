"""A process started at module level, without the `if __name__ == "__main__":` guard.

Expect: missing-main-guard
Exit: 0

Under spawn (the default on macOS and Windows) and forkserver (Linux from Python 3.14), a child
imports the main module again. Here the module-level start() runs again in the child, which
raises multiprocessing's "bootstrapping phase" RuntimeError and exits 1; the parent carries on.
The program asks for spawn so that it fails on Linux too. (The only sample without the guard.)
"""

import multiprocessing


def greet():
    print("hello from the child")


context = multiprocessing.get_context("spawn")
child = context.Process(target=greet)
child.start()  # <- finding (module-level)
child.join()
print("child exit code:", child.exitcode)
