"""Prints "ready", then waits for SIGTERM; counts the SIGTERMs it got and exits with that count."""

import signal
import sys
import time

got = []
signal.signal(signal.SIGTERM, lambda *a: got.append(1))
print("ready", flush=True)
deadline = time.monotonic() + 20
while not got and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(0.3)  # a second, duplicated delivery would arrive here
sys.exit(10 + len(got))
