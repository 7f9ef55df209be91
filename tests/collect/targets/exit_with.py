"""Ends as argv[1] says: a number (exit code), "msg" (sys.exit("msg")), KILL/TERM/SEGV
(that signal to itself), INT (KeyboardInterrupt raised out of the main module)."""

import os
import signal
import sys

how = sys.argv[1]
if how.isdigit():
    sys.exit(int(how))
if how == "msg":
    sys.exit("fatal: something went wrong")
if how == "INT":
    raise KeyboardInterrupt
if how == "SEGV":
    import faulthandler

    faulthandler.disable()
    import ctypes

    ctypes.string_at(0)
os.kill(os.getpid(), getattr(signal, "SIG" + how))
