"""Secrets out of command lines and environment-like text; normal arguments untouched."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mpdoctor.redact import (
    SECRET,
    is_secret_name,
    redact_cmdline,
    redact_environ,
    redact_shapes,
    redact_text,
)

GHP = "ghp_" + "a1B2" * 9
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["app", "--password", "hunter2"], ["app", "--password", SECRET]),
        (["app", "--password=hunter2"], ["app", f"--password={SECRET}"]),
        (["app", "--token", "abc", "--port", "80"], ["app", "--token", SECRET, "--port", "80"]),
        (
            ["app", "--api-key=k1", "--api_key", "k2"],
            ["app", f"--api-key={SECRET}", "--api_key", SECRET],
        ),
        (["app", "--apiKey", "k"], ["app", "--apiKey", SECRET]),
        (["app", "--db-password", "p"], ["app", "--db-password", SECRET]),
        (["app", "--aws-secret-access-key", "s"], ["app", "--aws-secret-access-key", SECRET]),
        (["app", "--client-secret=s"], ["app", f"--client-secret={SECRET}"]),
        (["app", "--auth", "user:pw"], ["app", "--auth", SECRET]),
        (["app", "--auth-token", "t"], ["app", "--auth-token", SECRET]),
        (["app", "--github-token", "t"], ["app", "--github-token", SECRET]),
        (["app", "--private-key", "k"], ["app", "--private-key", SECRET]),
        (["app", "--passphrase", "p"], ["app", "--passphrase", SECRET]),
        (["java", "-password", "p"], ["java", "-password", SECRET]),
        (["app", "--credentials", "c"], ["app", "--credentials", SECRET]),
        (["env", "GITHUB_TOKEN=abc", "run"], ["env", f"GITHUB_TOKEN={SECRET}", "run"]),
        (
            ["env", "API_KEY=k", "APIKEY=k", "PGPASSWORD=p"],
            ["env", f"API_KEY={SECRET}", f"APIKEY={SECRET}", f"PGPASSWORD={SECRET}"],
        ),
        (
            ["env", "AWS_SECRET_ACCESS_KEY=s", "MYSQL_PWD=p"],
            ["env", f"AWS_SECRET_ACCESS_KEY={SECRET}", f"MYSQL_PWD={SECRET}"],
        ),
        (
            ["env", "HTTP_AUTH=x", "GOOGLE_APPLICATION_CREDENTIALS=/k.json"],
            ["env", f"HTTP_AUTH={SECRET}", f"GOOGLE_APPLICATION_CREDENTIALS={SECRET}"],
        ),
        (
            ["docker", "run", "-e", "DB_PASSWORD=p", "img"],
            ["docker", "run", "-e", f"DB_PASSWORD={SECRET}", "img"],
        ),
        (["app", "--set=API_KEY=x"], ["app", f"--set=API_KEY={SECRET}"]),
        (["app", "postgres://bob:s3cr3t@db:5432/x"], ["app", f"postgres://bob:{SECRET}@db:5432/x"]),
        (["app", "redis://:pw@localhost"], ["app", f"redis://:{SECRET}@localhost"]),
        (["app", "https://h/x?token=abc&page=2"], ["app", f"https://h/x?token={SECRET}&page=2"]),
        (
            ["curl", "-H", "Authorization: Bearer abcdefgh12345678"],
            ["curl", "-H", f"Authorization: Bearer {SECRET}"],
        ),
        (
            ["curl", "-H", "Authorization: Basic dXNlcjpwYXNz"],
            ["curl", "-H", f"Authorization: Basic {SECRET}"],
        ),
        (
            ["curl", "-H", "Authorization: token abcdefgh12345678"],
            ["curl", "-H", f"Authorization: token {SECRET}"],
        ),
        (
            ["curl", "-H", "Authorization: Bearer tok111"],  # short: its place says it is secret
            ["curl", "-H", f"Authorization: Bearer {SECRET}"],
        ),
        (
            ["curl", "-H", "Proxy-Authorization: Basic dXNlcjpwYXNz=="],
            ["curl", "-H", f"Proxy-Authorization: Basic {SECRET}"],
        ),
        (["curl", "-H", "Authorization: abc"], ["curl", "-H", f"Authorization: {SECRET}"]),
        (
            ["curl", "-H", 'Authorization: Digest username="bob", response="6629fae4"'],
            ["curl", "-H", f"Authorization: Digest {SECRET}"],
        ),
        (["app", "X-Api-Key: xk121"], ["app", f"X-Api-Key: {SECRET}"]),
        (["curl", "-H", "X-Api-Key:xk121"], ["curl", "-H", f"X-Api-Key:{SECRET}"]),
        (
            ["curl", "--header", "X-Auth-Token: t", "-H", "Cookie: sid=1; theme=dark"],
            ["curl", "--header", f"X-Auth-Token: {SECRET}", "-H", f"Cookie: {SECRET}"],
        ),
        (
            ["wget", "--header", "X-Session-Id: s1", "--header", "Ocp-Apim-Subscription-Key: k"],
            [
                "wget",
                "--header",
                f"X-Session-Id: {SECRET}",
                "--header",
                f"Ocp-Apim-Subscription-Key: {SECRET}",
            ],
        ),
        (
            ["wget", "--header=Authorization: Bearer tok111", "--header=X-Api-Key: xk121"],
            ["wget", f"--header=Authorization: Bearer {SECRET}", f"--header=X-Api-Key: {SECRET}"],
        ),
        (["curl", "-HCookie: sid=1"], ["curl", f"-HCookie: {SECRET}"]),
        (["httpie", "Authorization:Bearer tok111"], ["httpie", f"Authorization:Bearer {SECRET}"]),
        (["app", "--pass=p444"], ["app", f"--pass={SECRET}"]),
        (["app", "--pass", "p444"], ["app", "--pass", SECRET]),
        (["openssl", "enc", "-pass", "pass:p444"], ["openssl", "enc", "-pass", SECRET]),
        (
            ["env", "DB_PASS=p", "SMTP_PASS=p", "run"],
            ["env", f"DB_PASS={SECRET}", f"SMTP_PASS={SECRET}", "run"],
        ),
        (["app", GHP], ["app", SECRET]),
        (["app", "--x", "github_pat_" + "A" * 30], ["app", "--x", SECRET]),
        (["app", "xoxb-1234567890-abcdef"], ["app", SECRET]),
        (["app", "AKIAIOSFODNN7EXAMPLE"], ["app", SECRET]),
        (["app", JWT], ["app", SECRET]),
        (
            ["app", "glpat-" + "x" * 20, "sk-" + "a" * 40, "hf_" + "b" * 34],
            ["app", SECRET, SECRET, SECRET],
        ),
        (
            ["app", "AIza" + "c" * 35, "npm_" + "d" * 36, "sk_live_" + "e" * 24],
            ["app", SECRET, SECRET, SECRET],
        ),
        (
            ["python", "-c", 'connect(password="s3cret", user="bob")'],
            ["python", "-c", f'connect(password="{SECRET}", user="bob")'],
        ),
        (
            ["python", "-c", "{'token': 'abc', 'n': 1}"],
            ["python", "-c", f"{{'token': '{SECRET}', 'n': 1}}"],
        ),
    ],
)
def test_secrets_are_redacted(argv: list[str], expected: list[str]) -> None:
    assert redact_cmdline(argv) == expected


NORMAL = [
    ["python3", "app.py", "--port", "8080", "-p", "22", "-v"],
    ["python3", "-m", "pytest", "-k", "token and not slow", "--maxfail=1"],
    ["python3", "train.py", "--max-tokens", "100", "--tokenizer", "bert", "--num-tokens=5"],
    ["python3", "app.py", "--author", "me", "--authority", "x", "--authors=a,b"],
    ["env", "TOKENIZERS_PARALLELISM=false", "PWD=/home/me", "OLDPWD=/tmp", "PATH=/usr/bin"],
    ["env", "SSH_AUTH_SOCK=/tmp/ssh-x/agent.1", "GIT_ASKPASS=/usr/bin/true", "AUTHOR=me"],
    ["app", "--password-file", "/run/secrets/db", "--token-path=/tmp/t", "--secret-name", "x"],
    ["app", "--no-password", "input.txt", "--ask-password", "out.txt"],
    ["app", "--auth-url", "https://auth.example.com/", "--auth-method", "oauth"],
    ["app", "--password", "--verbose"],  # no value to hide
    ["app", "https://github.com/org/repo.git", "git@github.com:org/repo.git", "ftp://host/file"],
    ["app", "--min-password-length", "12", "--token-ttl", "60"],
    ["app", "key=value", "x=1", "secretary=bob", "tokenizer=bpe"],
    [
        "/usr/bin/python3",
        "-B",
        "-c",
        "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=4, pipe_handle=6)",
        "--multiprocessing-fork",
    ],
    ["/usr/bin/python3", "-c", "from multiprocessing.resource_tracker import main;main(3)"],
    ["python3", "-c", "if token == 'x': print('password: see the vault')"],
    ["ls", "--color=auto", "-la", "sk-learn", "task_id=ghp_short"],
    ["curl", "-H", "Content-Type: text/plain", "-H", "Accept: */*", "--header=X-Request-Id: 7"],
    ["curl", "-H", "X-Author: me", "-H", "Keep-Alive: 5", "-H", "X-Api-Key:", "-Hv"],
    ["app", "--passes=3", "--pass-through", "x", "--pass-fds", "3", "--bypass", "GIT_ASKPASS=x"],
    ["redis-cli", "GET", "session:42", "key:1", "localhost:8080"],  # no space: not a header
    ["grep", "-H", "-n", "token", "f.txt"],
]


@pytest.mark.parametrize("argv", NORMAL)
def test_no_false_positives_on_normal_arguments(argv: list[str]) -> None:
    assert redact_cmdline(argv) == argv


def test_environment() -> None:
    env = {
        "GITHUB_TOKEN": GHP,
        "DATABASE_URL": "postgres://u:pw@h/db",
        "HOME": "/root",
        "TOKENIZERS_PARALLELISM": "false",
        "EMPTY_PASSWORD": "",
    }
    assert redact_environ(env) == {
        "GITHUB_TOKEN": SECRET,
        "DATABASE_URL": f"postgres://u:{SECRET}@h/db",
        "HOME": "/root",
        "TOKENIZERS_PARALLELISM": "false",
        "EMPTY_PASSWORD": "",
    }


def test_text() -> None:
    assert redact_text("export API_KEY='a b c' OTHER=1") == f"export API_KEY='{SECRET}' OTHER=1"
    assert redact_text('password: "x y"') == f'password: "{SECRET}"'
    assert redact_text("password: see the vault") == "password: see the vault"


def test_shapes_leave_source_lines_alone() -> None:
    line = "    token = get_token()  # password=unused"
    assert redact_shapes(line) == line
    assert redact_shapes(f"ConnectionError: postgres://u:pw@h failed ({GHP})") == (
        f"ConnectionError: postgres://u:{SECRET}@h failed ({SECRET})"
    )


def test_secret_names() -> None:
    for name in ["password", "--db-pass-word-token", "X_AUTH", "accessToken", "signing_key"]:
        assert is_secret_name(name), name
    for name in ["", "--", "tokens", "author", "pwd", "no-auth", "token_file", "key", "TOKEN_ID"]:
        assert not is_secret_name(name), name
    for name in ["--pass", "-pass", "DB_PASS", "smtpPass"]:
        assert is_secret_name(name), name
    for name in ["--passes", "--pass-through", "pass_fds", "bypass", "GIT_ASKPASS", "--no-pass"]:
        assert not is_secret_name(name), name


def test_an_authorization_header_in_any_text_hides_even_a_short_credential() -> None:
    assert redact_shapes("401 for Authorization: Bearer tok111 at /api") == (
        f"401 for Authorization: Bearer {SECRET} at /api"
    )
    assert redact_shapes("the bearer of bad news") == "the bearer of bad news"


_ARG = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@given(st.lists(_ARG, max_size=8))
def test_redaction_is_idempotent_and_keeps_the_argument_count(argv: list[str]) -> None:
    once = redact_cmdline(argv)
    assert len(once) == len(argv)
    assert redact_cmdline(once) == once


@given(
    st.sampled_from(["--password", "--token", "--api-key", "--secret", "--auth-token", "-passwd"]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*()_+=:/.", min_size=1),
)
def test_a_secret_options_value_never_survives(option: str, value: str) -> None:
    assert value not in " ".join(redact_cmdline([option, value])[1:]) or value in SECRET
    assert redact_cmdline([f"{option}={value}"]) == [f"{option}={SECRET}"]
