"""A requirement file's `pilot:` section and the examples file it names, read as strictly as the
requirement file itself.

The examples file is a team's own data, read unattended: it must sit beside the requirement file
(the schema's pattern refuses `..`, absolute paths and hidden names; the resolved path must still be
inside that folder, so a symlinked folder cannot lead out of it), it is size- and line-capped, each
line is parsed by the strict JSON parser (duplicate keys, NaN, deep nesting refused) and validated
against `schemas/pilot-example.schema.json`. Every problem is a `Problem`: file, line, column,
field, what is wrong and what to do, like a requirement file's. A missing or malformed file is a
rejection, never an exception.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelmemo.inputs.loading import InputError, LoadedDocument, decode_text, parse_json
from modelmemo.inputs.validation import Problem, schema_problems
from modelmemo.pilot.candidates import CandidateSpec, parse_candidate
from modelmemo.resources import schema_file
from modelmemo.settings import PILOT_MAX_EXAMPLES, PILOT_MAX_EXAMPLES_BYTES

EXAMPLE_SCHEMA = schema_file("pilot-example.schema.json")
RUBRIC_TASKS = ("chat", "text-generation", "summarization")  # where a judge can stand in for a reference


@dataclass(frozen=True)
class PilotSpec:
    """The requirement file's `pilot:` section, typed."""

    examples: str  # the examples file, relative to the requirement file's folder
    judge: CandidateSpec | None = None
    candidates: tuple[CandidateSpec, ...] = ()

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "PilotSpec | None":
        """From requirement data that already passed the schema; None without a pilot section."""
        section = data.get("pilot")
        if section is None:
            return None
        judge = parse_candidate(section["judge"]) if "judge" in section else None
        return cls(section["examples"], judge, tuple(parse_candidate(c) for c in section.get("candidates", ())))


@dataclass(frozen=True)
class Example:
    line: int  # 1-based line in the examples file
    id: str  # given, or "line N"
    task: str
    input: str
    reference: str | None = None
    rubric: str | None = None
    test: str | None = None
    instructions: str | None = None
    target_language: str | None = None
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExampleSet:
    path: Path
    label: str  # how messages name the file
    sha256: str  # of the file's bytes: results measured on other bytes are not evidence for these
    examples: tuple[Example, ...]

    def for_task(self, task: str) -> tuple[Example, ...]:
        return tuple(e for e in self.examples if e.task == task)

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(e.task for e in self.examples))


def examples_path(requirement_file: Path, spec: PilotSpec) -> Path:
    return requirement_file.parent / spec.examples


def examples_sha256(requirement_file: Path, examples: str) -> str | None:
    """sha256 of the examples file a requirement file names, read as `load_examples` reads it (inside
    the requirement file's folder, no symbolic link, size-capped); None when it cannot be read."""
    path = requirement_file.parent / examples
    try:
        if not path.resolve().is_relative_to(requirement_file.parent.resolve()):
            return None
        return hashlib.sha256(_read_limited(path)).hexdigest()
    except (OSError, RuntimeError, InputError):
        return None


def load_examples(requirement_file: Path, document: LoadedDocument, spec: PilotSpec, tasks: tuple[str, ...],
                  requirement_label: str) -> tuple[ExampleSet | None, list[Problem]]:
    """Read and check the examples file a requirement file names. `tasks` are its needs.tasks.

    Returns the examples, or None and the problems (the file's name, line, field and fix)."""
    path = examples_path(requirement_file, spec)
    where = document.position_of(("pilot", "examples")) or (None, None)

    def about_reference(message: str) -> list[Problem]:  # a problem of the reference itself, shown where it is written
        return [Problem(requirement_label, message, "pilot.examples", where[0], where[1])]

    folder = requirement_file.parent.resolve()
    try:
        inside = path.resolve().is_relative_to(folder)
    except (OSError, RuntimeError):  # a symlink loop
        inside = False
    if not inside:
        return None, about_reference(f"{spec.examples} leads outside the requirement file's folder (through a "
                                     "symbolic link); put the examples file beside the requirement file")
    label = spec.examples
    try:
        raw = _read_limited(path)
    except FileNotFoundError:
        return None, about_reference(f"{spec.examples} does not exist beside this file; create it (one JSON example "
                                     "per line) or correct the name")
    except InputError as exc:
        return None, [Problem(label, exc.message, "", exc.line, exc.column)]
    except OSError as exc:
        return None, [Problem(label, f"cannot read file: {exc.strerror or exc}")]
    try:
        text = _decode(raw)
    except InputError as exc:
        return None, [Problem(label, exc.message, "", exc.line, exc.column)]
    examples, problems = _parse_lines(text, label)
    if not problems:
        problems = _cross_checks(examples, label, tasks, spec, requirement_label)
    if problems:
        return None, problems
    return ExampleSet(path, label, hashlib.sha256(raw).hexdigest(), tuple(examples)), []


def _decode(raw: bytes) -> str:
    """UTF-8 text (a BOM is fine), with loading.decode_text's messages for the usual wrong encodings
    but the pilot's own size cap (checked before reading)."""
    if not raw.removeprefix(b"\xef\xbb\xbf").strip():  # before decode_text's own "file is empty"
        raise InputError("file is empty; write one JSON example per line")
    return decode_text(raw, size_checked=True)


def _read_limited(path: Path) -> bytes:
    """A regular file's bytes, at most PILOT_MAX_EXAMPLES_BYTES; a symlink as the last component is
    not followed and a FIFO never blocks (as loading.read_bytes_limited, with the pilot's cap)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError("is a symbolic link: not followed; copy the file in instead") from None
        if exc.errno == errno.ENXIO:
            raise InputError("not a regular file; only regular files are read") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError("not a regular file; only regular files are read")
        if info.st_size > PILOT_MAX_EXAMPLES_BYTES:
            raise InputError(f"file is {info.st_size:,} bytes; the limit is {PILOT_MAX_EXAMPLES_BYTES:,} bytes: "
                             "pilot on a sample")
        chunks, wanted = [], PILOT_MAX_EXAMPLES_BYTES + 1
        while wanted > 0 and (chunk := os.read(fd, min(wanted, 1 << 16))):
            chunks.append(chunk)
            wanted -= len(chunk)
        data = b"".join(chunks)
        if len(data) > PILOT_MAX_EXAMPLES_BYTES:
            raise InputError(f"file is over {PILOT_MAX_EXAMPLES_BYTES:,} bytes; pilot on a sample")
        return data
    finally:
        os.close(fd)


def _parse_lines(text: str, label: str) -> tuple[list[Example], list[Problem]]:
    examples: list[Example] = []
    problems: list[Problem] = []
    lines = text.split("\n")
    filled = [n for n, line in enumerate(lines, 1) if line.strip()]
    if len(filled) > PILOT_MAX_EXAMPLES:
        return [], [Problem(label, f"file has {len(filled):,} examples; the limit is {PILOT_MAX_EXAMPLES:,}: "
                                   "pilot on a sample", "", filled[PILOT_MAX_EXAMPLES])]
    for number in filled:
        line = lines[number - 1].rstrip("\r")
        try:
            data, positions, key_positions = parse_json(line)
        except InputError as exc:
            problems.append(Problem(label, f"not a JSON object on one line: {exc.message}", "", number, exc.column))
            continue
        document = LoadedDocument(data, "", positions, key_positions)
        found = schema_problems(document, label, EXAMPLE_SCHEMA)
        problems += [_on_line(p, number, data.get("task") if isinstance(data, dict) else None) for p in found]
        if not found:
            examples.append(_example(data, number))
    return examples, problems


def _on_line(problem: Problem, number: int, task: object) -> Problem:
    """A problem of one line's document, placed on that line of the file, in words a person can act on:
    a missing field is named as the field, with the fix."""
    message, allowed, path = problem.message, problem.allowed, problem.path
    missing = re.match(r"^missing required field '(\w+)'$", message)
    if missing:
        path, allowed = missing.group(1), ""
        message = f"a {task} example needs a '{path}'; add it to this line"
    elif message.endswith("is not valid under any of the given schemas"):  # the anyOf of "reference or ..."
        path, allowed = "reference", ""
        message = f"a {task} example needs {problem.allowed}; add one to this line"
    return Problem(problem.file, message, "" if path == "(top level)" else path, number, problem.column, allowed)


def _example(data: dict[str, Any], number: int) -> Example:
    return Example(number, data.get("id") or f"line {number}", data["task"], data["input"], data.get("reference"),
                   data.get("rubric"), data.get("test"), data.get("instructions"), data.get("target_language"),
                   tuple(data.get("labels", ())))


def _cross_checks(examples: list[Example], label: str, tasks: tuple[str, ...], spec: PilotSpec,
                  requirement_label: str) -> list[Problem]:
    """What one line cannot show: the task must be the project's, ids unique, a rubric needs a judge,
    a classification's reference among its labels."""
    problems = []
    seen: dict[str, int] = {}
    for example in examples:
        if example.task not in tasks:
            problems.append(Problem(label, f"task '{example.task}' is not one of this project's tasks in "
                                           f"{requirement_label}; use one of them, or add it to needs.tasks", "task",
                                    example.line, None, ", ".join(tasks)))
        if example.id in seen and not example.id.startswith("line "):
            problems.append(Problem(label, f"id '{example.id}' is already used on line {seen[example.id]}; give each "
                                           "example its own id", "id", example.line))
        seen.setdefault(example.id, example.line)
        if example.rubric and not example.reference and spec.judge is None:
            problems.append(Problem(label, f"a rubric without a reference needs a judge model, and "
                                           f"{requirement_label} names none; add pilot.judge there, or a reference "
                                           "here", "rubric", example.line))
        if example.labels and example.reference not in example.labels:
            problems.append(Problem(label, f"reference '{example.reference}' is not one of this example's labels; "
                                           "use one of them", "reference", example.line, None, ", ".join(example.labels)))
    if not examples:
        problems.append(Problem(label, "file has no example; write one JSON example per line"))
    return problems
