"""The JSON report: round trip, the shipped schema (checked with jsonschema and with the
runtime checker), and one-line errors for files that are not reports."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from render_fixtures import clean_report, report_with_findings
from rich.console import Console

from mpdoctor import model
from mpdoctor.errors import UsageError
from mpdoctor.render.console import render_report
from mpdoctor.render.json_report import load_report, report_schema, validate, write_report
from mpdoctor.render.schema_check import SchemaMismatch, check

REPORTS = [report_with_findings, clean_report]


@pytest.mark.parametrize("make", REPORTS)
def test_round_trip_is_exact(make, tmp_path: Path) -> None:
    report = make()
    path = tmp_path / "report.json"
    write_report(report, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert next(iter(data)) == "schema_version"
    validate(data)
    loaded = load_report(path)
    assert loaded == report
    assert loaded.to_dict() == report.to_dict()


@pytest.mark.parametrize("make", REPORTS)
def test_a_saved_report_renders_as_the_original(make, tmp_path: Path) -> None:
    def render(report) -> str:
        console = Console(file=io.StringIO(), width=100, force_terminal=False,
                          color_system=None, _environ={})  # fmt: skip
        render_report(report, console)
        return console.file.getvalue()

    write_report(make(), tmp_path / "r.json")
    assert render(load_report(tmp_path / "r.json")) == render(make())


def test_non_ascii_is_written_as_utf8(tmp_path: Path) -> None:
    report = clean_report()
    report.command = ["python", "données/tâche.py"]
    write_report(report, tmp_path / "r.json")
    assert "données/tâche.py" in (tmp_path / "r.json").read_text(encoding="utf-8")
    assert load_report(tmp_path / "r.json").command == report.command


# The schema and the model must not drift apart.

_TYPES = {
    "tool": model.Tool,
    "environment": model.Environment,
    "outcome": model.Outcome,
    "process": model.ProcessInfo,
    "thread": model.ThreadInfo,
    "wait": model.Wait,
    "frame": model.Frame,
    "location": model.Location,
    "hint": model.Hint,
    "finding": model.Finding,
}


def _required(cls: type) -> set[str]:
    return {
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }


@pytest.mark.parametrize("name", sorted(_TYPES))
def test_schema_matches_the_model(name: str) -> None:
    schema = report_schema()["$defs"][name]
    cls = _TYPES[name]
    assert set(schema["properties"]) == {f.name for f in dataclasses.fields(cls)}
    assert set(schema["required"]) == _required(cls)


def test_top_level_schema_matches_the_report() -> None:
    schema = report_schema()
    assert set(schema["properties"]) == {f.name for f in dataclasses.fields(model.Report)}
    assert set(schema["required"]) == _required(model.Report) | {"schema_version"}
    jsonschema.Draft202012Validator.check_schema(schema)
    statuses = schema["$defs"]["outcome"]["properties"]["status"]["enum"]
    assert set(statuses) == set(model.OutcomeStatus.__args__)


def test_the_schema_ships_in_the_package() -> None:
    path = Path(model.__file__).parent / "schema" / "report-v1.schema.json"
    assert json.loads(path.read_text(encoding="utf-8")) == report_schema()


# The runtime checker agrees with jsonschema.


def _verdicts(data: Any) -> tuple[bool, bool]:
    schema = report_schema()
    try:
        jsonschema.Draft202012Validator(schema).validate(data)
        reference = True
    except jsonschema.ValidationError:
        reference = False
    try:
        check(data, schema)
        ours = True
    except SchemaMismatch:
        ours = False
    return reference, ours


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, sub in value.items():
            found += _paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            found += _paths(sub, (*prefix, i))
    return found


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(-2, 2, allow_nan=False)
    | st.sampled_from(["", "error", "proven", "exited", "mpdoctor", "x-y", "Bad Id", "main"])
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=4,
)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_runtime_checker_agrees_with_jsonschema(data) -> None:
    report = data.draw(st.sampled_from(REPORTS))().to_dict()
    mutated = copy.deepcopy(report)
    path = data.draw(st.sampled_from(_paths(report)[1:]))
    parent = mutated
    for key in path[:-1]:
        parent = parent[key]
    if data.draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(_JSON)
    reference, ours = _verdicts(mutated)
    assert ours == reference, (path, mutated)


@pytest.mark.parametrize(
    ("change", "valid"),
    [
        (lambda d: d, True),
        (lambda d: d["processes"][0].update(pid=4000.0), True),  # JSON Schema: 4000.0 is integer
        (lambda d: d["processes"][0].update(pid=True), False),
        (lambda d: d.update(schema_version=1.0), True),
        (lambda d: d["findings"][0].update(severity="fatal"), False),
        (lambda d: d["findings"][0].update(id="Worker Died"), False),
        (lambda d: d["findings"][0]["hint"].update(docs=None), True),
        (lambda d: d["findings"][0].update(hint=None), True),
        (lambda d: d["findings"][0].update(hint={"fix": "x"}), False),
        (lambda d: d["processes"][0].update(wait={"kind": "join", "on": 12}), True),
        (lambda d: d["processes"][0].update(wait={"on": 12}), False),
        (lambda d: d.update(future_field={"added": "later"}), True),
        (lambda d: d["outcome"].pop("status"), False),
        (lambda d: d["outcome"].update(signal=0), False),
    ],
)
def test_agreement_on_chosen_cases(change, valid: bool) -> None:
    data = report_with_findings().to_dict()
    change(data)
    assert _verdicts(data) == (valid, valid)


# Files that are not reports: one clear line each.


def _error(path: Path) -> str:
    with pytest.raises(UsageError) as info:
        load_report(path)
    message = info.value.message
    assert "\n" not in message and str(path) in message and len(message) < 300
    return message


def test_missing_file(tmp_path: Path) -> None:
    assert "No such file or directory" in _error(tmp_path / "nope.json")


def test_a_directory(tmp_path: Path) -> None:
    assert "Is a directory" in _error(tmp_path)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"{not json", "invalid JSON at line 1 column 2"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"[1, 2]", "no schema_version"),
        (b'{"processes": []}', "no schema_version"),
        (b'{"schema_version": 2}', "schema_version 2; this mpdoctor reads version 1"),
        (b'{"schema_version": 1}', "missing 'tool'"),
        (b"[" * 100000, "nested too deep"),
    ],
)
def test_invalid_files(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    assert says in _error(path)


def test_a_wrong_value_is_located(tmp_path: Path) -> None:
    data = report_with_findings().to_dict()
    data["processes"][2]["pid"] = "4002"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    assert _error(path).endswith("processes[2].pid: expected integer, got string")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_report_path(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(UsageError, match="cannot write report"):
        write_report(clean_report(), locked / "r.json")


def test_report_path_in_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"cannot write report .*No such file or directory"):
        write_report(clean_report(), tmp_path / "missing" / "r.json")
