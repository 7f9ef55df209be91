"""leaked-resource from the resource tracker's own warnings (texts of 3.8-3.12 and 3.13)."""

from __future__ import annotations

from diagnose_helpers import TRACKER_CMDLINE, evidence, leak_warning, main_proc, proc

from mpdoctor.diagnose.evidence import WarningEvidence
from mpdoctor.diagnose.rules import leaked_resource

TRACKER = 101
OLD = "resource_tracker: There appear to be {n} leaked {kind} objects to clean up at shutdown"


def tracker():
    return proc(TRACKER, t=0.1, cmdline=TRACKER_CMDLINE, exit_code=1, started_as="resource-tracker")


def run(*warnings: WarningEvidence):
    return leaked_resource.check(evidence(main_proc(), tracker(), warnings=list(warnings)))


def test_semaphore_leak_as_3_8_to_3_12_word_it() -> None:
    [f] = run(leak_warning(TRACKER, OLD.format(n=3, kind="semaphore")))
    assert (f.id, f.severity, f.certainty) == ("leaked-resource", "warning", "proven")
    assert f.title == "3 semaphores leaked"
    assert f.message == (
        "The resource tracker (pid 101) found 3 semaphores still registered at shutdown: the "
        "processes that created them never unlinked them, so the tracker did."
    )
    assert f.pids == [TRACKER]
    assert f.evidence == ["semaphore: 3 leaked"]
    # semaphores come from locks and queues: the shared-memory advice would be beside the point
    assert f.hint.docs.endswith("multiprocessing.html#programming-guidelines")
    assert "SharedMemory" not in f.hint.fix


def test_3_13_lists_the_names() -> None:
    message = OLD.format(n=2, kind="shared_memory") + ": {'/psm_b2', '/psm_a1'}"
    [f] = run(leak_warning(TRACKER, message))
    assert f.title == "2 shared memory segments leaked"
    assert f.evidence == ["shared_memory: 2 leaked (/psm_a1, /psm_b2)"]
    assert "SharedMemory.unlink" in f.hint.docs


def test_one_tracker_several_kinds_one_finding() -> None:
    [f] = run(
        leak_warning(TRACKER, OLD.format(n=1, kind="semaphore")),
        leak_warning(TRACKER, OLD.format(n=1, kind="shared_memory")),
        leak_warning(TRACKER, "resource_tracker: '/psm_a1': [Errno 2] No such file or directory"),
    )
    assert f.title == "1 semaphore and 1 shared memory segment leaked"
    assert "clean-up of '/psm_a1' failed: [Errno 2] No such file or directory" in f.evidence
    assert "already gone" in f.message


def test_many_names_are_shortened() -> None:
    names = "{" + ", ".join(f"'/mp-{i:02d}'" for i in range(14)) + "}"
    [f] = run(leak_warning(TRACKER, OLD.format(n=14, kind="semaphore") + ": " + names))
    assert f.evidence[0].endswith("/mp-09 and 4 more)")


def test_a_dead_tracker_is_suspected() -> None:
    died = "resource_tracker: process died unexpectedly, relaunching.  Some resources might leak."
    [f] = run(leak_warning(100, died))
    assert (f.certainty, f.title, f.pids) == ("suspected", "resource tracker died", [100])
    assert f.message.startswith("The main process (pid 100) found its resource tracker dead")


def test_other_warnings_are_not_leaks() -> None:
    assert run() == []
    assert run(leak_warning(100, "unclosed running multiprocessing pool")) == []
    # A clean-up failure alone is no leak report.
    assert run(leak_warning(TRACKER, "resource_tracker: '/mp-x': [Errno 2] gone")) == []


def test_the_leak_cites_the_lines_that_created_what_stayed_registered() -> None:
    from mpdoctor.diagnose.evidence import ResourceEvidence, Site

    made = Site("app.py", 12, "main")
    cleaned = Site("app.py", 20, "main")
    other_kind = Site("app.py", 30, "main")
    resources = [
        ResourceEvidence(100, "/psm_a", "shared_memory", 0.5, made),
        ResourceEvidence(100, "/psm_b", "shared_memory", 0.6, made),  # same line: cited once
        ResourceEvidence(100, "/psm_c", "shared_memory", 0.7, cleaned, unregistered_s=1.0),
        ResourceEvidence(100, "/mp-x", "semaphore", 0.8, other_kind),
    ]
    warning = leak_warning(TRACKER, OLD.format(n=2, kind="shared_memory"))
    found = evidence(main_proc(), tracker(), warnings=[warning], resources=resources)
    [f] = leaked_resource.check(found)
    assert [(loc.role, loc.file, loc.line, loc.pid) for loc in f.locations] == [
        ("created", "app.py", 12, 100)
    ]
