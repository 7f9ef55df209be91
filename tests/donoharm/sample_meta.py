"""The machine-readable lines of a sample's docstring, and its `# <- finding` markers.

A sample states `Expect: <finding id>[, <id>...]` or `Expect: none`, and `Exit: <code>`,
`Exit: signal:<NAME>` or `Exit: hangs` (plain python never ends by itself: the program waits
forever, and whoever runs it must kill it). Optionally:

* `Methods: fork, spawn`: the start methods under which the expectation holds; all three when
  absent.
* `Stopped: respawn-loop`: mpdoctor stops the program after a few repetitions of a respawn
  loop (exit 124, outcome status "stopped-respawn-loop"), where plain python exits as `Exit:`
  says.
* `Stopped: deadlock`: mpdoctor stops the program itself once it proves that the wait can never
  end (exit 124, outcome status "deadlock-stopped"); such a sample says `Exit: hangs`.

A hanging sample without `Stopped:` is one mpdoctor cannot prove endless (a polling loop): it
is reported after `--hang-after`. A line that a finding must cite among its locations ends
with `# <- finding` (optionally followed by the location's role in parentheses).
"""

from __future__ import annotations

import ast
import re
import signal
from dataclasses import dataclass
from pathlib import Path

ALL_METHODS = ("fork", "spawn", "forkserver")
MARKER = re.compile(r"#\s*<- finding(?:\s*\((?P<role>[^)]*)\))?\s*$")
HANGS = "hangs"
# `Stopped:` value -> the outcome status of `mpdoctor run` (which exits 124 for both).
STOPPED_STATUS = {
    "respawn-loop": "stopped-respawn-loop",
    "deadlock": "deadlock-stopped",
}


@dataclass(frozen=True)
class SampleMeta:
    path: Path
    expect: tuple[str, ...]  # finding ids; empty for `Expect: none`
    exit_code: int | None  # as subprocess reports it (negative for a signal); None: hangs
    methods: tuple[str, ...]
    marked_lines: tuple[int, ...]  # 1-based lines carrying `# <- finding`
    stopped: str | None = None  # "respawn-loop" or "deadlock": mpdoctor stops it (exit 124)

    @property
    def correct(self) -> bool:
        return not self.expect

    @property
    def hangs(self) -> bool:
        """`Exit: hangs`: plain python never ends by itself."""
        return self.exit_code is None

    @property
    def stopped_status(self) -> str | None:
        """The outcome status of `mpdoctor run` for a `Stopped:` sample, else None."""
        return STOPPED_STATUS[self.stopped] if self.stopped else None


def _field(doc: str, name: str) -> str | None:
    match = re.search(rf"^{name}:\s*(.+?)\s*$", doc, re.MULTILINE)
    return match.group(1) if match else None


def parse_exit(text: str) -> int | None:
    """`0`, `1`, ... as is; `signal:NAME` as subprocess reports it (-N); `hangs` as None."""
    if text == HANGS:
        return None
    if text.startswith("signal:"):
        return -int(getattr(signal, text.split(":", 1)[1]))
    return int(text)


def read_sample(path: Path) -> SampleMeta:
    source = path.read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(source)) or ""
    expect_text = _field(doc, "Expect")
    exit_text = _field(doc, "Exit")
    if expect_text is None or exit_text is None:
        raise ValueError(f"{path.name}: docstring needs 'Expect:' and 'Exit:' lines")
    expect = (
        ()
        if expect_text == "none"
        else tuple(part.strip() for part in expect_text.split(",") if part.strip())
    )
    methods_text = _field(doc, "Methods")
    methods = (
        ALL_METHODS
        if methods_text is None
        else tuple(part.strip() for part in methods_text.split(","))
    )
    marked = tuple(n for n, line in enumerate(source.splitlines(), 1) if MARKER.search(line))
    stopped = _field(doc, "Stopped")
    if stopped is not None and stopped not in STOPPED_STATUS:
        raise ValueError(
            f"{path.name}: 'Stopped: {stopped}' is not one of {sorted(STOPPED_STATUS)}"
        )
    exit_code = parse_exit(exit_text)
    if exit_code is None and not expect:
        raise ValueError(f"{path.name}: a correct sample ('Expect: none') cannot hang")
    if stopped == "deadlock" and exit_code is not None:
        raise ValueError(f"{path.name}: 'Stopped: deadlock' goes with 'Exit: hangs'")
    return SampleMeta(path, expect, exit_code, methods, marked, stopped)


def all_samples(directory: Path) -> list[SampleMeta]:
    return [read_sample(p) for p in sorted(directory.glob("*.py")) if not p.name.startswith("_")]
