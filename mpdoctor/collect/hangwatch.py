"""The monitor's hang detector: a proven deadlock as soon as it has held for about a second,
and a stalled tree after --hang-after seconds.

On each turn of the monitor's loop (every 0.25 s at most) it reads the tree's activity from the
sampler (collect/progress.py). Once the tree has been quiet for QUIET_S it takes the /proc
part of a snapshot (no signal, a few files per thread) and compares what the blocked threads
wait on with the last turn's: when the same untimed waits have held for HOLD_S, it takes the
stacks and asks the diagnosis whether the wait is proven (diagnose/hangs.py). A quiet tree costs
a cheap look per turn and a full one per new set of waits; a busy one a cheap look a second and
a full one at most every BUSY_EXAMINE_S.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mpdoctor.collect.hang import add_stacks, snapshot
from mpdoctor.collect.progress import Activity, EventBytes, ProgressWatch
from mpdoctor.diagnose.evidence import Evidence, HangSnapshot

QUIET_S = 0.25  # quiet this long before looking at what the threads wait on
HOLD_S = 0.6  # the same untimed waits this long before asking for a proof
TURN_S = 0.25  # the monitor's loop turns at least this often
# Part of a busy tree can hang (two processes deadlocked while a third computes): it is looked
# at once a second, and examined at most once per BUSY_EXAMINE_S. Running processes get no
# stack signal (collect/stacks.py), so a proof that needs their stacks cannot be made.
BUSY_LOOK_S = 1.0
SETTLED_LOOK_S = 0.5  # quiet, and its waits already found unproven
BUSY_HOLD_S = 2.0
BUSY_EXAMINE_S = 10.0


class HangWatch:
    def __init__(
        self,
        session_path: Path,
        hang_after: float | None,
        build: Callable[[HangSnapshot], Evidence],
        on_stall: Callable[[Evidence], None] | None = None,
        stack_signal: int | None = None,
    ):
        self.session_path = session_path
        self.stack_signal = stack_signal
        self.hang_after = hang_after
        self.build = build  # evidence of the run so far, with this snapshot
        self.on_stall = on_stall  # the interim report, once per stall
        self.progress = ProgressWatch()
        self.event_bytes = EventBytes(session_path / "events")
        self._waits: frozenset = frozenset()
        self._waits_since = 0.0
        self._examined: frozenset = frozenset()  # the last waits found not proven
        self._look_s = self._busy_examine_s = float("-inf")
        self.reported_stall: HangSnapshot | None = None  # the interim report's snapshot

    def observe(self, now_s: float, pids: list[int], cpu_s: float) -> bool:
        """Feed one reading; True when the tree progressed."""
        activity = Activity(frozenset(pids), cpu_s, self.event_bytes.total(pids))
        progressed = self.progress.observe(now_s, activity)
        if progressed:
            self.reported_stall = None  # the next stall is reported again
        return progressed

    def turn(self, now_s: float, pids: list[int], cpu_s: float) -> Evidence | None:
        """One turn of the monitor's loop: the evidence of a proven hang, or None."""
        self.observe(now_s, pids, cpu_s)
        quiet = self.progress.quiet_for(now_s)
        busy = quiet < QUIET_S
        # a busy tree, or a quiet one whose waits were found unproven: a look every so often
        every = BUSY_LOOK_S if busy else SETTLED_LOOK_S if self._waits == self._examined else 0
        if now_s - self._look_s < every:
            return self._stall(now_s, pids, quiet)
        self._look_s = now_s
        waits = untimed_waits(snapshot(pids, now_s, pipes=False))
        if waits != self._waits:
            self._waits, self._waits_since = waits, now_s
        elif self._ripe(waits, now_s, busy):
            self._examined = waits
            if busy:
                self._busy_examine_s = now_s
            # stacks only of the processes that take part: the others are left undisturbed
            waiting = sorted({pid for pid, _tid, *_rest in waits})
            evidence = self.build(self.examine(pids, now_s, quiet, "deadlock", waiting))
            from mpdoctor.diagnose.hangs import proven_hangs

            # the waits must still be the same after the look (a wait that just ended is not
            # a deadlock)
            if (
                proven_hangs(evidence)
                and untimed_waits(snapshot(pids, now_s, pipes=False)) == waits
            ):
                return evidence
        return self._stall(now_s, pids, quiet)

    def _stall(self, now_s: float, pids: list[int], quiet: float) -> None:
        """Report the stall once, when it has lasted --hang-after seconds."""
        if self.hang_after is not None and quiet >= self.hang_after and not self.reported_stall:
            snap = self.examine(pids, now_s, quiet, "hang-after")
            self.reported_stall = snap
            if self.on_stall is not None:
                self.on_stall(self.build(snap))

    def _ripe(self, waits: frozenset, now_s: float, busy: bool) -> bool:
        """The same untimed waits held long enough, and were not examined as they are."""
        if not waits or waits == self._examined:
            return False
        if busy:
            held = now_s - self._waits_since >= BUSY_HOLD_S
            return held and now_s - self._busy_examine_s >= BUSY_EXAMINE_S
        return now_s - self._waits_since >= HOLD_S

    def examine(
        self,
        pids: list[int],
        now_s: float,
        quiet: float,
        reason: str,
        stacks_of: list[int] | None = None,
    ) -> HangSnapshot:
        """The whole snapshot: waits, pipes and the stacks of every probed process (of
        `stacks_of` only, when given)."""
        snap = snapshot(pids, now_s)
        snap.quiet_s, snap.reason = round(quiet, 1), reason
        snap.hang_after_s = self.hang_after
        snap.stack_signal = self.stack_signal
        add_stacks(snap, self.session_path, stacks_of)
        return snap


def untimed_waits(snap: HangSnapshot) -> frozenset:
    """What the blocked threads wait on, comparable between two snapshots."""
    return frozenset(
        (pid, t.tid, t.syscall, t.fd, t.waits_for_pid, t.futex)
        for pid, threads in snap.threads.items()
        for t in threads
        if t.waits_untimed
    )
