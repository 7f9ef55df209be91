"""The monitor side: launch the target, watch its tree, and turn what was seen into Evidence.

Entry point: `runner.run_target(Target, RunOptions) -> RunResult`. One job per module:

* launcher: what to run (Target), the interpreter, argv, posix_spawn
* session: the private session dir and the target's environment (probe on PYTHONPATH)
* signals: blocked signals taken with sigtimedwait; forwarding rules; dying by a signal
* subreaper: PR_SET_CHILD_SUBREAPER, so orphans stay the monitor's children
* reaper: waiting for the target and reaping orphans, never with waitpid(-1)
* procfs / identity: cheap /proc readers; (pid, create_time) keys exactly as psutil makes them
* sampler (+ dirwatch): the sampling thread, woken by inotify when the probe registers a process
* teardown: freeze-then-end what outlives main (or everything, on timeout), bounded
* cgroup: the OOM-kill counter; events: the probe's JSONL files
* evidence_builder: probe events + samples -> diagnose.evidence.Evidence (pure)

Kept empty of imports: every module here is imported on the path to starting the target.
"""
