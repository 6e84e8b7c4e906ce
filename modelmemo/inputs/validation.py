"""Validate requirement files against `schemas/requirements.schema.json` with readable errors.

Every problem becomes a `Problem`: file, JSON path, line, column, what is wrong and what is
allowed. The validator is built once per schema and reused (building it costs far more than
validating one small document).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker

from modelmemo.inputs.loading import InputError, JsonPath, LoadedDocument, load_document
from modelmemo.inputs.names import display_name
from modelmemo.resources import schema_file

REQUIREMENTS_SCHEMA = schema_file("requirements.schema.json")

# Deliberately strict: addresses end up in email headers, so no spaces, angle brackets,
# quotes, commas or line breaks (header injection) and a dotted domain.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")

format_checker = FormatChecker()


@format_checker.checks("email")
def _is_email(value: object) -> bool:
    return not isinstance(value, str) or bool(_EMAIL.match(value))


@dataclass(frozen=True)
class Problem:
    """One reason a file was rejected, precise enough to fix it without reading code."""

    file: str
    message: str
    path: str = ""
    line: int | None = None
    column: int | None = None
    allowed: str = ""

    def location(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def __str__(self) -> str:
        text = f"{self.location()}: "
        if self.path:
            text += f"{self.path}: "
        text += self.message
        if self.allowed:
            text += f" (allowed: {self.allowed})"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "allowed": self.allowed,
        }


@lru_cache(maxsize=8)
def schema_validator(schema_path: Path = REQUIREMENTS_SCHEMA) -> Draft202012Validator:
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=format_checker)


def dotted(path: Iterable[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


_TYPE_NAMES = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false",
               "object": "a mapping of fields", "array": "a list", "null": "nothing"}


def _accepts(schema: dict) -> str:
    """What a field accepts, from its constraints (a description says what a field is *for*,
    which is no answer to "what is allowed")."""
    if not isinstance(schema, dict):
        return ""
    if "const" in schema:
        return _short(schema["const"])
    if "enum" in schema:
        return ", ".join(map(str, schema["enum"]))
    kinds = schema.get("type")
    names = [_TYPE_NAMES.get(t, t) for t in (kinds if isinstance(kinds, list) else [kinds] if kinds else [])]
    text = " or ".join(names)
    low, high = (f"{n:,}" if isinstance(n, int) else n for n in (schema.get("minimum"), schema.get("maximum")))
    if low is not None and high is not None:
        text += f" from {low} to {high}"
    elif low is not None:
        text += f" of at least {low}"
    elif high is not None:
        text += f" of at most {high}"
    if schema.get("type") == "object" and schema.get("required"):
        text = "a mapping with the fields " + ", ".join(schema["required"])
    return text.strip()


def _describe(error: jsonschema.ValidationError) -> tuple[str, str, JsonPath]:
    """(message, allowed, path to point at) for one jsonschema error."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    path: JsonPath = tuple(error.absolute_path)
    description = schema.get("description", "")
    kind = error.validator
    value = error.instance
    if kind == "required":
        # jsonschema reports each missing property as its own error: "'budget' is a required property"
        named = re.match(r"^'(.+)' is a required property$", error.message)
        missing = [name for name in error.validator_value if isinstance(value, dict) and name not in value]
        props = schema.get("properties", {})
        field_name = named.group(1) if named else (missing[0] if missing else "?")
        return f"missing required field '{field_name}'", _accepts(props.get(field_name, {})), path
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(k for k in value if k not in schema.get("properties", {})) if isinstance(value, dict) else []
        name = extra[0] if extra else "?"
        return f"unknown field '{name}'", ", ".join(allowed), path + (name,)
    if kind == "enum":
        return f"{_short(value)} is not an accepted value", ", ".join(map(str, error.validator_value)), path
    if kind == "const":
        return f"{_short(value)} is not accepted; it must be {_short(error.validator_value)}", \
            _short(error.validator_value), path
    if kind == "type":
        expected = error.validator_value
        names = [_TYPE_NAMES.get(t, t) for t in (expected if isinstance(expected, list) else [expected])]
        return f"expected {' or '.join(names)}, got {_short(value)}", _accepts(schema) or description, path
    if kind == "format" and error.validator_value == "email":
        return f"{_short(value)} is not a valid email address", "an address like name@example.com", path
    if kind == "pattern":
        return f"{_short(value)} has the wrong form", description, path
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        word = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "more than",
                "exclusiveMaximum": "less than"}[kind]
        return (f"{_short(value)} is out of range; it must be {word} {error.validator_value}",
                _accepts(schema) or description, path)
    if kind in ("minLength", "maxLength"):
        word = "at least" if kind == "minLength" else "at most"
        return f"text is {len(value)} characters; it must be {word} {error.validator_value}", description, path
    if kind in ("minItems", "maxItems"):
        word = "at least" if kind == "minItems" else "at most"
        return f"list has {len(value)} items; it must have {word} {error.validator_value}", description, path
    if kind == "uniqueItems":
        seen: set[str] = set()
        dupes = []
        for item in value:
            key = json.dumps(item, sort_keys=True)
            if key in seen:
                dupes.append(item)
            seen.add(key)
        return f"duplicate entries: {_short(dupes)}", "each entry once", path
    if kind == "not" and isinstance(error.validator_value, dict) and "enum" in error.validator_value:
        return f"{_short(value)} is reserved", description, path
    if kind == "not" and path and path[-1] == "weights":
        return "all weights are 0", "at least one factor weight above 0 (omitted factors count as 1)", path
    return error.message, description, path


def _position(document: LoadedDocument, kind: str, point: JsonPath) -> tuple[int, int] | None:
    """Where the reader should look. Most problems are about a value (`customization: retrain`
    points at `retrain`). An unknown field is about its *key*: `colour: red` points at `colour`,
    where the fix is. A missing field belongs to the mapping that lacks it: the parent's key
    (`budget:`), not the mapping's first value, which may sit on another line (a flow mapping
    `budget: {monthly_usd: 1}` or a block mapping's first child); at the top level, line 1."""
    if kind in ("additionalProperties", "required") and point in document.key_positions:
        return document.key_positions[point]
    return document.position_of(point)


def schema_problems(document: LoadedDocument, file_label: str, schema_path: Path = REQUIREMENTS_SCHEMA) -> list[Problem]:
    """All schema problems of one parsed document, sorted by position."""
    problems = []
    for error in schema_validator(schema_path).iter_errors(document.data):
        message, allowed, point = _describe(error)
        position = _position(document, error.validator, point) or (None, None)
        problems.append(Problem(file_label, message, dotted(point) or "(top level)", position[0], position[1], allowed))
    problems.sort(key=lambda p: (p.line or 0, p.column or 0, p.path, p.message))
    return problems


# Characters refused in every text value and field name, however they were written: raw, or as an
# escape the parsers turn into the character ("\e", "\x1b", "\u001b"). The YAML reader and the JSON
# parser refuse most raw controls, but not escapes, and the JSON parser lets DEL and C1 through:
# an ESC rewrites a terminal, a NUL cuts text short in C libraries, a bidi override makes
# "invoice\u202efdp" read as "invoicepdf" in the index, the memo and an email subject. Tab and the
# line breaks stay: a summary may have several lines. Direction *marks* (U+200E, U+200F, U+061C)
# and the zero-width (non-)joiner stay too: Hebrew, Arabic, Persian and emoji text needs them, and
# they cannot move other text (the set refused is the one Rust's `text_direction_codepoint_in_literal` names).
_ALLOWED_CONTROLS = frozenset("\t\n\r")
_BIDI_CONTROLS = {
    "\u202a": "LEFT-TO-RIGHT EMBEDDING", "\u202b": "RIGHT-TO-LEFT EMBEDDING", "\u202c": "POP DIRECTIONAL FORMATTING",
    "\u202d": "LEFT-TO-RIGHT OVERRIDE", "\u202e": "RIGHT-TO-LEFT OVERRIDE", "\u2066": "LEFT-TO-RIGHT ISOLATE",
    "\u2067": "RIGHT-TO-LEFT ISOLATE", "\u2068": "FIRST STRONG ISOLATE", "\u2069": "POP DIRECTIONAL ISOLATE",
}
_CONTROL_NAMES = {"\x00": "NUL", "\x07": "BEL", "\x08": "BACKSPACE", "\x0b": "VERTICAL TAB", "\x0c": "FORM FEED",
                  "\x1b": "ESC", "\x7f": "DEL", "\x85": "NEXT LINE", "\x9b": "CSI"}


def _refused_character(text: str) -> str | None:
    """Why `text` cannot be kept (its first refused character, named, and how it may have been
    written: people see "\\e" in their file, not a character), or None."""
    for char in text:
        code = ord(char)
        if (code < 0x20 and char not in _ALLOWED_CONTROLS) or 0x7F <= code <= 0x9F:
            name = f" ({_CONTROL_NAMES[char]})" if char in _CONTROL_NAMES else ""
            escapes = f"\\u{code:04x}" + (" or \\e" if char == "\x1b" else "")
            return f"the control character U+{code:04X}{name}, written as is or as an escape such as {escapes}"
        if char in _BIDI_CONTROLS:
            return f"the bidirectional control character U+{code:04X} ({_BIDI_CONTROLS[char]}, which reorders " \
                   f"the text around it), written as is or as the escape \\u{code:04x}"
    return None


def text_problems(document: LoadedDocument, file_label: str) -> list[Problem]:
    """One problem for each text value or field name that holds a refused character (above), at
    the value (or, for a field name, the key) with its line: the file is rejected like any other
    invalid file, naming where the fix goes."""
    problems: list[Problem] = []

    def visit(node: Any, path: JsonPath) -> None:
        if isinstance(node, str):
            why = _refused_character(node)
            if why:
                line, column = document.position_of(path) or (None, None)
                problems.append(Problem(file_label, f"text contains {why}; remove it",
                                        dotted(path) or "(top level)", line, column))
        elif isinstance(node, dict):
            for key, value in node.items():
                why = _refused_character(key)
                if why:
                    line, column = document.key_positions.get(path + (key,)) or document.position_of(path) \
                        or (None, None)
                    problems.append(Problem(file_label, f"a field name contains {why}; remove it",
                                            dotted(path + (display_name(key),)), line, column))
                visit(value, path + (key,))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                visit(value, path + (index,))

    visit(document.data, ())
    return problems


def validate_file(path: Path, file_label: str | None = None) -> tuple[LoadedDocument | None, list[Problem]]:
    """Load and validate one file. Returns the document (None if unreadable) and its problems.

    The file is someone else's: a symbolic link is not followed and only a regular file is read
    (see loading.read_bytes_limited), so no problem message ever quotes what a link points to,
    and a FIFO cannot block. `file_label` is how problems name the file; pass an escaped display
    name (names.display_name); without one, the path's name is escaped here.
    """
    label = file_label or display_name(path.name)
    try:
        document = load_document(path, follow_symlinks=False)
    except InputError as exc:
        return None, [Problem(label, exc.message, "", exc.line, exc.column)]
    except OSError as exc:
        return None, [Problem(label, f"cannot read file: {exc.strerror or exc}")]
    problems = text_problems(document, label)
    # A value already refused for its characters is not also reported by the schema (its enum or
    # pattern would echo the same value): one problem per fault.
    refused = {problem.path for problem in problems}
    problems += [problem for problem in schema_problems(document, label) if display_name(problem.path) not in refused]
    problems.sort(key=lambda p: (p.line or 0, p.column or 0, p.path, p.message))
    return document, problems
