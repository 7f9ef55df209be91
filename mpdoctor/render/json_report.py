"""The JSON report: write it, load it back (for `mpdoctor report FILE`), validate it.

`load_report` checks a file against the shipped schema (mpdoctor/schema/report-v1.schema.json)
before building the Report, so a wrong file is one clear `UsageError` line, not a traceback from
inside a renderer.
"""

from __future__ import annotations

import json
import os
import re
from functools import cache
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

from mpdoctor.errors import UsageError
from mpdoctor.model import SCHEMA_VERSION, Report
from mpdoctor.render.schema_check import SchemaMismatch, check

SCHEMA_FILE = f"report-v{SCHEMA_VERSION}.schema.json"


@cache
def report_schema() -> dict[str, Any]:
    """The JSON Schema shipped in the package (draft 2020-12)."""
    text = resources.files("mpdoctor").joinpath("schema", SCHEMA_FILE).read_text("utf-8")
    return json.loads(text)


# A lone surrogate: how Python holds an argv or path byte that is not UTF-8 (surrogateescape).
_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps(report: Report) -> str:
    """The report as JSON text, readable UTF-8 but for lone surrogates (an undecodable byte in an
    argv or a path), written as their JSON escape: UTF-8 cannot encode them, and `json.loads`
    gives them back."""
    text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
    return _SURROGATE.sub(lambda m: "\\u%04x" % ord(m.group()), text)


def write_report(report: Report, path: str | PathLike[str]) -> None:
    """Write `report` as JSON (UTF-8). A regular file is replaced whole (a failure leaves the
    previous report, never a truncated one); anything else (`/dev/stdout`, a FIFO) is written
    in place."""
    text = dumps(report).encode("utf-8")
    target = Path(path)
    try:
        if _written_in_place(target):
            with open(target, "wb") as f:
                f.write(text)
            return
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_TRUNC, 0o666)
            with open(fd, "wb") as f:
                f.write(text)
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UsageError(f"cannot write report {path}: {exc.strerror or exc}") from exc


def _written_in_place(target: Path) -> bool:
    """A symlink, `/dev/stdout`, a FIFO: written through, never replaced by a new file."""
    return target.is_symlink() or (target.exists() and not target.is_file())


def check_writable(path: Path) -> None:
    """Refuse a report path `write_report` cannot write (`--report`, before the program runs),
    trying what it will do: os.access says yes to root in /proc or on a read-only mount."""
    if path.is_dir():
        raise UsageError(f"--report {path}: is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise UsageError(f"--report {path}: {parent} {what}")
    if _written_in_place(path):
        if path.exists() and not os.access(path, os.W_OK):
            raise UsageError(f"--report {path}: not writable")
        return
    trial = parent / f".{path.name}.{os.getpid()}.trial"  # as the new file beside it
    try:
        os.close(os.open(trial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(trial)
    except OSError as exc:
        raise UsageError(f"--report {path}: not writable ({exc.strerror or exc})") from None


def load_report(path: str | PathLike[str]) -> Report:
    """Read a report written by `write_report`; any problem is one-line `UsageError`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read report {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not an mpdoctor report: not UTF-8 text") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path} is not an mpdoctor report: invalid JSON at line {exc.lineno} column "
            f"{exc.colno}: {exc.msg}"
        ) from exc
    except RecursionError as exc:
        raise UsageError(f"{path} is not an mpdoctor report: JSON nested too deep") from exc
    if not isinstance(data, dict) or "schema_version" not in data:
        raise UsageError(f"{path} is not an mpdoctor report: no schema_version")
    if data["schema_version"] != SCHEMA_VERSION:
        raise UsageError(
            f"{path} has report schema_version {data['schema_version']!r}; this mpdoctor reads "
            f"version {SCHEMA_VERSION}"
        )
    try:
        check(data, report_schema())
        return Report.from_dict(data)
    except (SchemaMismatch, TypeError, ValueError) as exc:
        reason = str(exc) if len(str(exc)) <= 200 else str(exc)[:197] + "..."
        raise UsageError(f"{path} is not a valid mpdoctor report: {reason}") from exc


def validate(data: dict[str, Any]) -> None:
    """Validate report data with the jsonschema package (a test dependency): the reference
    check of the schema itself, beside `schema_check`'s runtime one."""
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(report_schema())
    jsonschema.Draft202012Validator(report_schema()).validate(data)
