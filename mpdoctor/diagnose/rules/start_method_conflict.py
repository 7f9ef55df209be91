"""start-method-conflict: set_start_method() when the context was already set.

"RuntimeError: context has already been set": set_start_method() called a second time, or after
something (a Queue, a library) fixed the default context. Only the program's main process
counts: in a spawn child the same error comes from a module-level call run again at import
(missing-main-guard names that). Forcing a method with --start-method never causes it.
"""

from __future__ import annotations

from mpdoctor.diagnose.causes import died_importing_main
from mpdoctor.diagnose.evidence import Evidence
from mpdoctor.diagnose.tracebacks import user_frame
from mpdoctor.diagnose.wording import location, where
from mpdoctor.model import Finding, Hint

RULE_ID = "start-method-conflict"

HINT = Hint(
    fix=(
        "Call set_start_method() once, first thing under if __name__ == '__main__':, or use "
        "ctx = multiprocessing.get_context('spawn') and create everything from ctx."
    ),
    why=(
        "The start method is fixed by the first set_start_method() or by the first object that "
        "needs a context; a later call raises unless force=True."
    ),
    docs="https://docs.python.org/3/library/multiprocessing.html#contexts-and-start-methods",
)


def check(evidence: Evidence) -> list[Finding]:
    main = evidence.processes.get(evidence.main) if evidence.main else None
    exc = main.exception if main is not None else None
    if main is None or exc is None or died_importing_main(main):
        return []
    if not (exc.type.endswith("RuntimeError") and "context has already been set" in exc.message):
        return []
    frame = user_frame(exc.frames)
    at = f" at {where(frame)}" if frame else ""
    return [
        Finding(
            id=RULE_ID,
            severity="error",
            certainty="proven",
            title="set_start_method() called after the context was set",
            message=f"set_start_method(){at} raised RuntimeError: context has already been set.",
            pids=[main.key.pid],
            locations=[location("raised", frame, main.key.pid)] if frame else [],
            evidence=[f"{exc.type}: {exc.message}"],
            hint=HINT,
        )
    ]
