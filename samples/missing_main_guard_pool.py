"""A Pool created at module level under spawn: its workers die at start-up, again and again.

Expect: missing-main-guard
Exit: 1
Stopped: respawn-loop

Each worker re-imports the main module, reaches the module-level Pool() and dies with the
"bootstrapping phase" RuntimeError; the Pool replaces it at once, printing the same traceback
hundreds of times a second. Plain python gives up after the 3 s timeout below; mpdoctor stops
the loop after a few repetitions (exit 124). (Without the guard, like missing_main_guard.py.)
"""

import sys
from multiprocessing import TimeoutError, get_context


def double(x):
    return 2 * x


pool = get_context("spawn").Pool(2)  # <- finding (module-level)
try:
    print(pool.map_async(double, range(4)).get(timeout=3))
except TimeoutError:
    pool.terminate()
    sys.exit("no result after 3 s")
