"""orphaned-wait: a process waits to read from a queue or pipe that no live process can write to.

Queue.get() after the producer died: the reader itself holds the only write end left (every
process that had the Queue holds both ends), so the read never gets data nor EOF. Proven from
/proc when the reader's process is in untimed waits only. A loop that polls such a queue
(`while q.empty(): sleep`) is never provable from /proc; it is "suspected" when the tree made
no progress, the process polls an empty pipe only it holds, and a child of it has ended.
"""

from __future__ import annotations

import re

from mpdoctor.diagnose.evidence import Evidence, HangSnapshot, ProcessEvidence
from mpdoctor.diagnose.exits import death_of
from mpdoctor.diagnose.exits import describe as describe_death
from mpdoctor.diagnose.family import describe, label, parent_of
from mpdoctor.diagnose.hangs import blocked, live_process, main_thread, proven_hangs
from mpdoctor.diagnose.waiting import process_lines
from mpdoctor.diagnose.wording import location, where
from mpdoctor.model import Finding, Hint

RULE_ID = "orphaned-wait"

HINT = Hint(
    fix=(
        "Never wait without a way out: get(timeout=...) and check the producer's exitcode, or "
        "wait on both with multiprocessing.connection.wait([q._reader, p.sentinel]); have the "
        "producer put an error marker in a finally block."
    ),
    why=(
        "A Queue's reader holds a write end of its pipe too, so the pipe never reports EOF: "
        "when the producer dies, get() waits forever."
    ),
    docs="https://docs.python.org/3/library/multiprocessing.html#pipes-and-queues",
)


def check(evidence: Evidence) -> list[Finding]:
    snap = evidence.hang
    if snap is None:
        return []
    findings = []
    proven = proven_hangs(evidence)
    for orphan in proven.orphaned:
        state = next(t for t in snap.threads[orphan.pid] if t.tid == orphan.tid)
        findings.append(
            _finding(evidence, snap, orphan.pid, blocked(snap, orphan.pid, state), True)
        )
    if not proven and snap.reason != "deadlock":
        findings.extend(_polling(evidence, snap))
    return findings


def _finding(evidence, snap, pid, waiter, proven: bool) -> Finding:
    reader = live_process(evidence, pid)
    name = describe(reader, evidence) if reader else f"pid {pid}"
    at = waiter.user_frame
    dead = _ended_children(evidence, reader) if reader else []
    # The producer is not seen (an ended process's descriptors are gone): a child that died
    # abnormally is the likely one, else the last to end.
    dead = [p for p in dead if death_of(p) is not None] or dead
    how = ""
    if dead:
        death = death_of(dead[-1])
        ended = describe_death(dead[-1], death, evidence)[0] if death else "ended"
        how = f" Its producer was likely {label(dead[-1])}, which {ended}."
    verb = "waits" if proven else "keeps polling"
    message = (
        f"{name} {verb} for data{f' at {where(at)}' if at else ''} on a pipe that no live "
        f"process can write to: {name} holds the only write end left.{how}"
    )
    locations = [location("blocked", at, pid)] if at else []
    return Finding(
        id=RULE_ID,
        severity="error" if proven else "warning",
        certainty="proven" if proven else "suspected",
        title=f"{name} waits for a queue or pipe nobody can write to any more",
        message=message[0].upper() + message[1:],
        pids=[pid, *(p.key.pid for p in dead[-1:])],
        locations=locations,
        evidence=process_lines(snap, evidence, [pid]),
        hint=HINT,
    )


def _ended_children(evidence: Evidence, proc: ProcessEvidence) -> list[ProcessEvidence]:
    return [
        p
        for p in evidence.processes.values()
        if p.state in ("exited", "zombie")
        and parent_of(p, evidence) is proc
        and not p.ended_by_mpdoctor
    ]


# A line that asks a queue or connection whether data came: empty(), qsize(), poll(),
# get_nowait(), and get() with a timeout or without blocking (`get(timeout=0.1)`,
# `get(True, 1)`, `get(block=False)`, `get(False)`), the commonest retry loop.
_POLLS = re.compile(
    r"\.(?:empty\(\)|qsize\(\)|poll\(|get_nowait\(\)"
    r"|get\(\s*(?:timeout\s*=|block\s*=|(?:True|1)\s*,|False\b|0\s*[,)]))"
)


def _polling(evidence: Evidence, snap: HangSnapshot) -> list[Finding]:
    found = []
    for pid, threads in snap.threads.items():
        if any(t.waits_untimed for t in threads):
            continue
        reader = live_process(evidence, pid)
        if reader is None or not _ended_children(evidence, reader):
            continue
        lonely = [
            p
            for p in snap.pipes
            if p.queued == 0
            and not p.external  # held outside the tree too: data can still come
            and {q for q, _ in p.readers} == {pid}
            and {q for q, _ in p.writers} <= {pid}
        ]
        waiter = main_thread(snap, pid)
        if not lonely or waiter is None or waiter.user_frame is None:
            continue
        line = _polling_line(snap, waiter.user_frame)
        if line is None:
            continue
        finding = _finding(evidence, snap, pid, waiter, False)
        finding.locations = [location("blocked", line, pid)]
        found.append(finding)
    return found


def _polling_line(snap: HangSnapshot, frame):
    """The line of the polling loop around `frame` (it or one of the 3 before it) that asks
    a queue or connection whether data came."""
    from mpdoctor.model import Frame

    for number in range(frame.line, max(0, frame.line - 4), -1):
        text = snap.sources.get((frame.file, number), "")
        if _POLLS.search(text):
            return Frame(frame.file, number, frame.function)
    return None
