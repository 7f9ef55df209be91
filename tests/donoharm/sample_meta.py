"""The machine-readable lines of a sample's docstring, and its `# <- finding` markers.

A sample states `Expect: <finding id>[, <id>...]` or `Expect: none`, `Exit: <code>` or
`Exit: signal:<NAME>`, and optionally `Methods: fork, spawn` (the start methods under which the
expectation holds; all three when absent) and `Stopped: respawn-loop` (mpdoctor stops the
program: exit 124 with that outcome, where plain python exits as `Exit:` says). A line that a
finding must cite among its locations ends with `# <- finding` (optionally followed by the
location's role in parentheses).
"""

from __future__ import annotations

import ast
import re
import signal
from dataclasses import dataclass
from pathlib import Path

ALL_METHODS = ("fork", "spawn", "forkserver")
MARKER = re.compile(r"#\s*<- finding(?:\s*\((?P<role>[^)]*)\))?\s*$")


@dataclass(frozen=True)
class SampleMeta:
    path: Path
    expect: tuple[str, ...]  # finding ids; empty for `Expect: none`
    exit_code: int  # as subprocess reports it: negative for a signal
    methods: tuple[str, ...]
    marked_lines: tuple[int, ...]  # 1-based lines carrying `# <- finding`
    stopped: str | None = None  # "respawn-loop": mpdoctor stops it (exit 124)

    @property
    def correct(self) -> bool:
        return not self.expect


def _field(doc: str, name: str) -> str | None:
    match = re.search(rf"^{name}:\s*(.+?)\s*$", doc, re.MULTILINE)
    return match.group(1) if match else None


def parse_exit(text: str) -> int:
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
    return SampleMeta(path, expect, parse_exit(exit_text), methods, marked, stopped)


def all_samples(directory: Path) -> list[SampleMeta]:
    return [read_sample(p) for p in sorted(directory.glob("*.py")) if not p.name.startswith("_")]
