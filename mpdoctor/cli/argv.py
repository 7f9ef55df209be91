"""Split `mpdoctor run` arguments into mpdoctor's options and the target's command line.

click cannot tell `run -- cmd` from `run cmd`, and would read `run -m mod --report x` as
mpdoctor's `--report`. Python's own rule is simpler: everything after the script, the `-m`
module or `--` belongs to the program. This pre-pass applies that rule and inserts a `--` so
click treats the rest as plain arguments.
"""

from __future__ import annotations

from collections.abc import Iterable

COMMAND_FLAG = "--exec-command"  # hidden flag: the target is `-- COMMAND [ARGS]...`


def split_run_argv(argv: list[str], options_with_values: Iterable[str]) -> list[str]:
    """Return `argv` (starting after `run`) rewritten so click sees `[opts] -- target...`."""
    takes_value = set(options_with_values)
    out: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            return [*out, COMMAND_FLAG, "--", *argv[i + 1 :]]
        if token in ("-m", "--module"):
            if i + 1 >= len(argv):
                return [*out, token]  # click reports the missing value
            return [*out, token, argv[i + 1], "--", *argv[i + 2 :]]
        if token.startswith("-m") and not token.startswith("--"):
            return [*out, "-m", token[2:], "--", *argv[i + 1 :]]  # -mMODULE, as python allows
        if token.startswith("--module="):
            return [*out, "-m", token.split("=", 1)[1], "--", *argv[i + 1 :]]
        if not token.startswith("-") or token == "-":
            return [*out, "--", *argv[i:]]  # the script (or `-`: stdin); the rest is its argv
        out.append(token)
        if token in takes_value:  # `--report PATH`: PATH is not the script
            if i + 1 < len(argv):
                out.append(argv[i + 1])
            i += 2
            continue
        i += 1
    return out
