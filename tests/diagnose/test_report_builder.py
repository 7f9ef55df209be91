"""build_report: the tree order, roles, redaction, rounding and notes of the saved report."""

from __future__ import annotations

from diagnose_helpers import MAIN_CMDLINE, SPAWN_CMDLINE, TRACKER_CMDLINE, evidence, main_proc, proc

from mpdoctor import __version__
from mpdoctor.diagnose.evidence import Evidence
from mpdoctor.model import Environment, Finding, Outcome
from mpdoctor.report_builder import build_report

ENV = Environment(
    python="3.11.7",
    interpreter="/usr/bin/python3",
    platform="linux",
    start_method="spawn",
    cpu_count=2,
)


def build(ev: Evidence, findings=(), notes=(), command=("python3", "app.py")):
    outcome = Outcome(status="exited", exit_code=0, duration_s=3.14159)
    return build_report(ev, outcome, ENV, list(command), list(findings), list(notes))


def test_processes_come_as_a_tree_parents_first_siblings_by_start() -> None:
    ev = evidence(
        proc(103, 101, t=0.9, cmdline=SPAWN_CMDLINE, name="SpawnProcess-1:1"),  # grandchild
        proc(102, t=0.5, cmdline=SPAWN_CMDLINE, name="SpawnProcess-2"),
        proc(101, t=0.2, cmdline=SPAWN_CMDLINE, name="SpawnProcess-1"),
        proc(
            104,
            1,
            t=0.3,
            cmdline=["sleep", "9"],
            exe="/bin/sleep",
            probed=False,
            python=None,
            state="sleeping",
        ),  # reparented to init: a root after main
        proc(105, t=0.1, cmdline=TRACKER_CMDLINE),
        main_proc(),
    )
    report = build(ev)
    assert [(p.pid, p.role) for p in report.processes] == [
        (100, "main"),
        (105, "resource-tracker"),
        (101, "spawn-child"),
        (103, "spawn-child"),
        (102, "spawn-child"),
        (104, "non-python"),
    ]
    assert [p.name for p in report.processes][-2:] == ["SpawnProcess-2", "sleep"]
    assert report.processes[1].name == "python3"  # no multiprocessing name: the program's


def test_a_reused_pid_keeps_each_process_under_its_own_parent() -> None:
    ev = evidence(
        main_proc(),
        proc(101, t=0.1, name="Process-1", exit_code=0, ended_s=0.2),
        proc(101, t=1.0, name="Process-5", state="sleeping"),
        proc(102, 101, t=1.5, name="Process-5:1", state="sleeping"),
    )
    order = [(p.pid, p.name) for p in build(ev).processes]
    assert order == [
        (100, "MainProcess"),
        (101, "Process-1"),
        (101, "Process-5"),
        (102, "Process-5:1"),
    ]


def test_command_lines_and_findings_are_redacted() -> None:
    ev = evidence(main_proc(cmdline=[*MAIN_CMDLINE, "--token", "t0ps3cret"]))
    finding = Finding(
        id="process-crashed",
        severity="error",
        certainty="proven",
        title="t",
        message="ConnectionError: https://u:pw@db failed",
        evidence=["url=https://u:pw@db", "KeyError: login failed with password=hunter2"],
    )
    report = build(ev, [finding], command=("python3", "app.py", "--password=x"))
    assert report.command == ["python3", "app.py", "--password=***"]
    assert report.processes[0].cmdline == [*MAIN_CMDLINE, "--token", "***"]
    assert report.findings[0].message == "ConnectionError: https://u:***@db failed"
    assert report.findings[0].evidence == [
        "url=https://u:***@db",
        "KeyError: login failed with password=***",  # a traceback quoting an assignment
    ]
    assert finding.message == "ConnectionError: https://u:pw@db failed"  # the input is unchanged


def test_times_are_rounded_and_signals_spelled_once() -> None:
    ev = evidence(
        main_proc(cpu_s=0.123456, started_s=0.0001234, ended_s=3.0004999),
        proc(101, t=0.25, exit_code=-9, ended_s=1.23456789),
    )
    report = build(ev)
    main, child = report.processes
    assert (main.cpu_s, main.started_s, main.ended_s) == (0.12, 0.0, 3.0)
    assert report.outcome.duration_s == 3.142
    assert (child.exit_code, child.signal, child.ended_s) == (None, 9, 1.235)
    assert report.tool.version == __version__


def test_notes_of_the_collectors_and_the_cli_once_each() -> None:
    ev = evidence(main_proc(), notes=["no /proc", "probe disabled by -I"])
    report = build(ev, notes=["probe disabled by -I", "--keep-orphans"])
    assert report.notes == ["no /proc", "probe disabled by -I", "--keep-orphans"]


def test_empty_evidence() -> None:
    report = build(Evidence(main=None, processes={}))
    assert report.processes == [] and report.findings == []


def test_the_platform_is_platform_platform_without_its_subprocess() -> None:
    import platform

    from mpdoctor.model import platform_text

    assert platform_text() == platform.platform()
