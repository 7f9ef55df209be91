"""The report model: what mpdoctor found, as plain dataclasses.

This is the JSON report of DESIGN.md (schema_version 1) in Python form. Collectors fill it,
rules add findings to it, renderers read it; `to_dict` / `from_dict` make the JSON round trip
exact so `mpdoctor report saved.json` renders what `mpdoctor run` rendered.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

SCHEMA_VERSION = 1

Severity = Literal["error", "warning", "info"]
Certainty = Literal["proven", "suspected"]
OutcomeStatus = Literal[
    "exited",
    "signaled",
    "timeout",
    "deadlock-stopped",
    "stopped-respawn-loop",
    "interrupted",
    "not-started",
    "running",  # a report made while the program still runs (no-progress)
]


@dataclass
class Frame:
    """One frame of a stack: innermost first wherever a list of them is kept."""

    file: str
    line: int
    function: str


@dataclass
class Wait:
    """What a thread is blocked on, as /proc or the stacks show it."""

    kind: str  # join | pipe-read | pipe-write | futex | poll | sleep | ...
    on: int | str | None = None  # a pid or a resource name
    since_s: float | None = None
    timed: bool = False


@dataclass
class ThreadInfo:
    """One thread of a process: its wait and its stack, when known."""

    ident: int | None = None
    native_id: int | None = None
    name: str | None = None
    wait: Wait | None = None
    stack: list[Frame] = field(default_factory=list)


@dataclass
class ProcessInfo:
    """One process of the report's tree: identity, role, how it ended, its figures."""

    pid: int
    ppid: int | None
    create_time: float
    role: str
    name: str
    cmdline: list[str]  # already redacted
    state: str  # running | sleeping | stopped | zombie | exited | unknown
    exit_code: int | None = None
    signal: int | None = None
    cpu_s: float | None = None
    peak_rss_bytes: int | None = None
    threads: list[ThreadInfo] = field(default_factory=list)
    started_s: float | None = None  # seconds since the run started
    ended_s: float | None = None
    wait: Wait | None = None
    probed: bool = False  # the probe registered in this process
    python: str | None = None  # interpreter version, when the probe ran
    # `mpdoctor inspect` only (a live tree): CPU% of one core over the inspection's interval,
    # resident memory now, threads now, seconds since the process started
    cpu_percent: float | None = None
    rss_bytes: int | None = None
    num_threads: int | None = None
    age_s: float | None = None


@dataclass
class Location:
    """A place in the user's code that a finding points at, and what happened there."""

    role: str  # defined | sent | blocked | started | raised | created | ...
    file: str
    line: int
    pid: int | None = None
    function: str | None = None


@dataclass
class Hint:
    """What to change, and why."""

    fix: str
    why: str
    docs: str | None = None


@dataclass
class Finding:
    """One diagnosis: id, severity, certainty, the processes and lines, the fix."""

    id: str
    severity: Severity
    certainty: Certainty
    title: str
    message: str
    pids: list[int] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    hint: Hint | None = None


@dataclass
class Outcome:
    """How the run ended: the program's status, or mpdoctor stopping it."""

    status: OutcomeStatus
    exit_code: int | None = None
    signal: int | None = None
    whose: Literal["target", "mpdoctor"] = "target"
    duration_s: float = 0.0


@dataclass
class Environment:
    """The report header: interpreter, platform, start method."""

    python: str | None  # version of the target interpreter, e.g. "3.11.7"
    interpreter: str | None  # path of the target interpreter
    platform: str
    start_method: str | None  # "fork", "spawn (forced)", ...
    cpu_count: int | None

    @classmethod
    def here(
        cls, python: str | None, interpreter: str | None, start_method: str | None
    ) -> Environment:
        """The target's interpreter on this machine (`run` and `inspect` alike)."""
        import os

        try:
            cpus: int | None = len(os.sched_getaffinity(0))  # the cores this process may use
        except (AttributeError, OSError):
            cpus = os.cpu_count()
        return cls(python, interpreter, platform_text(), start_method, cpus)


def platform_text() -> str:
    """platform.platform(), without running `uname -p` on Linux: its processor field (blank
    there anyway) costs a subprocess, 8 ms of mpdoctor's fixed cost."""
    import platform

    if platform.system() != "Linux":
        return platform.platform()
    libc, version = platform.libc_ver()
    parts = [platform.system(), platform.release(), platform.machine(), "with", libc + version]
    text = "-".join(part.strip() for part in parts if part.strip())
    for char in ' /\\:;"()':  # as platform.platform() cleans it
        text = text.replace(char, "_" if char == " " else "-")
    text = text.replace("unknown", "")
    while "--" in text:
        text = text.replace("--", "-")
    return text.rstrip("-")


@dataclass(frozen=True)
class LiveFigures:
    """`mpdoctor inspect`: what a live process looks like now."""

    cpu_percent: float | None  # over the interval, of one core
    rss_bytes: int | None
    num_threads: int | None
    age_s: float | None


@dataclass
class Tool:
    """The program that wrote the report."""

    name: str = "mpdoctor"
    version: str = ""


@dataclass
class Report:
    """The whole report (JSON schema v1): what every renderer reads."""

    tool: Tool
    environment: Environment
    command: list[str]
    outcome: Outcome
    processes: list[ProcessInfo] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what mpdoctor could not do, and why
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        # schema_version first: readers check it before anything else.
        return {"schema_version": data.pop("schema_version"), **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        return _build(cls, data)


# The nested types of each dataclass field, for the JSON round trip.
_NESTED: dict[tuple[type, str], tuple[type, bool]] = {
    (Report, "tool"): (Tool, False),
    (Report, "environment"): (Environment, False),
    (Report, "outcome"): (Outcome, False),
    (Report, "processes"): (ProcessInfo, True),
    (Report, "findings"): (Finding, True),
    (ProcessInfo, "threads"): (ThreadInfo, True),
    (ProcessInfo, "wait"): (Wait, False),
    (ThreadInfo, "wait"): (Wait, False),
    (ThreadInfo, "stack"): (Frame, True),
    (Finding, "locations"): (Location, True),
    (Finding, "hint"): (Hint, False),
}


def _build(cls: type, data: dict[str, Any]) -> Any:
    """Build dataclass `cls` from a dict; unknown keys are ignored (newer reports add fields)."""
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        nested = _NESTED.get((cls, f.name))
        if nested is not None and value is not None:
            sub, is_list = nested
            value = [_build(sub, item) for item in value] if is_list else _build(sub, value)
        kwargs[f.name] = value
    return cls(**kwargs)
