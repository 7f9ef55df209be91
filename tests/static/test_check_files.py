"""`mpdoctor check` reads a file as python does: its coding cookie, a UTF-8 BOM, any newlines,
with the lines python names; what python cannot read or parse is one `mpdoctor:` line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import run_mpdoctor

from mpdoctor.static.ast_rules import check_source, decode_source

# Each creates a Pool at line 4, outside the main guard, and holds a non-ASCII letter.
FILES = {
    "latin-1 with its cookie": (
        b"# -*- coding: latin-1 -*-\nimport multiprocessing as mp\ns = '\xe9'\nmp.Pool(2)\n"
    ),
    "UTF-8 with a BOM": (
        b"\xef\xbb\xbfimport multiprocessing as mp\ns = '\xc3\xa9'\n\nmp.Pool(2)\n"
    ),
    "CRLF newlines, cp1252 cookie": (
        b"# coding: cp1252\r\nimport multiprocessing as mp\r\ns = '\xe9'\r\nmp.Pool(2)\r\n"
    ),
}


def _check(script: Path) -> tuple[int, str]:
    # cwd: the tree (python -m mpdoctor runs the mpdoctor of the working directory)
    result = run_mpdoctor(["check", "--color", "never", str(script)])
    return result.returncode, result.stderr.decode(errors="replace")


@pytest.mark.parametrize("name", sorted(FILES))
def test_decode_source_keeps_python_s_lines(name: str) -> None:
    source = decode_source(FILES[name])
    assert "s = '\u00e9'" in source and "\ufeff" not in source
    findings = check_source(source, "app.py")
    assert [(f.id, f.locations[0].line) for f in findings] == [("missing-main-guard", 4)]


@pytest.mark.parametrize(
    "data",
    [b"\xff\xfe not utf-8\n", b"# coding: no-such-codec\nx = 1\n", b"x = '\xe9'\n"],
    ids=["not utf-8", "unknown codec", "latin-1 without a cookie"],
)
def test_decode_source_refuses_what_python_refuses(data: bytes) -> None:
    with pytest.raises(ValueError):
        decode_source(data)


def test_check_reads_a_cookie_and_a_bom_as_python_does(tmp_path: Path) -> None:
    latin = tmp_path / "latin.py"
    latin.write_bytes(FILES["latin-1 with its cookie"])
    code, err = _check(latin)
    assert code == 1, err
    assert "missing-main-guard" in err and "latin.py:4 (module-level)" in err

    bom = tmp_path / "bom.py"
    bom.write_bytes(FILES["UTF-8 with a BOM"])
    code, err = _check(bom)
    assert code == 1, err
    assert "missing-main-guard" in err and "bom.py:4 (module-level)" in err


def test_a_correct_program_with_a_cookie_and_a_bom_has_no_finding(tmp_path: Path) -> None:
    script = tmp_path / "fine.py"
    script.write_bytes(
        b"\xef\xbb\xbf# -*- coding: utf-8 -*-\nimport multiprocessing as mp\n"
        b"if __name__ == '__main__':\n    print('\xc3\xa9')\n"
    )
    code, err = _check(script)
    assert code == 0, err
    assert "no findings" in err


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"import multiprocessing\nx = 1\x00\n", "nul.py:2: syntax error"),
        (b"\x00", "nul.py:1: syntax error"),
        (b"x = 1\n\ndef (:\n", "nul.py:3: syntax error"),
        (b"\xff\xfe not utf-8", "nul.py: cannot read"),
    ],
    ids=["NUL on line 2", "NUL alone", "syntax error", "not utf-8"],
)
def test_unreadable_source_is_one_line_with_a_line_number_or_none(
    tmp_path: Path, data: bytes, expected: str
) -> None:
    script = tmp_path / "nul.py"
    script.write_bytes(data)
    code, err = _check(script)
    assert code == 2
    assert err.startswith("mpdoctor: ") and expected in err, err
    assert "None" not in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
