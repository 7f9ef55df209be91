"""The probe's event files: torn lines, unknown kinds and keys, wrong types are skipped."""

from __future__ import annotations

import json

from mpdoctor.collect.events import (
    ChildExitEvent,
    ExceptionEvent,
    KillEvent,
    StartEvent,
    parse_file_name,
    parse_line,
    read_events,
)


def line(**fields) -> str:
    return json.dumps(fields) + "\n"


def test_file_names_give_pid_and_ticks():
    assert parse_file_name("123-4567.jsonl") == (123, 4567)
    assert parse_file_name("123-xab12cd.jsonl") == (123, None)  # off Linux: no ticks
    assert parse_file_name("notes.txt") is None
    assert parse_file_name("abc-1.jsonl") is None


def test_a_torn_last_line_is_ignored(tmp_path):
    events = tmp_path / "events"
    events.mkdir()
    good = line(
        e="start",
        t=1.0,
        pid=10,
        ppid=1,
        ticks=5,
        argv=["a.py"],
        exe="/py",
        py="3.11.7",
        forked=False,
    )
    torn = line(e="child-exit", t=2.0, pid=10, child=11, exitcode=-9)[:25]
    (events / "10-5.jsonl").write_text(good + torn)
    (streams,) = read_events(events)
    assert (streams.pid, streams.ticks) == (10, 5)
    assert [type(e) for e in streams.events] == [StartEvent]
    assert streams.events[0].argv == ["a.py"] and streams.events[0].py == "3.11.7"


def test_unknown_kinds_keys_and_bad_values_are_skipped(tmp_path):
    events = tmp_path / "events"
    events.mkdir()
    text = "".join(
        [
            line(e="future-kind", t=1.0, pid=10, anything=1),
            line(e="child-exit", t=1.1, pid=10, child=11, exitcode=-9, name="W-1", extra={"x": 1}),
            line(e="child-exit", t=1.2, pid=10, child="eleven", exitcode=1),  # wrong type
            line(
                e="kill",
                t=1.3,
                pid=10,
                target=11,
                sig=15,
                via="pool-terminate",
                site={"file": "a.py", "line": 3, "function": "main"},
            ),
            "[1, 2, 3]\n",
            "not json at all\n",
            "\n",
            line(e="kill", t=1.4, pid=10, target=0, sig=2, group=True, site="bogus"),
        ]
    )
    (events / "10-5.jsonl").write_text(text)
    (stream,) = read_events(events)
    kinds = [type(e) for e in stream.events]
    assert kinds == [ChildExitEvent, KillEvent, KillEvent]
    assert stream.events[0].exitcode == -9
    assert stream.events[1].site.file == "a.py" and stream.events[1].via == "pool-terminate"
    assert stream.events[2].group and stream.events[2].site is None


def test_exception_type_is_written_as_python_prints_it():
    def exc(module):
        ev = parse_line(
            json.dumps(
                {
                    "e": "exception",
                    "t": 1,
                    "pid": 3,
                    "type": "MyError",
                    "module": module,
                    "message": "m",
                    "traceback": "T",
                    "frames": [{"file": "a.py", "line": 2, "function": "f"}, {"file": 1}],
                }
            ),
            3,
        )
        assert isinstance(ev, ExceptionEvent)
        return ev

    assert exc("builtins").type == "MyError"
    assert exc("__main__").type == "MyError"
    assert exc("pkg.errors").type == "pkg.errors.MyError"
    assert [f.line for f in exc(None).frames] == [2]  # the malformed frame is dropped


def test_pid_defaults_to_the_file_s_and_a_missing_dir_reads_as_nothing(tmp_path):
    ev = parse_line(json.dumps({"e": "child-exit", "t": 1, "child": 4, "exitcode": 0}), 77)
    assert ev is not None and ev.pid == 77
    assert read_events(tmp_path / "missing") == []
