"""Stacks for `mpdoctor inspect`, by the best means available, and why some have none.

The probe's faulthandler for the processes of a `mpdoctor run` session that registered it
(`collect/stacks.py` decides who may be signalled), py-spy (read-only, `--nonblocking`) for the
other Python processes when it is installed and ptrace allows it, else none, with the reason and
the fix. The program's source lines around each stack's innermost own frame are kept for the
rules (a polling loop's condition).
"""

from __future__ import annotations

from pathlib import Path

from mpdoctor.collect.events import ProcessEvents
from mpdoctor.collect.hang import add_stacks, sources_of
from mpdoctor.collect.sampler import ProcessSample
from mpdoctor.diagnose.evidence import HangSnapshot, ProcessKey


def take_stacks(
    snap: HangSnapshot,
    session: Path | None,
    streams: list[ProcessEvents],
    samples: dict[ProcessKey, ProcessSample],
) -> tuple[str, str | None]:
    """Stacks into `snap`: the probe's for the processes that registered it, py-spy's for the
    other Python processes. Returns the means used (probe | py-spy | probe+py-spy | none) and,
    when some got none, why."""
    from mpdoctor.collect import pyspy

    used = []
    if session is not None and streams:
        probed = [s.pid for s in streams if s.pid in snap.threads]
        add_stacks(snap, session, only=probed, events=streams)
        if snap.stacks:
            used.append("probe")
    by_pid = {key.pid: sample for key, sample in samples.items()}
    wanted = [
        pid
        for pid in snap.threads
        if pid not in snap.stacks and pid in by_pid and _looks_python(by_pid[pid])
    ]
    reasons: list[str] = []
    if wanted:
        exe = pyspy.executable()
        if exe is None:
            why = (
                "py-spy is not installed (pip install 'mpdoctor[stacks]')"
                if session is None
                else "not probed, and py-spy is not installed"
            )
            for pid in wanted:
                snap.stacks_skipped.setdefault(pid, why)
            reasons.append(why)
        else:
            result = pyspy.dump(wanted, exe)
            for pid, threads in result.stacks.items():
                snap.stacks[pid] = threads
                snap.stacks_skipped.pop(pid, None)
            for pid, why in result.skipped.items():
                snap.stacks_skipped[pid] = why
            if result.stacks:
                used.append("py-spy")
            if result.skipped:
                reasons.append(sorted(set(result.skipped.values()))[0])
    snap.sources = sources_of(snap)  # py-spy's stacks too
    for pid in snap.threads:
        if pid not in snap.stacks and pid not in snap.stacks_skipped:
            snap.stacks_skipped[pid] = "not a Python process"
    means = "+".join(used) or "none"
    note = None
    if reasons:
        note = ("no stacks: " if not used else "some processes have no stack: ") + reasons[0]
    return means, note


def _looks_python(sample: ProcessSample) -> bool:
    from mpdoctor.diagnose.roles import runs_python

    return runs_python(sample.exe, sample.cmdline[0] if sample.cmdline else None, sample.name)
