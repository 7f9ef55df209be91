"""Prints "ready", counts SIGINTs for a while after the first, exits with the count."""

import signal
import sys
import time

got = []
signal.signal(signal.SIGINT, lambda *a: got.append(1))
print("ready", flush=True)
deadline = time.monotonic() + 20
while not got and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(0.5)
sys.exit(20 + len(got))
