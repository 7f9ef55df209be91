"""No multiprocessing: prints, then exits with argv[1] (default 0)."""

import sys

print("hello from plain")
sys.stderr.write("to stderr\n")
print("multiprocessing imported:", "multiprocessing" in sys.modules)
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
