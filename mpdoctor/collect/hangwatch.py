"""The monitor's hang detector: a proven deadlock as soon as it has held for about a second,
and a stalled tree after --hang-after seconds.

On each turn of the monitor's loop (every 0.25 s at most) it reads the tree's activity from the
sampler (collect/progress.py). Once the tree has been quiet for QUIET_S it takes the /proc
part of a snapshot (no signal, a few files per thread) and compares what the blocked threads
wait on with the last turn's: when the same untimed waits have held for HOLD_S, it takes the
stacks and asks the diagnosis whether the wait is proven (diagnose/hangs.py). A busy tree costs
nothing beyond the activity reading; a quiet one a snapshot per turn.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mpdoctor.collect.hang import add_stacks, snapshot
from mpdoctor.collect.progress import Activity, ProgressWatch, event_bytes
from mpdoctor.diagnose.evidence import Evidence, HangSnapshot

QUIET_S = 0.25  # quiet this long before looking at what the threads wait on
HOLD_S = 0.6  # the same untimed waits this long before asking for a proof
TURN_S = 0.25  # the monitor's loop turns at least this often


class HangWatch:
    def __init__(
        self,
        session_path: Path,
        hang_after: float | None,
        build: Callable[[HangSnapshot], Evidence],
        on_stall: Callable[[Evidence], None] | None = None,
    ):
        self.session_path = session_path
        self.hang_after = hang_after
        self.build = build  # evidence of the run so far, with this snapshot
        self.on_stall = on_stall  # the interim report, once per stall
        self.progress = ProgressWatch()
        self._waits: frozenset = frozenset()
        self._waits_since = 0.0
        self._examined: frozenset = frozenset()  # waits already found not proven
        self.reported_stall: HangSnapshot | None = None  # the interim report's snapshot
        self.last: HangSnapshot | None = None  # the latest full snapshot (with stacks)
        self.stalls: list[tuple[float, float]] = []  # (start, length) of reported stalls

    def observe(self, now_s: float, pids: list[int], cpu_s: float) -> bool:
        """Feed one reading; True when the tree progressed."""
        activity = Activity(frozenset(pids), cpu_s, event_bytes(self.session_path / "events"))
        progressed = self.progress.observe(now_s, activity)
        if progressed:
            if self.reported_stall is not None:
                self.stalls.append((self.reported_stall.t_s, self.progress.quiet_for(now_s)))
            self.reported_stall = None
            self._waits, self._examined = frozenset(), frozenset()
        return progressed

    def turn(self, now_s: float, pids: list[int], cpu_s: float) -> Evidence | None:
        """One turn of the monitor's loop: the evidence of a proven hang, or None."""
        if self.observe(now_s, pids, cpu_s):
            return None
        quiet = self.progress.quiet_for(now_s)
        if quiet < QUIET_S:
            return None
        waits = untimed_waits(snapshot(pids, now_s, pipes=False))
        if waits != self._waits:
            self._waits, self._waits_since = waits, now_s
        elif waits and waits != self._examined and now_s - self._waits_since >= HOLD_S:
            self._examined = waits
            evidence = self.build(self.examine(pids, now_s, quiet, "deadlock"))
            from mpdoctor.diagnose.hangs import proven_hangs

            if proven_hangs(evidence):
                return evidence
        if self.hang_after is not None and quiet >= self.hang_after and not self.reported_stall:
            snap = self.examine(pids, now_s, quiet, "hang-after")
            self.reported_stall = snap
            if self.on_stall is not None:
                self.on_stall(self.build(snap))
        return None

    def examine(self, pids: list[int], now_s: float, quiet: float, reason: str) -> HangSnapshot:
        """The whole snapshot: waits, pipes and every probed process's stacks."""
        snap = snapshot(pids, now_s)
        snap.quiet_s, snap.reason = round(quiet, 1), reason
        add_stacks(snap, self.session_path)
        self.last = snap
        return snap


def untimed_waits(snap: HangSnapshot) -> frozenset:
    """What the blocked threads wait on, comparable between two snapshots."""
    return frozenset(
        (pid, t.tid, t.syscall, t.fd, t.waits_for_pid, t.futex)
        for pid, threads in snap.threads.items()
        for t in threads
        if t.waits_untimed
    )
