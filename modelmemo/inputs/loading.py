"""Read a requirement file (YAML or JSON) into plain data plus the line/column of every value.

The loaders are deliberately stricter than `yaml.safe_load` / `json.loads`, because files come
from many people and are read unattended:

* size is capped (`MAX_INPUT_BYTES`) and nesting depth is capped (`MAX_NESTING_DEPTH`), checked
  while composing, so deep nesting cannot crash the interpreter or raise RecursionError;
* YAML anchors and aliases are refused (they are how "billion laughs" bombs work and a
  requirement file never needs them);
* duplicate keys are refused (PyYAML and `json` silently keep the last one);
* YAML 1.1 surprises are switched off: only `true`/`false` are booleans (`no` stays the
  string "no", which matters for Norwegian), dates stay strings, and `.nan`/`.inf` are strings;
  JSON `NaN`/`Infinity` are refused;
* text must be UTF-8 (a BOM is accepted); UTF-16 and binary files get a specific message;
* the file is opened without blocking and, for drop-folder input, without following a symbolic
  link (O_NOFOLLOW), then checked on the open descriptor (fstat): only a regular file is read.
  A name that was checked as a regular file and then swapped for a symlink or a FIFO before the
  read is refused, so a rejection message never quotes a file outside the drop folder and a
  named pipe can never block a run or `modelmemo validate`.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from modelmemo.settings import MAX_INPUT_BYTES, MAX_NESTING_DEPTH, MAX_NUMBER_CHARACTERS

JsonPath = tuple[str | int, ...]


class InputError(Exception):
    """A file that cannot be read as data. Carries the position when one is known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class LoadedDocument:
    """Parsed data, the position of every value and key, and the file's SHA-256."""

    data: Any
    sha256: str
    positions: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)

    def position_of(self, path: JsonPath) -> tuple[int, int] | None:
        """Best known (line, column) for a JSON path: the value, else its key, else a parent."""
        for length in range(len(path), -1, -1):
            prefix = path[:length]
            if prefix in self.positions:
                return self.positions[prefix]
            if prefix in self.key_positions:
                return self.key_positions[prefix]
        return None


def decode_text(raw: bytes, *, size_checked: bool = False) -> str:
    """UTF-8 text from bytes, with a precise message for the usual wrong encodings.
    size_checked: the caller applied its own size cap (the pilot's examples file), not MAX_INPUT_BYTES."""
    if not size_checked and len(raw) > MAX_INPUT_BYTES:
        raise _too_large(len(raw))
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError("file is UTF-16 encoded; save it as UTF-8")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if b"\x00" in raw:
        raise InputError("file contains NUL bytes: it is binary or UTF-16, not UTF-8 text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(
            f"byte 0x{raw[exc.start]:02x} is not valid UTF-8 (is the file Latin-1 or Windows-1252?); "
            "save it as UTF-8",
            line,
            column,
        ) from None
    if not text.strip():
        raise InputError("file is empty")
    return text


def load_document(path: Path, *, follow_symlinks: bool = True) -> LoadedDocument:
    """Read and parse one requirement file. Raises InputError with a position where possible.

    follow_symlinks=False for files someone else put there (validation.validate_file passes it);
    the default serves the operator's own files (the catalog may well be a symlinked config).
    """
    raw = read_bytes_limited(path, follow_symlinks=follow_symlinks)
    text = decode_text(raw)
    digest = hashlib.sha256(raw).hexdigest()
    if path.suffix.lower() == ".json":
        data, positions, key_positions = parse_json(text)
    else:
        data, positions, key_positions = parse_yaml(text)
    return LoadedDocument(data=data, sha256=digest, positions=positions, key_positions=key_positions)


_NOT_REGULAR = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))


def _not_regular(mode: int) -> InputError:
    kind = next((name for test, name in _NOT_REGULAR if test(mode)), "something else")
    return InputError(f"not a regular file but {kind}; only regular files are read")


def read_bytes_limited(path: Path, *, follow_symlinks: bool = True) -> bytes:
    """The bytes of a regular file; a file over MAX_INPUT_BYTES is refused without reading it all.

    Opened with O_NONBLOCK (opening a FIFO with no writer then returns at once instead of waiting)
    and, unless follow_symlinks, O_NOFOLLOW; the open descriptor must be a regular file (fstat),
    so what is checked is what is read: nothing is read from a FIFO, device or folder.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise InputError("is a symbolic link: not followed; copy the file in instead") from None
        if exc.errno == errno.ENXIO:  # a socket, or a device without its driver
            raise InputError("not a regular file; only regular files are read") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(info.st_mode)
        if info.st_size > MAX_INPUT_BYTES:
            raise _too_large(info.st_size)
        chunks: list[bytes] = []
        wanted = MAX_INPUT_BYTES + 1  # the file may have grown since fstat
        while wanted > 0:
            chunk = os.read(fd, min(wanted, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            wanted -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _too_large(size: int) -> InputError:
    return InputError(
        f"file is {size:,} bytes; the limit is {MAX_INPUT_BYTES:,} bytes "
        "(a requirement file is normally about 1 KiB)"
    )


# --- YAML -----------------------------------------------------------------------------------


class _StrictYamlLoader(yaml.SafeLoader):
    """Pure-Python safe loader (never the C loader, which crashes on deep nesting)."""

    yaml_implicit_resolvers: dict = {}
    _depth = 0

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise InputError(
                "YAML aliases (*name) are not allowed here; write the value out",
                event.start_mark.line + 1,
                event.start_mark.column + 1,
            )
        event = self.peek_event()
        implicit = getattr(event, "implicit", True)
        explicit_tag = event.tag is not None and not (all(implicit) if isinstance(implicit, tuple) else implicit)
        if explicit_tag and event.tag != "!":
            raise InputError(
                f"YAML tags ({event.tag}) are not allowed; write a plain value",
                event.start_mark.line + 1,
                event.start_mark.column + 1,
            )
        if getattr(event, "anchor", None):
            raise InputError(
                "YAML anchors (&name) are not allowed here; remove the anchor",
                event.start_mark.line + 1,
                event.start_mark.column + 1,
            )
        self._depth += 1
        try:
            if self._depth > MAX_NESTING_DEPTH:
                raise InputError(
                    f"nesting is deeper than {MAX_NESTING_DEPTH} levels; a requirement file needs 3",
                    event.start_mark.line + 1,
                    event.start_mark.column + 1,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


# YAML 1.2 core schema scalars instead of PyYAML's YAML 1.1 ones.
for _tag, _regexp, _first in [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^[-+]?(?:0|[1-9][0-9]*)$", "-+0123456789"),
    ("tag:yaml.org,2002:float", r"^[-+]?(?:(?:0|[1-9][0-9]*)?\.[0-9]+|(?:0|[1-9][0-9]*)\.?)(?:[eE][-+]?[0-9]+)?$", "-+.0123456789"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
]:
    _StrictYamlLoader.add_implicit_resolver(_tag, re.compile(_regexp), list(_first))


def _number_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    text = loader.construct_scalar(node)
    if len(text) > MAX_NUMBER_CHARACTERS:
        raise InputError(f"number {text[:20]}... has {len(text)} characters; write a reasonable number",
                         node.start_mark.line + 1, node.start_mark.column + 1)
    return text


def _yaml_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    value = float(_number_text(loader, node))
    if value in (float("inf"), float("-inf")):
        raise InputError("number is too large", node.start_mark.line + 1, node.start_mark.column + 1)
    return value


def _yaml_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    return int(_number_text(loader, node))


_StrictYamlLoader.add_constructor("tag:yaml.org,2002:float", _yaml_float)
_StrictYamlLoader.add_constructor("tag:yaml.org,2002:int", _yaml_int)


def parse_yaml(text: str) -> tuple[Any, dict, dict]:
    loader = None
    try:
        loader = _StrictYamlLoader(text)  # the reader already rejects control characters here
        node = loader.get_single_node()
        if node is None:
            raise InputError("file contains no YAML document")
        positions: dict[JsonPath, tuple[int, int]] = {}
        key_positions: dict[JsonPath, tuple[int, int]] = {}
        _index_yaml_node(node, (), positions, key_positions)
        data = loader.construct_document(node)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise InputError(f"character U+{exc.character:04X} is not allowed in YAML (a control character); "
                         "remove it", line, column) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        raise InputError(
            f"not valid YAML: {problem}{context}",
            mark.line + 1 if mark else None,
            mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}") from None
    except ValueError as exc:  # a constructor refusing a value, e.g. an integer of 5,000 digits
        raise InputError(f"a value cannot be read: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()
    _refuse_unpaired_surrogates(data, positions)
    return data, positions, key_positions


def _refuse_unpaired_surrogates(data: Any, positions: dict, path: JsonPath = ()) -> None:
    r"""Escapes like "\ud800" decode to text no encoder can write; refuse them at the source."""
    def bad(text: str) -> bool:
        return any("\ud800" <= char <= "\udfff" for char in text)

    if isinstance(data, str) and bad(data) or isinstance(data, dict) and any(bad(k) for k in data):
        where = positions.get(path, (None, None))
        raise InputError("text contains an unpaired surrogate escape (such as \\ud800), which is not a character; "
                         "remove it", *where)
    if isinstance(data, dict):
        for key, value in data.items():
            _refuse_unpaired_surrogates(value, positions, path + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            _refuse_unpaired_surrogates(value, positions, path + (index,))


def _index_yaml_node(node: yaml.Node, path: JsonPath, positions: dict, key_positions: dict) -> None:
    """Record positions and refuse duplicate keys and non-string keys. Depth is already bounded."""
    positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                raise InputError(
                    "mapping keys must be plain text",
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
            key = key_node.value
            if key in seen:
                raise InputError(
                    f"duplicate key '{key}' (first defined on line {seen[key]}); keep only one",
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
            seen[key] = key_node.start_mark.line + 1
            key_positions[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _index_yaml_node(value_node, path + (key,), positions, key_positions)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_yaml_node(item, path + (index,), positions, key_positions)


# --- JSON -----------------------------------------------------------------------------------

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_WHITESPACE = re.compile(r"[ \t\n\r]*")


class _JsonParser:
    """A small strict JSON parser that records where each value starts.

    The standard library's parser gives no positions, and they are what makes an error
    message useful ("line 7, column 12"). Depth is bounded, so no RecursionError.
    """

    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.positions: dict[JsonPath, tuple[int, int]] = {}
        self.key_positions: dict[JsonPath, tuple[int, int]] = {}

    def line_col(self, pos: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, pos) + 1
        return line, pos - (self.text.rfind("\n", 0, pos) + 1) + 1

    def fail(self, message: str, pos: int | None = None) -> InputError:
        line, col = self.line_col(self.pos if pos is None else pos)
        return InputError(f"not valid JSON: {message}", line, col)

    def skip_ws(self) -> None:
        self.pos = _WHITESPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def parse(self) -> Any:
        self.skip_ws()
        value = self.value((), 1)
        self.skip_ws()
        if self.pos != len(self.text):
            raise self.fail("extra data after the top-level value")
        return value

    def value(self, path: JsonPath, depth: int) -> Any:
        if depth > MAX_NESTING_DEPTH:
            raise self.fail(f"nesting is deeper than {MAX_NESTING_DEPTH} levels; a requirement file needs 3")
        self.positions[path] = self.line_col(self.pos)
        char = self.text[self.pos : self.pos + 1]
        if char == "{":
            return self.object(path, depth)
        if char == "[":
            return self.array(path, depth)
        if char == '"':
            return self.string()
        for literal, result in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(literal, self.pos):
                self.pos += len(literal)
                return result
        for word in ("NaN", "Infinity", "-Infinity"):
            if self.text.startswith(word, self.pos):
                raise self.fail(f"{word} is not a number JSON allows; write a finite number")
        match = _NUMBER.match(self.text, self.pos)
        if match and match.end() > self.pos:
            token = match.group()
            if len(token) > MAX_NUMBER_CHARACTERS:
                raise self.fail(f"number {token[:20]}... has {len(token)} characters; write a reasonable number")
            self.pos = match.end()
            value = float(token) if any(c in token for c in ".eE") else int(token)
            if value in (float("inf"), float("-inf")):
                raise self.fail(f"number {token} is too large", self.pos - len(token))
            return value
        if not char:
            raise self.fail("unexpected end of file")
        raise self.fail(f"unexpected character {char!r}")

    def string(self) -> str:
        try:
            result, end = json.decoder.scanstring(self.text, self.pos + 1, True)
        except json.JSONDecodeError as exc:
            raise self.fail(exc.msg, exc.pos) from None
        self.pos = end
        return result

    def object(self, path: JsonPath, depth: int) -> dict[str, Any]:
        self.pos += 1
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        self.skip_ws()
        if self.text.startswith("}", self.pos):
            self.pos += 1
            return result
        while True:
            self.skip_ws()
            if not self.text.startswith('"', self.pos):
                raise self.fail("expected a property name in double quotes")
            key_pos = self.line_col(self.pos)
            key = self.string()
            if key in result:
                raise InputError(
                    f"duplicate key '{key}' (first defined on line {first_line[key]}); keep only one",
                    *key_pos,
                )
            first_line[key] = key_pos[0]
            self.key_positions[path + (key,)] = key_pos
            self.skip_ws()
            if not self.text.startswith(":", self.pos):
                raise self.fail("expected ':' after the property name")
            self.pos += 1
            self.skip_ws()
            result[key] = self.value(path + (key,), depth + 1)
            self.skip_ws()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                continue
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return result
            raise self.fail("expected ',' or '}'")

    def array(self, path: JsonPath, depth: int) -> list[Any]:
        self.pos += 1
        result: list[Any] = []
        self.skip_ws()
        if self.text.startswith("]", self.pos):
            self.pos += 1
            return result
        while True:
            self.skip_ws()
            result.append(self.value(path + (len(result),), depth + 1))
            self.skip_ws()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                continue
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return result
            raise self.fail("expected ',' or ']'")


def parse_json(text: str) -> tuple[Any, dict, dict]:
    parser = _JsonParser(text)
    data = parser.parse()
    _refuse_unpaired_surrogates(data, parser.positions)
    return data, parser.positions, parser.key_positions
