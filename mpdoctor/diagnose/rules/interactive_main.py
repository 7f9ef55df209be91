"""interactive-main: children cannot import the main module, which has no file.

A program run with `python -c`, from stdin or in a notebook has a `__main__` without a file. A
spawn or forkserver child imports the main module again to find the functions it was sent, so
every function defined there is missing: "Can't get attribute 'f' on <module '__main__'
(built-in)>". A Process exits 1; a Pool loses each task to a dying worker and map() hangs.
"""

from __future__ import annotations

from mpdoctor.diagnose.causes import not_found_in_main
from mpdoctor.diagnose.evidence import Evidence, ProcessEvidence
from mpdoctor.diagnose.family import short_label, start_location
from mpdoctor.diagnose.tracebacks import exception_text
from mpdoctor.diagnose.wording import plural
from mpdoctor.model import Finding, Hint

RULE_ID = "interactive-main"

HINT = Hint(
    fix=(
        "Put the functions the children run in a module file and import it (from work import "
        "f), or run the program as a script file; in a notebook, keep worker functions in a "
        ".py file next to it; for python -m PACKAGE, in another module of the package."
    ),
    why=(
        "spawn and forkserver children re-import the main module to find the functions they "
        "are sent; python -c, stdin and notebooks have no main file to import, and a "
        "package's __main__ is never imported again."
    ),
    docs="https://docs.python.org/3/library/multiprocessing.html#using-a-pool-of-workers",
)


def check(evidence: Evidence) -> list[Finding]:
    children: list[tuple[ProcessEvidence, str]] = []
    for proc in evidence.processes.values():
        found = not_found_in_main(proc)
        if found is not None and not found[1]:
            children.append((proc, found[0]))
    if not children:
        return []
    first = children[0][0]
    names = sorted({n for _, n in children})
    exc = first.exception
    assert exc is not None
    main = evidence.processes.get(evidence.main) if evidence.main else None
    how = _how_run(main)
    message = (
        f"{plural(len(children), 'child', 'children')} ({short_label(first)} first) could not "
        f"find {', '.join(n + '()' for n in names)} in __main__: the program runs {how}, so a "
        f"{first.start_method or 'spawn'} child has no main module to import them from. "
        f"They raised {exception_text(exc)}."
    )
    started = start_location(first, evidence)
    return [
        Finding(
            id=RULE_ID,
            severity="error",
            certainty="proven",
            title=(
                "children never import a package's __main__"
                if how.startswith("as python -m")
                else "children cannot import a main module without a file"
            ),
            message=message,
            pids=sorted(p.key.pid for p, _ in children),
            locations=[started] if started else [],
            evidence=[
                f"{short_label(p)}: {exception_text(p.exception)}"
                for p, _ in children[:5]
                if p.exception is not None
            ],
            hint=HINT,
        )
    ]


def _how_run(main: ProcessEvidence | None) -> str:
    args = main.cmdline[1:] if main is not None else []
    if args[:1] == ["-c"]:
        return "as python -c"
    if args[:1] == ["-m"] and len(args) > 1:
        # only a package's __main__ gets here: spawn imports any other -m module again
        return f"as python -m {args[1]} (its __main__.py, which children never import)"
    if args[:1] == ["-"] or not args:
        return "from standard input"
    return "without a main file"
