"""Hide secrets in command lines and environment-like text before anything shows or saves them.

Three kinds of evidence make a value secret: its name (`--password x`, `--pass=x`, `--api-key=x`,
`GITHUB_TOKEN=x`, `password='x'`), its place (`scheme://user:PASSWORD@host`,
`Authorization: Bearer X`, a header argument such as `X-Api-Key: X` or `Cookie: X`, alone or
after `-H`/`--header`), or its own shape (GitHub, Slack, AWS, GitLab, Google, OpenAI-style,
Hugging Face, npm, Stripe keys and JWTs). Names are matched word by word, so
`TOKENIZERS_PARALLELISM=false`, `--max-tokens 100`, `--author x` and `SSH_AUTH_SOCK=/tmp/..`
stay as they are; short options (`-p`) are never guessed at, since `-p` is a port as often as a
password.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from itertools import pairwise

SECRET = "***"

_SECRET_WORDS = frozenset(
    {"password", "passwd", "passphrase", "token", "secret", "secrets", "apikey", "auth",
     "authorization", "credential", "credentials", "privatekey", "accesskey"}
)  # fmt: skip
# A word ending like this is secret too: PGPASSWORD, authToken, NPMTOKEN.
_SECRET_ENDINGS = ("token", "password", "passwd", "secret", "apikey")
# Secret only as the last word: `--pass`, DB_PASS; but `--pass-through` and `--pass-fds` are not.
_SECRET_LAST_WORDS = frozenset({"pass"})
_SECRET_PAIRS = frozenset(
    {("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key"),
     ("signing", "key"), ("encryption", "key"), ("session", "key"), ("client", "secret")}
)  # fmt: skip
# Names of this shape hold no secret: a path to one, its length, a boolean switch.
_NOT_A_VALUE = frozenset(
    {"file", "path", "dir", "name", "id", "url", "uri", "endpoint", "host", "sock", "socket",
     "length", "len", "type", "method", "mode", "env", "var", "prompt", "stdin", "command",
     "cmd", "helper", "required", "enabled", "disabled", "expiry", "expires", "ttl"}
)  # fmt: skip
_SWITCH_PREFIXES = frozenset({"no", "ask", "prompt", "skip", "without"})

_WORD_SPLIT = re.compile(r"[-_.\s]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/@:]*:)([^\s/@]+)(?=@)")
_TOKENS = re.compile(
    "|".join(
        (
            r"\bgh[pousr]_[A-Za-z0-9]{20,}",  # GitHub
            r"\bgithub_pat_[A-Za-z0-9_]{20,}",
            r"\bxox[abposr]-[A-Za-z0-9-]{10,}",  # Slack
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key ids
            r"\bglpat-[A-Za-z0-9_-]{20,}",  # GitLab
            r"\bAIza[0-9A-Za-z_-]{35}",  # Google API keys
            r"\bsk-[A-Za-z0-9_-]{20,}",  # OpenAI, Anthropic and similar
            r"\bhf_[A-Za-z0-9]{30,}",  # Hugging Face
            r"\bnpm_[A-Za-z0-9]{36}",  # npm
            r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}",  # Stripe
            r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",  # JWT
        )
    )
)
# After `Authorization: Bearer` a credential of any length; a lone `bearer` word needs a long one.
_AUTH_HEADER = re.compile(
    r"(?i)(\bauthorization:\s*(?:basic|bearer|token)\s+|\bbearer\s+(?=[A-Za-z0-9._~+/-]{8}))"
    r"([A-Za-z0-9._~+/-]+=*)"
)
# One whole argument `Name: value`, as curl -H, wget --header and httpie take a header.
_HEADER = re.compile(r"(?P<name>[A-Za-z][A-Za-z0-9_-]*):(?P<sp>[ \t]*)(?P<value>[^\r\n]*)")
# Header names that carry a credential though `is_secret_name` would not say so: Cookie,
# X-Session-Id, Ocp-Apim-Subscription-Key. Whole words: `X-Author` and `Keep-Alive` are no secret.
_HEADER_SECRET_WORDS = frozenset({"cookie", "session", "sessionid", "key"})
# The scheme of `Authorization: Bearer X` or `Digest username=..` says how, not what: kept.
_AUTH_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9-]*[ \t]+(?=\S)")
_HEADER_OPTIONS = frozenset({"-H", "--header", "--proxy-header"})
# NAME=value or NAME: value, NAME optionally quoted; the value is read after a secret NAME.
_NAME_OP = re.compile(
    r"""(?<![\w.-])(?P<q>['"]?)(?P<name>-{0,2}[A-Za-z_][A-Za-z0-9_.-]*)(?P=q)(?P<op>\s*[:=]\s*)"""
)
_VALUE = re.compile(r"""'[^']*'|"[^"]*"|(?!=)[^\s'",;&)}\]]+""")


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether an option or variable of this name holds a secret: `--db-password`, `API_KEY`."""
    words = [w for w in _WORD_SPLIT.split(_CAMEL.sub("_", name.strip("-"))) if w]
    words = [w.lower() for w in words]
    if not words or words[0] in _SWITCH_PREFIXES or words[-1] in _NOT_A_VALUE:
        return False
    if any(w in _SECRET_WORDS or w.endswith(_SECRET_ENDINGS) for w in words):
        return True
    if any(pair in _SECRET_PAIRS for pair in pairwise(words)) or words[-1] in _SECRET_LAST_WORDS:
        return True
    return "pwd" in words and len(words) > 1  # MYSQL_PWD is a password; PWD is a directory


@functools.lru_cache(maxsize=4096)
def redact_text(text: str) -> str:
    """Secrets in command-line or environment text: by shape and place (`redact_shapes`), and
    values of secret names (`NAME=secret`, `--password=x`, `"token": "x"`). Cached: a report
    redacts the same arguments of hundreds of processes (every spawned child's command line)."""
    return _redact_assignments(redact_shapes(text))


def redact_shapes(text: str) -> str:
    """Secrets recognisable wherever they appear, even in a traceback or a source line: URL
    passwords, Authorization headers, known token shapes. Nothing else changes."""
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + SECRET, text)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + SECRET, text)
    return _TOKENS.sub(SECRET, text)


def _redact_assignments(text: str) -> str:
    parts: list[str] = []
    done = 0  # text before this offset is already in parts
    for match in _NAME_OP.finditer(text):
        if match.start() < done or not is_secret_name(match.group("name")):
            continue
        value = _VALUE.match(text, match.end())
        if value is None or value.group(0).strip("'\"") in ("", SECRET):
            continue
        quote = value.group(0)[0] if value.group(0)[0] in "'\"" else ""
        if match.group("op").strip() == ":" and not (match.group("q") or quote):
            continue  # `password: see the vault` is prose; JSON and YAML values are quoted
        parts += [text[done : match.end()], f"{quote}{SECRET}{quote}"]
        done = value.end()
    parts.append(text[done:])
    return "".join(parts)


def _looks_like_option(arg: str) -> bool:
    return arg.startswith("-") and len(arg) > 1


def _redact_header(arg: str, *, after_header_option: bool) -> str | None:
    """`arg` with its value hidden if it is a header whose name says it holds a credential
    (`X-Api-Key: ***`, `Authorization: Bearer ***`), else None. Alone, an argument needs the
    space of `Name: value` to count as a header: `session:42` is a cache key as often as not."""
    match = _HEADER.fullmatch(arg)
    if match is None or not match.group("value").strip():
        return None  # `X-Api-Key:` with nothing after it removes a header in curl
    name, sp, value = match.group("name", "sp", "value")
    if not (sp or after_header_option):
        return None
    words = {w.lower() for w in _WORD_SPLIT.split(name) if w}
    if not (is_secret_name(name) or words & _HEADER_SECRET_WORDS):
        return None
    scheme = _AUTH_SCHEME.match(value) if name.lower().endswith("authorization") else None
    return f"{name}:{sp}{scheme.group(0) if scheme else ''}{SECRET}"


def _redact_header_option(arg: str) -> str | None:
    """`--header=X-Api-Key: ***` and curl's `-HX-Api-Key: ***`: options holding the header
    themselves, with its value hidden as `_redact_header` does; else None."""
    name, eq, _ = arg.partition("=")
    if eq and name in _HEADER_OPTIONS:
        prefix = name + eq
    elif arg.startswith("-H"):
        prefix = "-H"
    else:
        return None
    header = _redact_header(arg[len(prefix) :], after_header_option=True)
    return None if header is None else prefix + header


def redact_cmdline(argv: Sequence[str]) -> list[str]:
    """A copy of `argv` with secret values replaced by `***`; everything else unchanged."""
    out: list[str] = []
    value_is_secret = value_is_header = False
    for arg in argv:
        after_header_option, value_is_header = value_is_header, False
        if value_is_secret:
            value_is_secret = False
            if not _looks_like_option(arg):
                out.append(SECRET)
                continue
        if _looks_like_option(arg) and not arg.startswith("---"):
            name, eq, value = arg.partition("=")
            header = _redact_header_option(arg)
            if header is not None:
                out.append(header)
                continue
            if is_secret_name(name):
                if eq:
                    out.append(f"{name}={SECRET}" if value else arg)
                else:
                    value_is_secret = True
                    out.append(arg)
                continue
            value_is_header = arg in _HEADER_OPTIONS
        header = _redact_header(arg, after_header_option=after_header_option)
        out.append(header if header is not None else redact_text(arg))
    return out


def redact_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """Environment variables with secret values hidden (by name, or by what the value holds)."""
    return {
        name: SECRET if is_secret_name(name) and value else redact_text(value)
        for name, value in environ.items()
    }
