"""Small text helpers shared by the rules (and the renderers): sizes, sites, counts."""

from __future__ import annotations

from mpdoctor.diagnose.evidence import Site
from mpdoctor.model import Frame, Location


def human_bytes(n: int) -> str:
    """1536 -> "1.5 KiB" (binary units, as /proc reports kB of 1024 bytes)."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count} {word if count == 1 else (words or word + 's')}"


def where(site: Site | Frame | Location) -> str:
    return f"{site.file}:{site.line}"


def location(role: str, site: Site | Frame, pid: int | None) -> Location:
    return Location(role=role, file=site.file, line=site.line, pid=pid, function=site.function)


def seconds(t: float) -> str:
    return f"{t:.2f} s"
