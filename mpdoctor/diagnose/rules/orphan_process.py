"""orphan-process: processes of the tree still alive after the main process had exited.

The monitor already gave multiprocessing's helpers (resource tracker, fork server) their grace
period, so whatever is still alive here outlived the program: it holds the terminal or the CI
log's pipe open, and keeps running with nobody to wait for it. One finding lists them all.
"""

from __future__ import annotations

from mpdoctor.diagnose.evidence import Evidence, ProcessEvidence
from mpdoctor.diagnose.family import label, parent_of, short_label
from mpdoctor.diagnose.roles import classify
from mpdoctor.diagnose.wording import location, plural
from mpdoctor.model import Finding, Hint
from mpdoctor.redact import redact_cmdline

RULE_ID = "orphan-process"

HINT = Hint(
    fix=(
        "join() every process you start before the main process returns (or make helpers "
        "daemon=True); close() and join() pools; a long-lived child can poll "
        "multiprocessing.parent_process().is_alive() and exit with its parent."
    ),
    why=(
        "A child nobody joins keeps running after the program ends, holding its stdout open, "
        "so a shell's $(...) or a CI step waits for it."
    ),
    docs="https://docs.python.org/3/library/multiprocessing.html#multiprocessing.Process.daemon",
)

_CMDLINE_CHARS = 160


def check(evidence: Evidence) -> list[Finding]:
    orphans = sorted(
        (p for p in evidence.processes.values() if p.alive_after_main and p.key != evidence.main),
        key=lambda p: (p.key.create_time, p.key.pid),
    )
    if not orphans:
        return []
    lines = [_line(proc, evidence) for proc in orphans]
    ended = [p for p in orphans if p.ended_by_mpdoctor]
    if len(ended) == len(orphans):
        fate = "mpdoctor ended " + ("it" if len(orphans) == 1 else "them")
    elif ended:
        fate = f"mpdoctor ended {len(ended)} of them"
    else:
        fate = "they were left running" if len(orphans) > 1 else "it was left running"
    first = orphans[0]
    if len(orphans) == 1:
        subject = f"{classify(first, evidence)} {label(first)}"
        message = f"{subject} was still running after the main process exited; {fate}."
        title = f"{short_label(first)} outlived the main process"
    else:
        message = (
            f"{plural(len(orphans), 'process', 'processes')} were still running after the main "
            f"process exited ({', '.join(label(p) for p in orphans[:5])}"
            f"{', ...' if len(orphans) > 5 else ''}); {fate}."
        )
        title = f"{plural(len(orphans), 'process', 'processes')} outlived the main process"
    locations = []
    for proc in orphans:
        if proc.start_site is not None:
            parent = parent_of(proc, evidence)
            loc = location("started", proc.start_site, parent.key.pid if parent else None)
            if all((loc.file, loc.line) != (o.file, o.line) for o in locations):
                locations.append(loc)
    return [
        Finding(
            id=RULE_ID,
            severity="warning",
            certainty="proven",
            title=title,
            message=message,
            pids=[p.key.pid for p in orphans],
            locations=locations,
            evidence=lines,
            hint=HINT,
        )
    ]


def _line(proc: ProcessEvidence, evidence: Evidence) -> str:
    cmdline = " ".join(redact_cmdline(proc.cmdline)) or "?"
    if len(cmdline) > _CMDLINE_CHARS:
        cmdline = cmdline[: _CMDLINE_CHARS - 3] + "..."
    fate = "ended by mpdoctor" if proc.ended_by_mpdoctor else f"left running ({proc.state})"
    return f"{classify(proc, evidence)} {label(proc)}, {fate}: {cmdline}"
