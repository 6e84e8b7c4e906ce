"""Hostile and broken requirement files: a corpus (tests/data/hostile/) plus generated inputs.

Every file dropped into the folder must end in exactly one of two places: a memo, or a clear
rejection naming the file, the field, the line and what to fix. Nothing may raise, no traceback
may reach the terminal, and one bad file must never affect the others.

What this module tries (the figure for the closing note is also printed at the end of the run):
* 54 corpus files: 51 in tests/data/hostile/ + 3 generated at test time (huge.yaml > 256 KiB,
  deep-nesting-max.yaml/.json just under the 256 KiB limit);
* hypothesis: 150 mutated valid documents (YAML and JSON), 150 random byte strings,
  25 random free texts rendered to HTML  -> 325 generated inputs;
* 2 symlinks (to /etc/passwd and to a valid file outside the drop folder).
Total: 381 hostile inputs per run (printed as "hostile inputs tried: ...").

Known bugs in the lead's code are marked xfail(strict=True) with the reason: see KNOWN_BUGS.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelmemo.cli import main as cli_main
from modelmemo.settings import MAX_INPUT_BYTES, MAX_NESTING_DEPTH
from modelmemo.inputs.validation import validate_file

from .conftest import CATALOG, DATA, ROOT, TEMPLATES, copy_examples
from .helpers import BASE_REQUIREMENTS, pdf_text, run_modelmemo
from .support_renderer import FAKE_PDF

HOSTILE = DATA / "hostile"
COUNTS = {"corpus": 0, "hypothesis": 0, "symlinks": 0}


# --- expectations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    accepted: bool
    words: tuple[str, ...] = ()  # each must appear in the problems' messages/allowed text
    line: int | None = None  # a problem must point at this line (None: no line is meaningful)
    path: str | None = None  # a problem must name this field


def ok() -> Expect:
    return Expect(True)


def bad(*words: str, line: int | None = None, path: str | None = None) -> Expect:
    return Expect(False, tuple(words), line, path)


EXPECTED: dict[str, Expect] = {
    # encodings and empty files
    "empty.yaml": bad("empty"),  # "file is empty", no line (there is none)
    "whitespace.yaml": bad("empty"),  # only spaces/tabs/newlines: also "file is empty"
    "binary.yaml": bad("binary"),  # PNG bytes: "binary or UTF-16, not UTF-8 text"
    "utf16.yaml": bad("UTF-16", "UTF-8"),  # BOM says UTF-16: "save it as UTF-8"
    "utf16-nobom.json": bad("UTF-16"),  # UTF-16 without BOM: NUL bytes, "binary or UTF-16"
    "latin1.yaml": bad("not valid UTF-8", "Latin-1", line=7),  # points at the é in owner.name
    "bom-ok.yaml": ok(),  # UTF-8 BOM + valid file: accepted, BOM is fine
    "control-chars.yaml": bad("U+0007", "control character", line=4),  # raw BEL (0x07) in a name: YAML refuses it
    "surrogate.json": bad("surrogate"),  # "\ud800" cannot be written as UTF-8: must be refused at load
    "surrogate-escape.yaml": bad("surrogate"),  # the same through a YAML "\ud800" escape
    "surrogate-in-enum.json": bad("surrogate", line=15),  # refused at load, before the schema echoes it
    # syntax
    "malformed.yaml": bad("not valid YAML", line=11),  # unclosed flow list: YAML error with its line
    "malformed.json": bad("not valid JSON", "property name", line=17),  # stray comma
    "trailing-garbage.json": bad("extra data", line=33),  # a second JSON value after the first
    "multi-document.yaml": bad("another document", line=25),  # two YAML documents in one file
    "tab-indented.yaml": bad("'\\t'", line=17),  # tab indentation: "found character '\t'"
    "top-level-list.yaml": bad("expected a mapping of fields", line=1, path="(top level)"),
    "top-level-scalar.yaml": bad("expected a mapping of fields", line=1, path="(top level)"),
    "non-string-key.yaml": bad("keys must be plain text", line=13),  # `42: answer`
    "python-tag.yaml": bad("YAML tags", "not allowed", line=14),  # !!python/object: refused, never runs
    # YAML bombs and depth
    "billion-laughs.yaml": bad("anchors", line=1),  # refused at the first anchor, nothing expands
    "anchors.yaml": bad("anchors", "remove the anchor", line=6),
    "aliases.yaml": bad("aliases", "write the value out", line=15),
    "deep-nesting.yaml": bad(f"deeper than {MAX_NESTING_DEPTH}", line=27),
    "deep-nesting.json": bad(f"deeper than {MAX_NESTING_DEPTH}", line=32),
    "deep-nesting-max.yaml": bad(f"deeper than {MAX_NESTING_DEPTH}", line=1),  # generated, just < 256 KiB
    "deep-nesting-max.json": bad(f"deeper than {MAX_NESTING_DEPTH}", line=1),  # generated, just < 256 KiB
    "huge.yaml": bad("limit is", f"{MAX_INPUT_BYTES:,}"),  # generated, > 256 KiB: refused unread
    "very-long-line.yaml": bad("at most 2000", line=5, path="project.summary"),  # 60 000-char summary
    "duplicate-keys.yaml": bad("duplicate key 'growth'", "first defined on line 23", line=24),
    "duplicate-keys.json": bad("duplicate key 'growth'", "first defined on line 29", line=30),
    # YAML 1.1 and number surprises
    "yaml11-no.yaml": ok(),  # languages: [en, no, sv]: Norwegian stays "no", accepted
    "yaml11-bool-as-string.yaml": bad("true or false", line=18, path="support.vendor_sla_required"),  # yes
    "unquoted-date.yaml": ok(),  # summary: 2024-01-01 stays the text "2024-01-01"
    "nan.yaml": bad("expected a number", line=14, path="budget.monthly_usd"),  # .nan is text, not a number
    "nan.json": bad("NaN", "finite number", line=18),  # NaN is not JSON
    "inf.json": bad("too large", line=18),  # 1e999 would become inf: refused while parsing
    "huge-int.json": bad("number", line=18),  # 5000-digit number: clear refusal
    "huge-int.yaml": bad("number", line=14),  # the same in YAML
    "tagged-nan.yaml": bad("YAML tags", line=14),  # !!float nan must not pass: explicit tags are refused
    "tagged-bad-float.yaml": bad("YAML tags", line=14),  # !!float .nan: refused with its line
    "tagged-bad-int.yaml": bad("YAML tags", line=14),  # !!int lots: refused with its line
    # schema mistakes
    "unknown-field.yaml": bad("unknown field 'colour'", "customization, languages, tasks", line=13, path="needs.colour"),
    "wrong-types.yaml": bad("expected a list", "expected a number", "true or false", line=10),
    "weights-out-of-range.yaml": bad("at most 10", "at least 0", line=25, path="weights.budget"),
    "weights-all-zero.yaml": bad("all weights are 0", line=25, path="weights"),
    "null-values.yaml": bad("expected text, got null", "expected a number, got null", line=5),
    "schema-version-2.yaml": bad("must be 1", line=1, path="schema_version"),
    "missing-sections.yaml": bad("'needs'", "'budget'", "'support'", "'security'", "'long_term'", line=1),
    "path-traversal-id.yaml": bad("wrong form", "lowercase letters", line=3, path="project.id"),  # ../../etc/passwd
    "id-with-slash.json": bad("wrong form", line=4, path="project.id"),  # team/project
    "bad-email-header.json": bad("not a valid email", line=8, path="project.owner.email"),  # CRLF + Bcc:
    # accepted files with hostile content (must be harmless downstream)
    "newline-in-name.yaml": ok(),  # name with \r\n + "Bcc:": accepted, never becomes an email header
    "hostile-text.yaml": ok(),  # <script>, <img src=file:>, url(), <link rel=attachment>: shown as text
}

# Files that once crashed `validate` or the whole batch (bugs found by this corpus, now fixed in
# modelmemo/inputs/loading.py and modelmemo/inputs/validation.py); each is a regression test in a real process.
FORMER_CRASHERS = ["control-chars.yaml", "huge-int.json", "huge-int.yaml", "surrogate-escape.yaml",
                   "surrogate-in-enum.json", "surrogate.json", "tagged-bad-float.yaml", "tagged-bad-int.yaml",
                   "tagged-nan.yaml"]
KNOWN_BUGS: dict[str, str] = {}  # name -> reason, for a new bug found later (marked xfail strict)
CLI_BUGS = dict(KNOWN_BUGS)
BATCH_BREAKERS = dict(KNOWN_BUGS)

REJECTED = sorted(name for name, expect in EXPECTED.items() if not expect.accepted)
ACCEPTED = sorted(name for name, expect in EXPECTED.items() if expect.accepted)


# --- the corpus on disk --------------------------------------------------------------------------


def _generated() -> dict[str, bytes]:
    """Files too big to ship: made at test time."""
    limit = MAX_INPUT_BYTES
    levels = (limit - 200) // 2
    return {
        "huge.yaml": b"schema_version: 1\nproject:\n  summary: " + b"x" * (limit + 100) + b"\n",
        "deep-nesting-max.yaml": b"a: " + b"[" * levels + b"]" * levels + b"\n",
        "deep-nesting-max.json": b'{"a": ' + b"[" * levels + b"]" * levels + b"}\n",
    }


GENERATED_NAMES = sorted(_generated())


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict[str, Path]:
    """name -> path of every corpus file (shipped + generated)."""
    folder = tmp_path_factory.mktemp("hostile-generated")
    files = {p.name: p for p in sorted(HOSTILE.iterdir()) if p.is_file()}
    for name, content in _generated().items():
        (folder / name).write_bytes(content)
        files[name] = folder / name
    assert len((folder / "huge.yaml").read_bytes()) > MAX_INPUT_BYTES
    for name in ("deep-nesting-max.yaml", "deep-nesting-max.json"):
        assert 200 * 1024 < len((folder / name).read_bytes()) < MAX_INPUT_BYTES
    COUNTS["corpus"] = len(files)
    return files


def test_every_corpus_file_has_an_expectation(corpus):
    assert sorted(corpus) == sorted(EXPECTED), "corpus and EXPECTED differ"
    for path in HOSTILE.iterdir():
        assert path.stat().st_size <= 100 * 1024, f"{path.name}: generate big files at test time"


def _param(name: str, bugs: dict[str, str]):
    marks = [pytest.mark.xfail(strict=True, reason=bugs[name])] if name in bugs else []
    return pytest.param(name, marks=marks, id=name)


# --- (1) validate_file over the corpus ------------------------------------------------------------


@pytest.mark.parametrize("name", [_param(n, KNOWN_BUGS) for n in sorted(EXPECTED)])
def test_corpus_file_gets_the_expected_outcome(corpus, name):
    expect = EXPECTED[name]
    document, problems = validate_file(corpus[name])
    if expect.accepted:
        assert problems == [], [str(p) for p in problems]
        assert document is not None
        return
    assert problems, f"{name} was accepted"
    for problem in problems:
        assert problem.file == name and problem.message.strip()
        text = str(problem)
        assert text.startswith(name), text
        text.encode("utf-8")  # printable on a UTF-8 terminal
    text = " | ".join(f"{p.path} {p.message} {p.allowed}" for p in problems)
    for word in expect.words:
        assert word in text, f"{word!r} not in: {text}"
    if expect.line is not None:
        assert expect.line in [p.line for p in problems], [str(p) for p in problems]
    if expect.path is not None:
        assert expect.path in [p.path for p in problems], [str(p) for p in problems]
    # one problem per distinct fault: no message repeated word for word
    assert len({str(p) for p in problems}) == len(problems), [str(p) for p in problems]


def test_yaml11_and_date_values_keep_their_text(corpus):
    assert validate_file(corpus["yaml11-no.yaml"])[0].data["needs"]["languages"] == ["en", "no", "sv"]
    assert validate_file(corpus["unquoted-date.yaml"])[0].data["project"]["summary"] == "2024-01-01"
    assert validate_file(corpus["bom-ok.yaml"])[0].data["project"]["id"] == "bom-ok"


# --- (2) the `validate` command -------------------------------------------------------------------


@pytest.mark.parametrize("name", [_param(n, CLI_BUGS) for n in REJECTED])
def test_cli_validate_rejects_with_file_prefixed_problems(corpus, name, capsys):
    path = str(corpus[name])
    status = cli_main(["validate", path])
    out, err = capsys.readouterr()
    assert status == 1
    lines = out.splitlines()
    assert lines and lines[0].startswith(path + ":"), out
    assert all(line.startswith(path + ":") for line in lines), out
    assert "Traceback" not in out + err
    (out + err).encode("utf-8")


def _run_validate(*paths: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modelmemo.cli", "validate", *paths], cwd=ROOT,
                          capture_output=True, text=True, errors="replace", timeout=60)


SUBPROCESS_SAMPLE = ["malformed.yaml", "binary.yaml", "billion-laughs.yaml", "deep-nesting.json", "utf16.yaml",
                     "latin1.yaml", "wrong-types.yaml", "path-traversal-id.yaml", "inf.json", "huge.yaml",
                     "deep-nesting-max.yaml", "python-tag.yaml"]


def test_cli_validate_in_a_real_process_prints_no_traceback(corpus):
    paths = [str(corpus[name]) for name in SUBPROCESS_SAMPLE]
    result = _run_validate(*paths)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(paths[0] + ":")
    assert all(any(line.startswith(p + ":") for p in paths) for line in lines), result.stdout
    assert {p for p in paths if any(line.startswith(p + ":") for line in lines)} == set(paths)


@pytest.mark.parametrize("name", FORMER_CRASHERS)
def test_cli_validate_former_crashers_in_a_real_process(corpus, name):
    path = str(corpus[name])
    result = _run_validate(path)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-500:]
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith(path + ":")


# --- (3)-(5) one batch with the whole corpus, symlinks and two valid examples -------------------------


def _drop_folder(base: Path, corpus: dict[str, Path], names: list[str]) -> tuple[Path, Path, Path]:
    drop, out, outside = base / "inputs", base / "output", base / "outside"
    for folder in (drop, out, outside):
        folder.mkdir()
    for name in names:
        shutil.copyfile(corpus[name], drop / name)
    copy_examples(drop, ["research-digest", "ticket-triage"])
    valid_outside = outside / "valid.yaml"
    data = copy.deepcopy(BASE_REQUIREMENTS)
    data["project"]["id"] = "symlinked-outside"
    valid_outside.write_text(yaml.safe_dump(data), encoding="utf-8")
    (drop / "passwd.yaml").symlink_to("/etc/passwd")
    (drop / "outside.yaml").symlink_to(valid_outside)
    COUNTS["symlinks"] = 2
    return drop, out, outside


def _run(drop: Path, out: Path):
    from modelmemo.batch.pipeline import run_batch

    with ProcessPoolExecutor(max_workers=4) as pool:
        return run_batch(drop, out, catalog_files=(CATALOG,), templates_dir=TEMPLATES, executor=pool)


def _check_batch(summary, drop: Path, out: Path, names: list[str]) -> None:
    accepted = [n for n in names if EXPECTED[n].accepted]
    rejected = sorted(n for n in names if not EXPECTED[n].accepted)
    memos = {p.file: p for p in summary.projects}
    assert set(memos) == set(accepted) | {"research-digest.yaml", "ticket-triage.yaml"}, \
        {p.file: (p.status, p.error) for p in summary.projects}
    assert all(p.status == "memo" for p in summary.projects), {p.file: p.error for p in summary.projects}
    assert sorted(r.file for r in summary.rejected) == rejected
    for rejection in summary.rejected:
        assert rejection.problems and all(p.message and p.file == rejection.file for p in rejection.problems)
    notices = {n.file: n.reason for n in summary.notices}
    assert set(notices) == {"passwd.yaml", "outside.yaml"}
    assert all("symbolic link" in reason for reason in notices.values())
    # no output name can escape the output folder
    root = out.resolve()
    for outcome in summary.projects:
        for name in (outcome.html, outcome.pdf, outcome.json):
            assert "/" not in name and ".." not in name
    for path in out.rglob("*"):
        assert root in path.resolve().parents
        assert ".." not in path.name and "passwd" not in path.name
    assert sorted(p.name for p in drop.parent.iterdir()) == ["inputs", "output", "outside"]


@pytest.fixture(scope="module")
def corpus_batch(corpus, tmp_path_factory):
    names = sorted(n for n in EXPECTED if n not in BATCH_BREAKERS)
    drop, out, _ = _drop_folder(tmp_path_factory.mktemp("batch"), corpus, names)
    summary = _run(drop, out)
    return summary, drop, out, names


def test_batch_with_the_whole_corpus(corpus_batch):
    summary, drop, out, names = corpus_batch
    _check_batch(summary, drop, out, names)
    data = json.loads((out / summary.run_id / "summary.json").read_text(encoding="utf-8"))
    assert data["counts"]["rejected"] == len([n for n in names if not EXPECTED[n].accepted])
    index = (out / summary.run_id / "index.html").read_text(encoding="utf-8")
    assert "path-traversal-id.yaml" in index and "<script" not in index.lower()


def test_batch_survives_every_corpus_file_including_known_crashers(corpus, tmp_path):
    names = sorted(EXPECTED)
    drop, out, _ = _drop_folder(tmp_path, corpus, names)
    summary = _run(drop, out)
    _check_batch(summary, drop, out, names)


def test_hostile_text_is_escaped_in_html_and_literal_in_pdf(corpus_batch):
    summary, _, out, _ = corpus_batch
    run_dir = out / summary.run_id
    html = (run_dir / "hostile-text.html").read_text(encoding="utf-8")
    lowered = html.lower()
    for raw in ("<script", '<img src="file:', "<link rel=attachment", "file:///etc/passwd\">"):
        assert raw not in lowered, raw
    # url(...) from the input may appear only as escaped text, never inside real CSS
    css = re.findall(r"<style[^>]*>(.*?)</style>", html, flags=re.S | re.I)
    css += re.findall(r'style\s*=\s*"([^"]*)"', html, flags=re.I)
    assert not any("file:" in block or "passwd" in block for block in css)
    assert "url(file:///etc/passwd)&lt;" in html or "url(file:///etc/passwd) }&lt;/style&gt;" in html
    assert "&lt;script&gt;alert(" in html and "&lt;img src=" in html and "&lt;link rel=attachment" in html
    pdf = run_dir / "hostile-text.pdf"
    text = pdf_text(pdf).replace("\n", "")
    assert "<script>alert(" in text  # shown literally, never executed
    assert "root:x:0:0" not in text and b"root:x:0:0" not in pdf.read_bytes()
    if shutil.which("pdfdetach"):
        listing = subprocess.run(["pdfdetach", "-list", str(pdf)], capture_output=True, text=True).stdout
        assert listing.strip().startswith("0 embedded files"), listing


def test_newline_in_name_never_becomes_an_email_header(corpus_batch):
    summary, _, out, _ = corpus_batch
    emails = sorted((out / summary.run_id / "outbox").glob("newline-in-name*.eml"))
    assert emails, "no email written for newline-in-name"
    raw = emails[0].read_bytes()
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert "Innocent" in message["Subject"] and "\n" not in str(message["Subject"])
    header_block = raw.split(b"\n\n", 1)[0].replace(b"\r\n", b"\n")
    for line in header_block.split(b"\n"):
        assert not line.lower().startswith((b"bcc:", b"x-injected:")), line
    assert [str(a) for a in message["To"].addresses] == ["Owner Name <owner@example.com>"] or \
        message["To"].addresses[0].addr_spec == "owner@example.com"


def test_symlinks_are_not_read_and_passwd_never_leaks(corpus_batch):
    summary, _, out, _ = corpus_batch
    assert "symlinked-outside" not in {p.project_id for p in summary.projects}
    for path in out.rglob("*"):
        if path.is_file():
            assert b"root:" not in path.read_bytes(), path
            if path.suffix == ".pdf":
                assert "root:" not in pdf_text(path), path


# --- (6) hypothesis -----------------------------------------------------------------------------------

_catalog_cache: list = []


def _catalog():
    if not _catalog_cache:
        from modelmemo.catalog.load import load_catalog

        _catalog_cache.append(load_catalog([CATALOG]))
    return _catalog_cache[0]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hypothesis")


JSON_LEAVES = (st.none() | st.booleans() | st.integers(-10**15, 10**15)
               | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
JSON_VALUES = st.recursive(JSON_LEAVES, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, prefix + (index,))


def _get(node, path):
    for part in path:
        node = node[part]
    return node


def _set(root, path, value):
    if not path:
        return value
    _get(root, path[:-1])[path[-1]] = value
    return root


@st.composite
def mutated_documents(draw):
    data = copy.deepcopy(BASE_REQUIREMENTS)
    data["weights"] = {"budget": 2, "security": 3}
    data["project"]["summary"] = "A summary."
    data["needs"]["languages"] = ["en", "no"]
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(data)) if isinstance(data, (dict, list)) else [()]
        op = draw(st.sampled_from(["drop", "add", "retype", "nest"]))
        if op == "drop":
            keyed = [p for p in paths if p and isinstance(_get(data, p[:-1]), dict)]
            if keyed:
                path = draw(st.sampled_from(keyed))
                del _get(data, path[:-1])[path[-1]]
        elif op == "add":
            dicts = [p for p in paths if isinstance(_get(data, p), dict)]
            if dicts:
                target = _get(data, draw(st.sampled_from(dicts)))
                target[draw(st.text(min_size=1, max_size=12))] = draw(JSON_VALUES)
        elif op == "retype":
            leaves = [p for p in paths if not isinstance(_get(data, p), (dict, list))] or [()]
            path = draw(st.sampled_from(leaves))
            old = _get(data, path) if path else data
            value = draw(JSON_VALUES.filter(lambda v, t=type(old): type(v) is not t))
            data = _set(data, path, value)
        else:
            path = draw(st.sampled_from(paths))
            value = _get(data, path)
            for level in range(draw(st.integers(1, MAX_NESTING_DEPTH + 8))):
                value = [value] if level % 2 else {"k": value}
            data = _set(data, path, value)
    return data


def _write(folder: Path, data, fmt: str) -> Path:
    if fmt == "json":
        path = folder / "mutated.json"
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    else:
        path = folder / "mutated.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _assert_clean(path: Path, document, problems) -> None:
    for problem in problems:
        assert problem.file == path.name and problem.message.strip(), problem
        str(problem).encode("utf-8")
    if not problems:
        assert document is not None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated_documents(), fmt=st.sampled_from(["yaml", "json"]))
def test_mutated_documents_are_accepted_or_cleanly_rejected(scratch, data, fmt):
    from modelmemo.decision import decide
    from modelmemo.inputs.requirements import Requirements

    COUNTS["hypothesis"] += 1
    path = _write(scratch, data, fmt)
    document, problems = validate_file(path)
    _assert_clean(path, document, problems)
    if not problems:
        req = Requirements.from_data(document.data)
        decide(req, _catalog())


@settings(max_examples=150, deadline=None)
@given(raw=st.binary(max_size=2000), suffix=st.sampled_from([".yaml", ".json"]),
       prefix=st.sampled_from([b"", b"\xef\xbb\xbf", b"schema_version: 1\nproject:\n  id: ", b'{"a": [']))
def test_random_bytes_are_cleanly_rejected(scratch, raw, suffix, prefix):
    COUNTS["hypothesis"] += 1
    content = prefix + raw
    path = scratch / f"random{suffix}"
    path.write_bytes(content)
    document, problems = validate_file(path)
    _assert_clean(path, document, problems)


HOSTILE_PREFIXES = ["", "<script>alert(1)</script>", '<img src="file:///etc/passwd">', "</style><script>",
                    "url(file:///etc/passwd)", "\r\nBcc: x@evil.example\r\n", "{{ 7*7 }}{% raw %}"]
FREE_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=150)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=FREE_TEXT, summary=FREE_TEXT, owner=FREE_TEXT, prefix=st.sampled_from(HOSTILE_PREFIXES),
       fmt=st.sampled_from(["yaml", "json"]))
def test_random_free_text_is_rejected_cleanly_or_rendered_escaped(scratch, name, summary, owner, prefix, fmt):
    from modelmemo.memo.document import RunContext, make_memo
    from modelmemo.memo.render import render_memo_html
    from modelmemo.inputs.requirements import Requirements

    COUNTS["hypothesis"] += 1
    data = copy.deepcopy(BASE_REQUIREMENTS)
    data["project"].update(name=prefix + name, summary=summary + prefix)
    data["project"]["owner"]["name"] = prefix + owner
    path = _write(scratch, data, fmt)
    document, problems = validate_file(path)
    _assert_clean(path, document, problems)
    if problems:
        return
    req = Requirements.from_data(document.data)
    memo = make_memo(req, _catalog(), RunContext("hypothesis", "2024-01-01T00:00:00+00:00", path.name, "0" * 64))[0]
    html = render_memo_html(memo, TEMPLATES)
    lowered = html.lower()
    assert "<script" not in lowered and '<img src="file:' not in lowered
    if prefix == "{{ 7*7 }}{% raw %}":
        assert "{{ 7*7 }}" in html  # data is never evaluated as a template


# --- (7) file names and what is opened (issue "Safety first", findings 2 and 10) ---------------------

LATIN1_NAME = b"r\xe9sum\xe9.yaml"  # Latin-1 bytes: not valid UTF-8
ANSI_NAME = "evil\x1b[2J\x1b[31m.yaml"  # clears the screen and turns it red if printed raw
RLO_NAME = "invoice\u202efdp.yaml"  # shows as "invoicelmay.pdf" if printed raw
ISOLATE_NAME = "note\u2066\x9b.txt"  # a bidi isolate and a C1 CSI
RAW_UNSAFE = ("\x1b", "\u202e", "\u2066", "\x9b")
SECRET = "TOP-SECRET-4711: first line of a file outside the drop folder"


def _valid_yaml(project_id: str) -> bytes:
    data = copy.deepcopy(BASE_REQUIREMENTS)
    data["project"]["id"] = project_id
    return yaml.safe_dump(data, sort_keys=False).encode("utf-8")


def _folders(tmp_path: Path) -> tuple[Path, Path]:
    drop, out = tmp_path / "inputs", tmp_path / "output"
    drop.mkdir()
    return drop, out


def _batch(drop: Path, out: Path, deliver: bool = False):
    """A batch for the file-name tests: they check every output but the PDFs, so the fake renders them."""
    from modelmemo.batch.pipeline import run_batch

    return run_batch(drop, out, catalog_files=(CATALOG,), templates_dir=TEMPLATES, deliver=deliver,
                     renderer=FAKE_PDF)


def _output_texts(out: Path) -> dict[Path, str]:
    """Every file the run wrote except PDFs, decoded as strict UTF-8 (which must never fail)."""
    return {path: path.read_bytes().decode("utf-8") for path in sorted(out.rglob("*"))
            if path.is_file() and path.suffix != ".pdf" and path.name != "run.lock"}


def _modelmemo(*args: str | bytes, timeout: float = 30, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_modelmemo(*args, env=env, timeout=timeout, text=False)


def test_finding2_non_utf8_name_is_rejected_and_the_run_says_so(tmp_path, capsys):
    """A .yaml whose name is not UTF-8 is a rejection naming the file and the fix (rename it), so the
    exit code says a file was not processed (it used to be a notice, and the run exited 0); the
    rest of the run goes on, and every output stays strict UTF-8."""
    from modelmemo.cli.console import print_report as _report
    from modelmemo.cli.run import nothing_to_do

    drop, out = _folders(tmp_path)
    with open(os.path.join(os.fsencode(drop), LATIN1_NAME), "wb") as handle:
        handle.write(_valid_yaml("latin1-name"))
    assert nothing_to_do(drop, 0) is None  # alone in the folder it still makes a run: its rejection is news
    (drop / "fine.yaml").write_bytes(_valid_yaml("fine-name"))
    with open(os.path.join(os.fsencode(drop), b"notes-\xe9.txt"), "wb") as handle:
        handle.write(b"not an input: not processed, as any .txt")
    summary = _batch(drop, out)
    shown = "r\\xe9sum\\xe9.yaml"
    assert [(p.file, p.status) for p in summary.projects] == [("fine.yaml", "memo")]
    [rejection] = summary.rejected
    [problem] = rejection.problems
    assert rejection.file == problem.file == shown
    assert "not valid UTF-8" in problem.message and "rename" in problem.message
    assert [(n.file, n.kind) for n in summary.notices] == [("notes-\\xe9.txt", "ignored")]
    run_dir = out / summary.run_id
    texts = _output_texts(out)  # strict UTF-8
    assert json.loads(texts[run_dir / "summary.json"])["rejected"][0]["file"] == shown
    assert shown in texts[run_dir / "index.html"]
    assert _report(summary, out) == 1  # the exit code of `run`: a file was not processed
    printed = capsys.readouterr().out
    printed.encode("utf-8")
    assert f"rejected {shown}:" in printed and f"{shown}: the file name is not valid UTF-8" in printed


def test_finding2_validate_prints_non_utf8_name_escaped(tmp_path):
    path = os.path.join(os.fsencode(tmp_path), LATIN1_NAME)
    with open(path, "wb") as handle:
        handle.write(_valid_yaml("latin1-name"))
    result = _modelmemo("validate", path, env={**os.environ, "PYTHONIOENCODING": "utf-8"})  # a UTF-8 terminal
    assert result.returncode == 1, result.stderr.decode("utf-8", "replace")[-500:]  # a run would not process it
    assert result.stdout.decode("utf-8") == (f"{tmp_path}/r\\xe9sum\\xe9.yaml: the file name is not valid UTF-8, "
                                             "so a run will not process it; rename the file\n")


def test_finding10_ansi_and_bidi_in_names_escaped(tmp_path, capsys, monkeypatch):
    import flows.reporting
    from modelmemo.cli.console import print_progress as _print_progress, print_report as _report
    from modelmemo.batch.pipeline import ProjectOutcome

    drop, out = _folders(tmp_path)
    (drop / ANSI_NAME).write_bytes(_valid_yaml("ansi-name"))  # valid: processed, with an escaped name
    (drop / RLO_NAME).write_text("schema_version: 1\n")  # rejected
    (drop / ISOLATE_NAME).write_text("x")  # not processed
    shown_ansi, shown_rlo, shown_isolate = "evil\\x1b[2J\\x1b[31m.yaml", "invoice\\u202efdp.yaml", "note\\u2066\\u009b.txt"

    summary = _batch(drop, out, deliver=True)  # .eml files in the outbox

    assert [(p.file, p.status) for p in summary.projects] == [(shown_ansi, "memo")]
    assert [r.file for r in summary.rejected] == [shown_rlo]
    assert all(p.file == shown_rlo for p in summary.rejected[0].problems)
    assert [n.file for n in summary.notices] == [shown_isolate]
    run_dir = out / summary.run_id
    texts = _output_texts(out)
    assert any(path.suffix == ".eml" for path in texts)
    for path, text in texts.items():  # index, summary, memo JSON and HTML, email, state
        assert not any(char in text for char in RAW_UNSAFE), path
    assert json.loads(texts[run_dir / "ansi-name.json"])["input_file"] == shown_ansi
    assert shown_ansi in texts[run_dir / "ansi-name.html"]
    assert all(name in texts[run_dir / "index.html"] for name in (shown_ansi, shown_rlo, shown_isolate))
    saved = json.loads(texts[run_dir / "summary.json"])
    assert [p["file"] for p in saved["projects"]] + [r["file"] for r in saved["rejected"]] \
        + [n["file"] for n in saved["not_processed"]] == [shown_ansi, shown_rlo, shown_isolate]

    _report(summary, out)  # the console
    _print_progress(1, 1, ProjectOutcome("x", "X", shown_rlo, "failed", error="content says \x1b[2J\u202e"))
    printed = capsys.readouterr().out
    assert not any(char in printed for char in RAW_UNSAFE), printed
    assert f"rejected {shown_rlo}:" in printed and f"not processed {shown_isolate}:" in printed

    artifacts: list[dict] = []  # the Prefect artifact
    monkeypatch.setattr(flows.reporting, "create_table_artifact", lambda **kwargs: artifacts.append(kwargs))
    flows.reporting.result_table_artifact(summary)
    [artifact] = artifacts
    assert [row["file"] for row in artifact["table"]] == [shown_ansi, shown_rlo]
    assert not any(char in json.dumps(artifact, ensure_ascii=False) for char in RAW_UNSAFE)


@pytest.mark.parametrize("when", ["after-scan", "after-planning"])
def test_finding10_symlink_swapped_after_scan_not_followed(tmp_path, capsys, monkeypatch, when):
    """A regular file replaced by a symlink between the scan and the read (in planning, or before the
    render re-reads it) is refused as a symlink: its target's first line is never quoted anywhere."""
    from modelmemo.batch import pipeline
    from modelmemo.cli.console import print_progress as _print_progress, print_report as _report

    drop, out = _folders(tmp_path)
    secret = tmp_path / "secret.yaml"
    secret.write_text(SECRET + "\n")
    target = drop / "swap.yaml"
    target.write_bytes(_valid_yaml("swapped"))

    def swap() -> None:
        link = drop / ".link"
        link.symlink_to(secret)
        os.replace(link, target)

    stage = pipeline.scan_settled if when == "after-scan" else pipeline.plan_batch  # the scan planning does

    def stage_then_swap(*args, **kwargs):
        result = stage(*args, **kwargs)
        swap()
        return result

    monkeypatch.setattr(pipeline, stage.__name__, stage_then_swap)
    summary = pipeline.run_batch(drop, out, catalog_files=(CATALOG,), templates_dir=TEMPLATES, deliver=False,
                                 progress=_print_progress, renderer=FAKE_PDF)
    if when == "after-scan":
        [rejection] = summary.rejected
        reported = str(rejection.problems[0])
    else:
        [outcome] = summary.projects
        assert outcome.status == "failed"
        reported = outcome.error
    assert "swap.yaml: is a symbolic link: not followed; copy the file in instead" in reported
    _report(summary, out)
    printed = capsys.readouterr().out
    assert "symbolic link" in printed
    for text in [printed, *_output_texts(out).values()]:
        assert "4711" not in text


def test_finding10_validate_fifo_does_not_block(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    result = _modelmemo("validate", str(fifo))  # raises TimeoutExpired if it blocks
    assert result.returncode == 1
    assert result.stdout.decode() == f"{fifo}: not a regular file but a named pipe (FIFO); only regular files are read\n"
    assert result.stderr == b""


def test_finding10_fifo_swapped_in_after_planning_does_not_block(tmp_path, monkeypatch):
    from modelmemo.batch import pipeline
    from modelmemo.batch.state import batch_lock

    drop, out = _folders(tmp_path)
    target = drop / "pipe.yaml"
    target.write_bytes(_valid_yaml("piped"))
    plan = pipeline.plan_batch

    def plan_then_swap(*args, **kwargs):
        result = plan(*args, **kwargs)
        os.mkfifo(drop / ".fifo")
        os.replace(drop / ".fifo", target)
        return result

    monkeypatch.setattr(pipeline, "plan_batch", plan_then_swap)
    done: dict = {}
    worker = threading.Thread(target=lambda: done.update(summary=_batch(drop, out)), daemon=True)
    worker.start()
    worker.join(10)
    blocked = worker.is_alive()
    if blocked:  # let the stuck read finish (end of file) so the test fails instead of hanging
        os.close(os.open(target, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(10)
    assert not blocked, "the render blocked on a FIFO while holding the lock"
    [outcome] = done["summary"].projects
    assert outcome.status == "failed" and "not a regular file but a named pipe (FIFO)" in outcome.error
    with batch_lock(out):  # the lock was released
        pass


def test_finding10_duplicate_ids_message_is_bounded(tmp_path):
    from modelmemo.batch.pipeline import plan_batch

    content = _valid_yaml("same-id")
    for index in range(200):
        (tmp_path / f"copy-{index:03}.yaml").write_bytes(content)
    plan = plan_batch(tmp_path)
    assert plan.projects == () and len(plan.rejected) == 200
    messages = [str(problem) for rejection in plan.rejected for problem in rejection.problems]
    assert max(map(len, messages)) < 200 and sum(map(len, messages)) < 200 * 200
    assert plan.rejected[0].problems[0].message == (
        "project id 'same-id' is also used by copy-001.yaml, copy-002.yaml, copy-003.yaml and 196 more; "
        "each project needs its own id")
    pair = tmp_path / "pair"
    pair.mkdir()
    for name in ("a.yaml", "b.yaml"):
        (pair / name).write_bytes(content)
    pair_rejected = plan_batch(pair).rejected
    assert [r.problems[0].message for r in pair_rejected] == [
        "project id 'same-id' is also used by b.yaml; each project needs its own id",
        "project id 'same-id' is also used by a.yaml; each project needs its own id"]
    # Like every rejection, it points at the line and column where the fix goes: the id's value.
    for rejection in pair_rejected:
        problem = rejection.problems[0]
        line = content.decode().splitlines()[problem.line - 1]
        assert line[problem.column - 1:].startswith("same-id"), (problem, line)
        assert str(problem).startswith(f"{rejection.file}:{problem.line}:{problem.column}: project.id: ")


# --- control and bidi characters written as escapes (issue 23) -----------------------------------------
# The YAML reader and the JSON parser refuse a raw ESC, but "\e", "\x1b" or "\u001b" in quotes used
# to reach the memo, the index and the email as the character itself. Every text value and field name is
# checked after parsing: C0 controls but tab and line breaks, DEL, C1 controls, and the bidi embedding,
# override and isolate characters (U+202A-U+202E, U+2066-U+2069).

PLACEHOLDER = "PLACEHOLDER-TEXT"


def _document_with(fmt: str, literal: str, field: str = "project.name") -> str:
    """A valid document whose `field` is written as `literal` (quotes included), exactly as given."""
    data = copy.deepcopy(BASE_REQUIREMENTS)
    section, key = field.split(".")
    data[section][key] = PLACEHOLDER
    text = json.dumps(data, indent=2) if fmt == "json" else yaml.safe_dump(data, sort_keys=False)
    quoted = f'"{PLACEHOLDER}"' if fmt == "json" else PLACEHOLDER
    assert text.count(quoted) == 1
    return text.replace(quoted, literal)


@pytest.mark.parametrize("fmt, literal, code", [
    ("json", '"Bell\\u001b[2J"', "U+001B"),
    ("yaml", '"Evil\\e[31m"', "U+001B"),
    ("yaml", '"Evil\\x1b[31m"', "U+001B"),
    ("yaml", '"bell\\a"', "U+0007"),
    ("json", '"nul\\u0000"', "U+0000"),
    ("json", '"del\\u007f"', "U+007F"),
    ("json", '"raw del \x7f"', "U+007F"),  # raw: the JSON parser lets DEL and C1 through
    ("yaml", '"csi\\x9b31m"', "U+009B"),
    ("json", '"raw csi \u009b31m"', "U+009B"),
    ("json", '"invoice\\u202efdp"', "U+202E"),  # right-to-left override
    ("yaml", '"invoice\u202efdp"', "U+202E"),  # raw: YAML allows it
    ("yaml", '"iso\\u2066late\\u2069"', "U+2066"),
])
def test_escaped_control_and_bidi_characters_are_refused_with_field_and_line(tmp_path, fmt, literal, code):
    text = _document_with(fmt, literal)
    path = tmp_path / f"escaped.{fmt}"
    path.write_text(text, encoding="utf-8")
    line = next(number for number, content in enumerate(text.splitlines(), 1) if literal in content)
    document, problems = validate_file(path)
    assert problems, f"{literal!r} was accepted"
    [problem] = [p for p in problems if p.path == "project.name"]
    assert problem.line == line and problem.column
    assert code in problem.message and "remove it" in problem.message, problem.message
    assert str(problem).startswith(f"escaped.{fmt}:{line}:{problem.column}: project.name: ")
    assert not any(char in str(problem) for char in "\x00\x07\x1b\x7f\x9b\u202e\u2066"), str(problem)


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_escaped_control_character_in_a_summary_or_a_field_name_is_refused(tmp_path, fmt):
    summary = tmp_path / f"summary.{fmt}"
    summary.write_text(_document_with(fmt, '"first line\\u001b[2J"', "project.summary"), encoding="utf-8")
    assert [p.path for p in validate_file(summary)[1]] == ["project.summary"]
    key = tmp_path / f"key.{fmt}"
    text = _document_with(fmt, '"x"', "project.summary").replace("summary", "sum\\u001bmary" if fmt == "json"
                                                                  else '"sum\\emary"')
    key.write_text(text, encoding="utf-8")
    problems = validate_file(key)[1]
    assert any("U+001B" in p.message and "field name" in p.message for p in problems), [str(p) for p in problems]


@pytest.mark.parametrize("fmt, literal", [
    ("json", '"First line.\\nSecond line.\\tTabbed.\\r\\nThird."'),
    ("yaml", '"First line.\\nSecond line.\\tTabbed."'),
    ("yaml", '|-\n    First line.\n    Second line.'),
    ("json", '"\u05e9\u05dc\u05d5\u05dd \u200fmarks\u200e, joiners \u200d and \u200c stay"'),  # RLM/LRM/ZWJ/ZWNJ
])
def test_tabs_line_breaks_and_direction_marks_stay_allowed_in_text(tmp_path, fmt, literal):
    path = tmp_path / f"multiline.{fmt}"
    path.write_text(_document_with(fmt, literal, "project.summary"), encoding="utf-8")
    document, problems = validate_file(path)
    assert problems == [], [str(p) for p in problems]


# --- the count for the closing note ---------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _report_count(request):
    yield
    total = COUNTS["corpus"] + COUNTS["hypothesis"] + COUNTS["symlinks"]
    line = (f"hostile inputs tried: {total} ({COUNTS['corpus']} corpus files, {COUNTS['symlinks']} symlinks, "
            f"{COUNTS['hypothesis']} hypothesis examples)")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            reporter.write_line(line)
    else:  # pragma: no cover
        print(line)
