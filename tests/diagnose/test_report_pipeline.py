"""Evidence -> diagnose -> build_report -> console: what a user reads after a bad run, whole.

The run: a Pool whose first worker is OOM-killed while map() waits, a Process whose target
raises, a consumer that outlives main, a semaphore leak, and a `with Pool()` exit whose SIGTERMs
are multiprocessing's own housekeeping (no finding).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from diagnose_helpers import (
    SCRIPT,
    TRACKER_CMDLINE,
    evidence,
    exception,
    kill,
    leak_warning,
    main_proc,
    pool,
    proc,
    site,
)
from rich.console import Console

from mpdoctor.diagnose import diagnose
from mpdoctor.model import Environment, Outcome
from mpdoctor.render.console import render_report
from mpdoctor.render.json_report import load_report, validate, write_report
from mpdoctor.report_builder import build_report

GOLDEN = Path(__file__).parent / "golden" / "pipeline_report.txt"
STDLIB = "/usr/lib/python3.11/multiprocessing/process.py"
LEAK = "resource_tracker: There appear to be 2 leaked semaphore objects to clean up at shutdown"


def bad_run():
    def worker(pid: int, n: int, **fields):
        return proc(
            pid,
            t=0.05,
            name=f"ForkPoolWorker-{n}",
            started_as="pool-worker",
            pool_id="100:1",
            start_method="fork",
            start_site=site(30, "main"),
            **fields,
        )

    terminate = kill(100, 103, 15, 2.9, "pool-terminate", line=34)
    return evidence(
        main_proc(exit_code=1, cpu_s=0.4213, peak_rss_bytes=30_000_000, ended_s=3.0),
        proc(
            101,
            t=0.01,
            cmdline=TRACKER_CMDLINE,
            name=None,
            started_as="resource-tracker",
            exit_code=0,
            ended_s=3.1,
        ),
        worker(102, 1, signal=9, ended_s=1.25, cpu_s=1.2, peak_rss_bytes=1_900_000_000),
        worker(103, 2, signal=15, ended_s=2.91, kills=[terminate]),
        proc(
            104,
            t=0.4,
            name="Process-1",
            started_as="process",
            start_method="fork",
            target="load",
            start_site=site(40, "main"),
            exit_code=1,
            ended_s=0.6,
            exception=exception(
                "ValueError", "bad row 7", (STDLIB, 108, "run"), (SCRIPT, 14, "load")
            ),
        ),
        proc(
            105,
            t=0.5,
            name="Process-2",
            started_as="process",
            start_method="fork",
            state="sleeping",
            alive_after_main=True,
            ended_by_mpdoctor=True,
            ended_s=5.1,
            cmdline=["/usr/bin/python3", SCRIPT, "--api-key", "k-123"],
        ),
        pools=[pool(line=30, ended_s=2.89, ended_how="terminate")],
        warnings=[leak_warning(101, LEAK, t_s=3.05)],
        cgroup_oom_kills=1,
        notes=["stacks: py-spy not allowed"],
    )


def report():
    ev = bad_run()
    return build_report(
        ev,
        Outcome(status="exited", exit_code=1, duration_s=5.1234),
        Environment(
            python="3.11.7",
            interpreter="/usr/bin/python3",
            platform="linux",
            start_method="fork",
            cpu_count=2,
        ),
        ["python3", SCRIPT, "--api-key", "k-123"],
        diagnose(ev),
        ["--keep-orphans not set: orphans were ended"],
    )


def rendered(rep) -> str:
    console = Console(
        file=io.StringIO(), width=100, force_terminal=False, color_system=None, _environ={}
    )
    render_report(rep, console)
    return console.file.getvalue()


def test_what_the_user_reads() -> None:
    text = rendered(report())
    if os.environ.get("MPDOCTOR_REGENERATE_GOLDEN") == "1":
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")
    assert "k-123" not in text  # the secret never reaches the screen


def test_the_saved_report_is_valid_and_renders_the_same(tmp_path: Path) -> None:
    rep = report()
    write_report(rep, tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    validate(data)
    assert "k-123" not in json.dumps(data)
    assert [f["id"] for f in data["findings"]] == [
        "process-crashed",
        "worker-died",
        "leaked-resource",
        "orphan-process",
    ]
    assert rendered(load_report(tmp_path / "r.json")) == rendered(rep)
