"""Signal numbers to names, for messages and renderers.

Reports are read on other machines (`mpdoctor report saved.json`), so a Linux report names its
signals from the Linux table, not from the reader's `signal` module (SIGBUS is 7 on Linux, 10 on
macOS).
"""

from __future__ import annotations

import signal as _signal

# asm-generic numbering: x86, arm, arm64, riscv, s390, powerpc (not alpha, mips, sparc, parisc).
_LINUX = {
    1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
    7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2",
    13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD",
    18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG",
    24: "SIGXCPU", 25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO",
    30: "SIGPWR", 31: "SIGSYS",
}  # fmt: skip
_LINUX_RTMIN, _LINUX_RTMAX = 34, 64

SIGINT = 2
SIGKILL = 9
SIGTERM = 15
# Raised by a crash of the process's own code (native code, an abort): SIGILL SIGABRT SIGBUS
# SIGFPE SIGSEGV, Linux numbers.
FAULT_SIGNALS = frozenset({4, 6, 7, 8, 11})


def signal_name(num: int, platform: str = "linux") -> str:
    """`9` -> "SIGKILL"; an unknown number -> "signal 77"."""
    if platform.lower().startswith("linux"):  # sys.platform, or platform.platform()
        if num in _LINUX:
            return _LINUX[num]
        if _LINUX_RTMIN <= num <= _LINUX_RTMAX:
            return f"SIGRTMIN+{num - _LINUX_RTMIN}" if num != _LINUX_RTMIN else "SIGRTMIN"
        return f"signal {num}"
    try:
        return _signal.Signals(num).name
    except ValueError:
        return f"signal {num}"
