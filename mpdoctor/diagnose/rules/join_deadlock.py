"""join-deadlock: a process waits in join() for a child that cannot exit until the joiner reads
(or sends).

The classic: the child put data on a multiprocessing.Queue; its feeder thread must flush it into
the pipe before the child can exit, the pipe is full, and its only reader is the parent, which
reads only after join() returns. Proven from /proc: the joiner in wait4 for the child, the
child's thread blocked writing a pipe whose every reader is the joiner or the child, all of
them in untimed waits. The mirror case: the child's thread blocked reading a pipe the joiner
writes (a Pipe(duplex=False), or a Queue the parent fills after the join).
"""

from __future__ import annotations

from mpdoctor.diagnose.evidence import Evidence
from mpdoctor.diagnose.family import describe
from mpdoctor.diagnose.hangs import blocked, current_joins, live_process, proven_hangs
from mpdoctor.diagnose.waiting import process_lines, thread_label
from mpdoctor.diagnose.wording import human_bytes, location, where
from mpdoctor.model import Finding, Hint

RULE_ID = "join-deadlock"

HINT = Hint(
    fix=(
        "Drain the queue before joining: get() every item the child puts (or until a sentinel "
        "it sends last), then join(). cancel_join_thread() lets the child exit but drops the "
        "data still buffered."
    ),
    why=(
        "A process that put data on a Queue waits, as it exits, until its feeder thread has "
        "written it all into the pipe; a full pipe empties only when the parent reads it."
    ),
    docs="https://docs.python.org/3/library/multiprocessing.html#all-start-methods",
)


SEND_HINT = Hint(
    fix=(
        "Send what the child waits for before join(), or close the parent's end of the pipe "
        "first so that the child's recv() raises EOFError; join() last."
    ),
    why=(
        "A child blocked in recv() or get() exits only once something arrives, and nothing "
        "will while the only sender waits in join()."
    ),
    docs="https://docs.python.org/3/library/multiprocessing.html#multiprocessing.Pipe",
)


def check(evidence: Evidence) -> list[Finding]:
    snap = evidence.hang
    if snap is None:
        return []
    findings = []
    for cycle in proven_hangs(evidence).joins:
        joins = current_joins(snap, evidence)
        joiner_state = next(
            t
            for t in snap.threads[cycle.joiner]
            if t.waits_for_pid == cycle.child or joins.get((cycle.joiner, t.tid)) == cycle.child
        )
        joiner = blocked(snap, cycle.joiner, joiner_state)
        writer_state = next(t for t in snap.threads[cycle.child] if t.tid == cycle.writer_tid)
        writer = blocked(snap, cycle.child, writer_state)
        child = live_process(evidence, cycle.child)
        parent = live_process(evidence, cycle.joiner)
        child_name = describe(child, evidence) if child else f"pid {cycle.child}"
        parent_name = describe(parent, evidence) if parent else f"pid {cycle.joiner}"
        at = joiner.user_frame
        queued = f" ({human_bytes(cycle.queued)} queued, full)" if cycle.queued else ""
        waits = f"{parent_name} waits in join(){f' at {where(at)}' if at else ''} for {child_name}"
        if cycle.reads:
            message = (
                f"{waits}; {child_name} cannot exit while its {thread_label(writer)} waits to "
                f"read pipe {cycle.pipe}, which nothing but {parent_name} would write to, after "
                "the join."
            )
            title = f"join() waits for {child_name}, which waits for the joiner to send"
        else:
            message = (
                f"{waits}; {child_name} cannot exit until its {thread_label(writer)} writes "
                f"into pipe {cycle.pipe}{queued}, which only {parent_name} reads, after the join."
            )
            title = f"join() waits for {child_name}, which waits for the joiner to read"
        locations = [location("blocked", at, cycle.joiner)] if at else []
        if child is not None and child.start_site is not None:
            locations.append(location("started", child.start_site, cycle.joiner))
        findings.append(
            Finding(
                id=RULE_ID,
                severity="error",
                certainty="proven",
                title=title,
                message=message[0].upper() + message[1:],
                pids=sorted({cycle.joiner, cycle.child}),
                locations=locations,
                evidence=process_lines(snap, evidence, [cycle.joiner, cycle.child]),
                hint=SEND_HINT if cycle.reads else HINT,
            )
        )
    return findings
