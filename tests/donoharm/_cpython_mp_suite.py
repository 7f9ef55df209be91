"""CPython's multiprocessing tests, installed for the start method named in the environment.

`cpython_mp.py` sets MPDOCTOR_DONOHARM_METHOD and imports this module; spawned and forkserver
children import it again by name when they unpickle a test's target (`cls._test_xxx`), exactly as
they import `test.test_multiprocessing_spawn` under CPython's own runner. Runs in 3.8 to 3.13.
"""

import os
import sys

from test import _test_multiprocessing

METHOD_VAR = "MPDOCTOR_DONOHARM_METHOD"

# The per-type split (only_type) exists from 3.11.7 on; the full suite is installed everywhere.
_test_multiprocessing.install_tests_in_module_dict(globals(), os.environ[METHOD_VAR])

# Module-level names the installer added that are not tests.
del os, sys
