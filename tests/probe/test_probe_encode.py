"""The probe's hand-written JSON encoder (`_mpdoctor_probe.encode`): every event goes through it,
so whatever the program hands it (argv, process names, paths with undecodable bytes) must come
back from the monitor's JSON parser as it was."""

from __future__ import annotations

import json
import math
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from probe_support import PROBE_ROOT

sys.path.insert(0, str(PROBE_ROOT))
from _mpdoctor_probe import _ESC, encode

pytestmark = pytest.mark.timeout(120)

# Any code point, lone surrogates (os.fsdecode of undecodable bytes) and controls included,
# and often one of the characters JSON treats specially.
SPECIAL = st.sampled_from('"\\/\n\t\r\x00\x1f\x7f\u2028\udcff')
TEXT = st.text(st.one_of(st.characters(blacklist_categories=()), SPECIAL), max_size=12)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), TEXT
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(TEXT, st.integers()), inner, max_size=4),
    ),
    max_leaves=20,
)


def as_json(value):
    """What a JSON round trip of `value` gives: tuples as lists, keys as str, inf/nan as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    return value


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_whatever_the_program_hands_it_parses_back_as_it_was(value) -> None:
    line = encode(value).encode("utf-8", "backslashreplace")  # as emit() writes it
    assert b"\n" not in line  # one event, one line
    assert json.loads(line) == as_json(value)


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_a_string_is_escaped_exactly_as_by_the_full_translation(text) -> None:
    # the fast path (no translate for text that needs no escape) never changes the bytes
    assert encode(text) == '"' + text.translate(_ESC) + '"'


def test_subclasses_and_unknown_objects_are_plain_values() -> None:
    class Name(str):
        def __str__(self):
            return "never called"

    class Count(int):
        def __repr__(self):
            return "never called"

    assert encode({"name": Name('a"b'), "n": Count(3)}) == '{"name":"a\\"b","n":3}'
    assert encode(object()) == '"<object>"'
    assert encode([1.5, float("inf"), b"x"]) == '[1.5,null,"<bytes>"]'
