"""The monitor's signals: blocked, then taken one at a time with their sender (like `timeout`).

`SignalGate.install()` blocks the monitored signals in the main thread BEFORE any thread starts
(threads inherit the mask, so no thread ever runs a handler), then the main loop takes each one
with `sigtimedwait`, which also tells who sent it:

* si_code > 0 (SI_KERNEL: the terminal's Ctrl-C, a hangup): the kernel sent it to the whole
  foreground process group, target included, so it is only noted, never sent a second time;
* si_code <= 0 (SI_USER, SI_QUEUE, SI_TKILL: `kill`, a CI cancel): another process meant the
  program, so the runner forwards it to the target (after a snapshot sample).

Off Linux (no sigtimedwait), handlers queue the signals instead; without a sender, SIGINT is
taken as the terminal's and everything else as sent by another process.
"""

from __future__ import annotations

import os
import resource
import signal
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    import queue

# Every signal whose default action would end mpdoctor: one it did not take would kill it and
# leave the program running unwatched, its report unwritten. Not SIGPIPE and SIGXFSZ: Python
# ignores them, and the kernel raises them for mpdoctor's own writes (a closed stderr), which
# must never reach the program. SIGCHLD wakes the loop when the target exits.
_ENDING = (
    "SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGVTALRM",
    "SIGPROF", "SIGXCPU", "SIGIO", "SIGPWR", "SIGSTKFLT", "SIGABRT", "SIGSYS",
)  # fmt: skip
# Raised by a fault in mpdoctor itself as well as sent with kill: blocking them is harmless on
# Linux (the kernel forces a real fault through), but a Python handler (the fallback) is not.
_FAULTS = ("SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGTRAP")


def _monitored(names: tuple[str, ...], realtime: bool) -> tuple[signal.Signals, ...]:
    found = [signal.SIGCHLD, *(getattr(signal, n) for n in names if hasattr(signal, n))]
    if realtime and hasattr(signal, "SIGRTMIN"):  # default action: end the process
        found += range(signal.SIGRTMIN, signal.SIGRTMAX + 1)  # type: ignore[arg-type]
    return tuple(dict.fromkeys(found))  # SIGIO and SIGPOLL are one signal


MONITORED: tuple[signal.Signals, ...] = _monitored(_ENDING + _FAULTS, realtime=True)
_MONITORED_FALLBACK = _monitored(_ENDING, realtime=False)


@dataclass(frozen=True)
class Received:
    """A signal the gate took, and who sent it."""

    signo: int
    code: int | None  # si_code; None when unknown (fallback)
    sender_pid: int | None

    @property
    def external(self) -> bool:
        """Sent by another process with kill(2) (not by the kernel or terminal)."""
        if self.code is None:
            return self.signo != signal.SIGINT
        return self.code <= 0

    @property
    def name(self) -> str:
        return signal_name(self.signo)


def signal_name(signo: int) -> str:
    try:
        return signal.Signals(signo).name
    except ValueError:
        return f"signal {signo}"


class SignalGate:
    """Holds the monitored signals blocked and hands them to the main loop."""

    def __init__(self, original_mask: set[int], reset_in_child: set[int], fallback: bool):
        self.original_mask = original_mask
        self.reset_in_child = reset_in_child  # dispositions the monitor changed from default
        self._fallback = fallback
        self._queue: queue.SimpleQueue[int] | None = None  # the fallback's, made on demand
        self._old_handlers: dict[int, object] = {}

    @classmethod
    def install(cls) -> SignalGate:
        """Block the monitored signals (main thread only, before starting any thread)."""
        fallback = not hasattr(signal, "sigtimedwait")
        reset: set[int] = set()
        # An ignored SIGCHLD makes the kernel reap children itself: their statuses would be lost.
        if signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        # Python's own SIGINT handler: reset in the child (exec resets handlers anyway).
        if callable(signal.getsignal(signal.SIGINT)):
            reset.add(int(signal.SIGINT))
        gate = cls(set(), reset, fallback)
        if fallback:
            import queue

            gate._queue = queue.SimpleQueue()
            for sig in _MONITORED_FALLBACK:  # SIGCHLD too: it wakes the loop
                if signal.getsignal(sig) != signal.SIG_IGN:
                    gate._old_handlers[sig] = signal.signal(sig, gate._on_signal)
            return gate
        old = signal.pthread_sigmask(signal.SIG_BLOCK, MONITORED)
        gate.original_mask = {int(s) for s in old}
        return gate

    def _on_signal(self, signo: int, _frame: object) -> None:
        assert self._queue is not None
        self._queue.put(signo)

    def wait(self, timeout: float) -> Received | None:
        """The next monitored signal, or None after `timeout` seconds."""
        timeout = max(0.0, timeout)
        if self._queue is not None:
            try:
                return Received(self._queue.get(timeout=timeout), None, None)
            except Exception:  # queue.Empty
                return None
        info = signal.sigtimedwait(MONITORED, timeout)
        if info is None:
            return None
        return Received(info.si_signo, info.si_code, info.si_pid)

    def restore(self) -> None:
        """Unblock and restore handlers (pending signals are then delivered)."""
        if self._fallback:
            for sig, handler in self._old_handlers.items():
                signal.signal(sig, handler)  # type: ignore[arg-type]
            return
        signal.pthread_sigmask(signal.SIG_SETMASK, self.original_mask)


def die_by_signal(signo: int) -> NoReturn:
    """End the monitor by `signo` so a shell sees what it would see without mpdoctor.

    Core dumps are switched off first: the target already dumped (or not) on its own.
    Falls back to exit status 128+N if the signal does not kill (it was stopped, or caught).
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    try:
        signal.signal(signo, signal.SIG_DFL)  # SIGKILL and SIGSTOP refuse: they need not
    except (OSError, ValueError):
        pass
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    except (OSError, ValueError):
        pass
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signo})
    os.kill(os.getpid(), signo)
    # A process-directed signal unblocked in this thread is delivered before kill returns;
    # only a signal that does not terminate (SIGSTOP, SIGCHLD...) gets here.
    os._exit(128 + signo)
