"""`mpdoctor run` without the CLI: run_target in a fresh process, summary to a JSON file.

    python driver.py SUMMARY.json [--timeout S] [--keep-orphans] [--python P] [--interval S]
                     (script PATH | module NAME | command) [ARGS...]

The process then exits exactly as `mpdoctor run` must: the target's code, or death by the
target's signal. Tests use it to check launching, signals, reaping and teardown end to end.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mpdoctor.collect.launcher import Target
from mpdoctor.collect.runner import RunOptions, run_target
from mpdoctor.errors import MpdoctorError


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("summary")
    parser.add_argument("--timeout", type=float)
    parser.add_argument("--keep-orphans", action="store_true")
    parser.add_argument("--python")
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--mp-log", default="off")
    parser.add_argument(
        "--portable",
        action="store_true",
        help="use the paths meant for systems without sigtimedwait and /proc (tests them here)",
    )
    parser.add_argument("kind", choices=["script", "module", "command"])
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.portable:
        import signal

        from mpdoctor.collect import sampler

        del signal.sigtimedwait
        sampler.default_reader = sampler.PsutilReader
    target = Target(args.kind, tuple(args.argv))
    options = RunOptions(
        python=args.python,
        mp_log=args.mp_log,
        timeout=args.timeout,
        keep_orphans=args.keep_orphans,
        sample_interval=args.interval,
    )
    try:
        result = run_target(target, options)
    except MpdoctorError as exc:
        print(f"mpdoctor: {exc.message}", file=sys.stderr)
        return exc.exit_code
    processes = [
        {
            **{k: v for k, v in dataclasses.asdict(p).items() if k != "key"},
            "pid": key.pid,
            "create_time": key.create_time,
        }
        for key, p in result.evidence.processes.items()
    ]
    summary = {
        "outcome": dataclasses.asdict(result.outcome),
        "main": dataclasses.asdict(result.evidence.main) if result.evidence.main else None,
        "processes": processes,
        "notes": result.notes,
        "signals": [dataclasses.asdict(s) for s in result.signals],
        "monitor_cpu_s": result.monitor_cpu_s,
        "samples_taken": result.samples_taken,
        "command": result.command,
        "interpreter": result.interpreter,
        "python_version": result.python_version,
        "cgroup_oom_kills": result.evidence.cgroup_oom_kills,
        "duration_s": result.evidence.duration_s,
    }
    Path(args.summary).write_text(json.dumps(summary, indent=1))
    return result.finish()


if __name__ == "__main__":
    sys.exit(main())
