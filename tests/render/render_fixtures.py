"""Fixed reports for the renderer tests: written out by hand, as a saved report would hold."""

from __future__ import annotations

from mpdoctor.model import (
    Environment,
    Finding,
    Hint,
    Location,
    Outcome,
    ProcessInfo,
    Report,
    Tool,
)

T0 = 1_700_000_000.0
APP = "/home/dev/app/pipeline.py"


def _proc(pid: int, ppid: int, t: float, role: str, name: str, **fields) -> ProcessInfo:
    fields.setdefault("cmdline", ["/usr/bin/python3", APP])
    fields.setdefault("state", "exited")
    fields.setdefault("started_s", t)
    return ProcessInfo(pid=pid, ppid=ppid, create_time=T0 + t, role=role, name=name, **fields)


def report_with_findings() -> Report:
    traceback = (
        "Traceback (most recent call last):\n"
        f'  File "{APP}", line 14, in load\n'
        "    rows = parse(path)\n"
        "ValueError: bad row 7: '[red]x[/red]'"
    )
    return Report(
        tool=Tool(name="mpdoctor", version="0.1.0"),
        environment=Environment(
            python="3.11.7",
            interpreter="/usr/bin/python3",
            platform="linux",
            start_method="fork",
            cpu_count=2,
        ),
        command=["python3", APP, "--input", "data dir/rows.csv", "--token", "***"],
        outcome=Outcome(status="exited", exit_code=1, duration_s=4.213),
        processes=[
            _proc(4000, 3990, 0.0, "main", "MainProcess", exit_code=1, cpu_s=0.42,
                  peak_rss_bytes=31_457_280, ended_s=4.2),
            _proc(4001, 4000, 0.01, "resource-tracker", "python3", exit_code=0,
                  cmdline=["/usr/bin/python3", "-B", "-c",
                           "from multiprocessing.resource_tracker import main;main(3)"],
                  ended_s=4.21),
            _proc(4002, 4000, 0.05, "pool-worker", "ForkPoolWorker-1", signal=9, cpu_s=2.5,
                  peak_rss_bytes=1_932_735_283, ended_s=2.31),
            _proc(4003, 4000, 0.05, "pool-worker", "ForkPoolWorker-2", signal=15, cpu_s=1.1,
                  peak_rss_bytes=52_428_800, ended_s=4.1),
            _proc(4004, 4000, 0.3, "fork-child", "Loader-[bold]1[/bold]", exit_code=1,
                  cpu_s=0.01, ended_s=0.6),
            _proc(4005, 4000, 0.4, "fork-child", "Process-3", state="zombie", exit_code=0,
                  ended_s=0.7),
            _proc(4006, 4000, 0.5, "non-python", "sleep", state="sleeping",
                  cmdline=["sleep", "600"]),
        ],
        findings=[
            Finding(
                id="worker-died",
                severity="error",
                certainty="proven",
                title="ForkPoolWorker-1 killed by SIGKILL",
                message=(
                    f"ForkPoolWorker-1 (pid 4002), a worker of the Pool created at {APP}:31, "
                    "was killed by the OOM killer (SIGKILL). The pool was still open: "
                    "Pool.map() and AsyncResult.get() without a timeout wait forever for the "
                    "task the worker held."
                ),
                pids=[4002],
                locations=[Location(role="created", file=APP, line=31, pid=4000,
                                    function="main")],
                evidence=["exit status: signal 9 (SIGKILL) at 2.31 s, seen by parent-probe",
                          "cgroup memory.events: 1 OOM kill during the run",
                          "peak memory (VmHWM): 1.8 GiB"],
                hint=Hint(fix="Use ProcessPoolExecutor.", why="Pool.map waits forever.",
                          docs="https://docs.python.org/3/library/concurrent.futures.html#processpoolexecutor"),
            ),
            Finding(
                id="process-crashed",
                severity="error",
                certainty="proven",
                title="Loader-[bold]1[/bold] raised ValueError",
                message=(
                    "Loader-[bold]1[/bold] (pid 4004) raised ValueError: bad row 7: "
                    f"'[red]x[/red]' at {APP}:14 and exited with code 1."
                ),
                pids=[4004],
                locations=[Location(role="raised", file=APP, line=14, pid=4004),
                           Location(role="started", file=APP, line=40, pid=4000)],
                evidence=["role: fork-child", traceback],
                hint=Hint(fix="Check Process.exitcode after join().",
                          why="join() does not raise.",
                          docs="https://docs.python.org/3/library/multiprocessing.html#multiprocessing.Process.exitcode"),
            ),
            Finding(
                id="orphan-process",
                severity="warning",
                certainty="proven",
                title="sleep outlived the main process",
                message=("non-python sleep (pid 4006) was still running after the main process "
                         "exited; mpdoctor ended it."),
                pids=[4006],
                evidence=["non-python sleep (pid 4006), state sleeping, ended by mpdoctor: "
                          "sleep 600"],
                hint=Hint(fix="join() every process you start.", why="It holds stdout open.",
                          docs=None),
            ),
            Finding(
                id="zombie-process",
                severity="info",
                certainty="suspected",
                title="Process-3 stayed a zombie",
                message="Process-3 (pid 4005) stayed a zombie.",
                pids=[4005],
                hint=None,
            ),
        ],
        notes=["no /proc/PID/syscall: kernel without CONFIG_HAVE_ARCH_TRACEHOOK"],
    )  # fmt: skip


def clean_report() -> Report:
    return Report(
        tool=Tool(name="mpdoctor", version="0.1.0"),
        environment=Environment(
            python="3.13.0",
            interpreter="/root/.pyenv/versions/3.13.0/bin/python",
            platform="linux",
            start_method="spawn (forced)",
            cpu_count=2,
        ),
        command=["python", "samples/pool_map.py"],
        outcome=Outcome(status="exited", exit_code=0, duration_s=0.734),
        processes=[
            _proc(500, 499, 0.0, "main", "MainProcess", exit_code=0, cpu_s=0.09,
                  peak_rss_bytes=14_000_000, ended_s=0.73),
            _proc(501, 500, 0.02, "spawn-child", "SpawnPoolWorker-1", exit_code=0, cpu_s=0.05,
                  peak_rss_bytes=12_000_000, ended_s=0.7),
        ],
    )  # fmt: skip
