"""set_start_method() after a Queue already fixed the context.

Expect: start-method-conflict
Exit: 1

Creating the Queue fixed the default context, so the later set_start_method("spawn") raises
"RuntimeError: context has already been set".
"""

import multiprocessing

if __name__ == "__main__":
    results = multiprocessing.Queue()
    multiprocessing.set_start_method("spawn")  # <- finding (raised)
    results.put("never used")
