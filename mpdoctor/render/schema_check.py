"""Check JSON data against the shipped report schema, without the jsonschema package.

`mpdoctor report FILE` must reject a file that is not a report with one clear line, and the
runtime depends only on typer, rich and psutil. The report schema uses a small part of JSON
Schema, implemented here: type, const, enum, required, properties, items, $ref (local), anyOf,
minimum, pattern. The tests check that this agrees with jsonschema on the shipped schema.
"""

from __future__ import annotations

import re
from typing import Any

_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    # JSON Schema counts 2.0 as an integer.
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
_KNOWN = {
    "$schema", "$id", "$defs", "title", "description", "type", "const", "enum", "required",
    "properties", "items", "$ref", "anyOf", "minimum", "pattern",
}  # fmt: skip


class SchemaMismatch(ValueError):
    """The first place where the data does not match, as "processes[2].pid: expected integer"."""


def check(data: Any, schema: dict[str, Any]) -> None:
    """Raise SchemaMismatch at the first mismatch; return None when `data` matches."""
    _check(data, schema, schema, "")


def _check(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str) -> None:
    unknown = set(schema) - _KNOWN
    if unknown:  # a keyword this checker would silently ignore: fail loudly instead
        raise NotImplementedError(f"schema keyword(s) not supported: {sorted(unknown)}")
    where = path or "top level"
    if "$ref" in schema:
        _check(value, _resolve(schema["$ref"], root), root, path)
    if "anyOf" in schema:
        errors = []
        for option in schema["anyOf"]:
            try:
                _check(value, option, root, path)
                break
            except SchemaMismatch as exc:
                errors.append(str(exc))
        else:
            raise SchemaMismatch(errors[0] if len(errors) == 1 else f"{where}: unexpected value")
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[name](value) for name in names):
            raise SchemaMismatch(f"{where}: expected {' or '.join(names)}, got {_kind(value)}")
    if "const" in schema and not _equal(value, schema["const"]):
        raise SchemaMismatch(f"{where}: expected {schema['const']!r}, got {value!r}")
    if "enum" in schema and not any(_equal(value, option) for option in schema["enum"]):
        raise SchemaMismatch(f"{where}: {value!r} is not one of {', '.join(schema['enum'])}")
    if "minimum" in schema and _TYPES["number"](value) and value < schema["minimum"]:
        raise SchemaMismatch(f"{where}: {value} is below {schema['minimum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        raise SchemaMismatch(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        for name in schema.get("required", ()):
            if name not in value:
                raise SchemaMismatch(f"{where}: missing {name!r}")
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                _check(value[name], sub, root, f"{path}.{name}" if path else name)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            _check(item, schema["items"], root, f"{path}[{i}]")


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise NotImplementedError(f"only local $ref is supported: {ref}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _equal(a: Any, b: Any) -> bool:
    # JSON Schema: 1 and 1.0 are equal, true and 1 are not.
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def _kind(value: Any) -> str:
    for name, test in _TYPES.items():
        if name != "number" and test(value):
            return name
    return "number" if _TYPES["number"](value) else type(value).__name__
