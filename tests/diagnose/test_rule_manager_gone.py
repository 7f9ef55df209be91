"""manager-gone on hand-built evidence: the cause it names is the one the evidence shows (the
server killed or crashed, the end of a `with` block, multiprocessing's exit handler), and a
server death it explains is not also process-crashed."""

from __future__ import annotations

from diagnose_helpers import SCRIPT, evidence, exception, kill, main_proc, proc, site

from mpdoctor.diagnose import diagnose
from mpdoctor.diagnose.evidence import ManagerEndEvidence
from mpdoctor.diagnose.rules import manager_gone, process_crashed

MANAGERS = "/usr/lib/python3.11/multiprocessing/managers.py"
CONNECTION = "/usr/lib/python3.11/multiprocessing/connection.py"


def proxy_error(type_: str, message: str, line: int, function: str = "<module>"):
    """What a call on a dead server's proxy raises: through the generated method ("<string>")
    and managers.py's _callmethod."""
    return exception(
        type_,
        message,
        (SCRIPT, line, function),
        ("<string>", 2, "__setitem__"),
        (MANAGERS, 821, "_callmethod"),
        (CONNECTION, 384, "_send"),
    )


def server(pid: int = 101, **fields):
    fields.setdefault("name", "SyncManager-1")
    fields.setdefault("started_as", "manager")
    fields.setdefault("start_method", "fork")
    fields.setdefault("start_site", site(5))
    fields.setdefault("target", "multiprocessing.managers.BaseManager._run_server")
    return proc(pid, t=0.05, **fields)


def only(ev):
    findings = manager_gone.check(ev)
    assert len(findings) == 1, findings
    return findings[0]


def killed_server_run(**fields):
    """mgrdead.py: the main process SIGKILLs the server at line 8, uses a proxy at line 10 and
    dies of the BrokenPipeError; the manager's finalizer still runs at exit (`exiting`)."""
    return evidence(
        main_proc(
            exit_code=1,
            exception=proxy_error("BrokenPipeError", "[Errno 32] Broken pipe", 10),
        ),
        server(signal=9, ended_s=0.08, kills=[kill(100, 101, 9, 0.07, "user", line=8)]),
        manager_ends=[ManagerEndEvidence(100, 101, 0.3, None, exiting=True)],
        **fields,
    )


def test_a_killed_server_is_the_cause_with_its_signal_sender_and_line() -> None:
    f = only(killed_server_run())
    assert (f.severity, f.certainty) == ("error", "proven")
    assert f.title == "a Manager proxy used after its server was killed"
    assert f.message == (
        f"The main process used a Manager proxy at {SCRIPT}:10 after the manager's server had "
        "died: BrokenPipeError: [Errno 32] Broken pipe. The server, SyncManager-1 (pid 101), was "
        f"killed by SIGKILL sent by the main process (pid 100) at {SCRIPT}:8."
    )
    assert "exit handler" not in f.message  # the program had not ended; no children
    assert [(loc.role, loc.line, loc.pid) for loc in f.locations] == [
        ("used", 10, 100),
        ("started", 5, 100),
        ("killed", 8, 100),
    ]
    assert f.pids == [100, 101]
    assert "server SyncManager-1: exit status: signal 9 (SIGKILL) at 0.08 s, seen by " in (
        " ".join(f.evidence)
    )
    assert f.hint is manager_gone.KILLED_HINT
    assert "with Manager()" not in f.hint.fix


def test_the_killed_server_is_not_also_process_crashed() -> None:
    ev = killed_server_run()
    assert process_crashed.check(ev) == []
    assert [f.id for f in diagnose(ev)] == ["manager-gone"]


def test_a_server_killed_while_no_proxy_fails_stays_process_crashed() -> None:
    ev = evidence(
        main_proc(),
        server(signal=9, ended_s=0.08, kills=[kill(100, 101, 9, 0.07, "user", line=8)]),
    )
    assert manager_gone.check(ev) == []
    assert [f.id for f in diagnose(ev)] == ["process-crashed"]


def test_the_programs_own_terminate_of_the_server_is_the_cause() -> None:
    ev = evidence(
        main_proc(exit_code=1, exception=proxy_error("BrokenPipeError", "[Errno 32] x", 10)),
        server(signal=15, ended_s=0.08, kills=[kill(100, 101, 15, 0.07, "process-terminate", 8)]),
        manager_ends=[ManagerEndEvidence(100, 101, 0.3, None, exiting=True)],
    )
    f = only(ev)
    assert "was killed by SIGTERM sent by the main process (pid 100)" in f.message
    assert "exit handler" not in f.message
    assert ("killed", 8) in [(loc.role, loc.line) for loc in f.locations]


def test_an_unsent_sigkill_points_at_the_oom_killer() -> None:
    ev = evidence(
        main_proc(exit_code=1, exception=proxy_error("BrokenPipeError", "[Errno 32] x", 10)),
        server(signal=9, ended_s=0.08),
        manager_ends=[ManagerEndEvidence(100, 101, 0.3, None, exiting=True)],
        cgroup_oom_kills=1,
    )
    f = only(ev)
    assert "The server, SyncManager-1 (pid 101), was killed by the OOM killer (SIGKILL)." in (
        f.message
    )
    assert f.hint is manager_gone.OOM_HINT
    assert process_crashed.check(ev) == []


def test_a_crashed_server_gets_the_crash_hint() -> None:
    ev = evidence(
        main_proc(exit_code=1, exception=proxy_error("EOFError", "", 10)),
        server(signal=11, ended_s=0.08),
    )
    f = only(ev)
    assert "was killed by SIGSEGV" in f.message
    assert f.hint is manager_gone.CRASHED_HINT


def test_the_exit_handler_wording_holds_when_it_shut_a_live_server_down() -> None:
    """No `with` block and no shutdown(): the main process ends, multiprocessing's exit handler
    shuts the manager down (priority 0) and only then joins the child still using a proxy."""
    child = proc(
        102,
        t=0.1,
        name="Process-2",
        started_as="process",
        start_method="fork",
        exit_code=1,
        ended_s=0.58,
        exception=proxy_error(
            "FileNotFoundError", "[Errno 2] No such file or directory", 6, "work"
        ),
    )
    ev = evidence(
        main_proc(),
        server(exit_code=0, ended_s=0.09),
        child,
        manager_ends=[ManagerEndEvidence(100, 101, 0.08, None, exiting=True)],
    )
    f = only(ev)
    assert f.certainty == "proven"
    assert f.title == "a Manager proxy used after its manager ended"
    assert f.message == (
        f"Process-2 used a Manager proxy at {SCRIPT}:6 after the manager had ended: "
        "FileNotFoundError: [Errno 2] No such file or directory. multiprocessing's exit handler "
        "shut it down as the program ended, before joining the children still using it."
    )
    assert f.pids == [102]
    assert f.hint is manager_gone.HINT


def test_the_end_of_the_with_block_is_cited() -> None:
    ev = evidence(
        main_proc(exit_code=1, exception=proxy_error("BrokenPipeError", "[Errno 32] x", 18)),
        server(exit_code=0, ended_s=0.2),
        manager_ends=[ManagerEndEvidence(100, 101, 0.15, site(15, "main"))],
    )
    f = only(ev)
    assert f.message.endswith(f"The manager was shut down at {SCRIPT}:15 (the end of its block).")
    assert [(loc.role, loc.line) for loc in f.locations] == [("used", 18), ("shut down", 15)]
    assert f.hint is manager_gone.HINT
