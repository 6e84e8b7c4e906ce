"""The strict loaders: encodings, YAML/JSON traps, and positions for error messages."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from modelmemo.inputs.loading import InputError, load_document, parse_json, parse_yaml
from modelmemo.settings import MAX_INPUT_BYTES, MAX_NESTING_DEPTH
from modelmemo.inputs.validation import validate_file


def write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def test_utf8_bom_is_accepted(tmp_path):
    doc = load_document(write(tmp_path, "a.yaml", b"\xef\xbb\xbfkey: value\n"))
    assert doc.data == {"key": "value"}


@pytest.mark.parametrize("content, expected", [
    ("key: value\n".encode("utf-16"), "UTF-16"),
    ("name: Jos\u00e9\n".encode("latin-1"), "not valid UTF-8"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "NUL bytes"),
    (b"", "empty"),
    (b"   \n\n", "empty"),
])
def test_unreadable_bytes_get_a_specific_message(tmp_path, content, expected):
    with pytest.raises(InputError, match=expected):
        load_document(write(tmp_path, "a.yaml", content))


def test_latin1_error_points_at_the_line(tmp_path):
    with pytest.raises(InputError) as info:
        load_document(write(tmp_path, "a.yaml", "a: 1\nname: Jos\u00e9\n".encode("latin-1")))
    assert info.value.line == 2 and info.value.column == 10


def test_huge_file_is_refused_without_parsing(tmp_path):
    with pytest.raises(InputError, match="limit is"):
        load_document(write(tmp_path, "a.yaml", b"a: " + b"x" * (MAX_INPUT_BYTES + 10)))


def test_yaml_aliases_and_anchors_are_refused():
    bomb = 'a: &a ["lol","lol"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n'
    with pytest.raises(InputError, match="anchors"):
        parse_yaml(bomb)
    with pytest.raises(InputError, match="aliases") as info:
        parse_yaml("a: 1\nb: *x\n")
    assert info.value.line == 2


@pytest.mark.parametrize("text", ["[" * 50000 + "]" * 50000, "a:\n" + "".join(" " * i + "- \n" for i in range(1, 200))])
def test_deep_nesting_is_refused_not_crashing(text):
    with pytest.raises(InputError, match=f"deeper than {MAX_NESTING_DEPTH}"):
        parse_yaml(text)


def test_deep_json_nesting_is_refused():
    with pytest.raises(InputError, match="deeper"):
        parse_json("[" * 50000 + "]" * 50000)


def test_duplicate_keys_are_refused_with_both_lines():
    with pytest.raises(InputError, match="duplicate key 'name' \\(first defined on line 2\\)") as info:
        parse_yaml("project:\n  name: A\n  name: B\n")
    assert info.value.line == 3
    with pytest.raises(InputError, match="duplicate key 'a'"):
        parse_json('{"a": 1,\n "a": 2}')


def test_yaml_1_1_surprises_are_off():
    data, _, _ = parse_yaml("lang: no\nflag: yes\nwhen: 2024-01-01\nn: .nan\ni: .inf\nb: true\no: 012\nf: 1.5\n")
    assert data == {"lang": "no", "flag": "yes", "when": "2024-01-01", "n": ".nan", "i": ".inf", "b": True,
                    "o": "012", "f": 1.5}


@pytest.mark.parametrize("word", ["NaN", "Infinity", "-Infinity"])
def test_json_non_finite_numbers_are_refused(word):
    with pytest.raises(InputError, match=word):
        parse_json('{"a": %s}' % word)


def test_json_positions_and_errors():
    data, positions, keys = parse_json('{\n  "a": {\n    "b": [1, 2.5, "x"]\n  }\n}')
    assert data == {"a": {"b": [1, 2.5, "x"]}}
    assert positions[("a", "b", 2)] == (3, 19)
    assert keys[("a", "b")] == (3, 5)
    with pytest.raises(InputError, match="expected ',' or '}'") as info:
        parse_json('{\n  "a": 1\n  "b": 2\n}')
    assert info.value.line == 3


def test_yaml_syntax_error_has_position():
    with pytest.raises(InputError, match="not valid YAML") as info:
        parse_yaml("a: [1, 2\nb: 3\n")
    assert info.value.line is not None


# --- what is opened (issue "Safety first", finding 10) ---------------------------------------


def _finishes(call, fifo: Path, seconds: float = 10.0):
    """call() in a thread; if it is still blocked on the FIFO after `seconds`, unblock it (open the
    FIFO for writing and close it) so the test fails instead of hanging."""
    result: dict = {}

    def target():
        try:
            result["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    blocked = thread.is_alive()
    if blocked:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(seconds)
    assert not blocked, f"reading {fifo.name} blocked for {seconds} s"
    return result


def test_finding10_symlink_is_not_followed_for_inputs(tmp_path):
    secret = write(tmp_path, "secret.yaml", "TOP-SECRET-4711\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(secret)
    with pytest.raises(InputError, match="symbolic link: not followed; copy the file in instead") as info:
        load_document(link, follow_symlinks=False)
    assert "4711" not in info.value.message
    _, problems = validate_file(link)  # validate_file is how inputs are read: never follows
    assert len(problems) == 1 and "symbolic link" in problems[0].message and "4711" not in str(problems[0])
    assert load_document(link).data == "TOP-SECRET-4711"  # the operator's own files (catalog) may be links


def test_finding10_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    result = _finishes(lambda: validate_file(fifo), fifo)
    _, problems = result["value"]
    assert [p.message for p in problems] == ["not a regular file but a named pipe (FIFO); only regular files are read"]


def test_finding10_folder_and_device_are_not_read(tmp_path):
    with pytest.raises(InputError, match="not a regular file but a folder"):
        load_document(tmp_path)
    with pytest.raises(InputError, match="not a regular file but a device"):
        load_document(Path("/dev/null"))


def test_size_limit_is_checked_on_the_open_file_before_reading(tmp_path):
    path = tmp_path / "sparse.yaml"
    with open(path, "wb") as handle:
        handle.truncate(10 * 1024**3)  # 10 GiB, sparse: refused from fstat, not read
    with pytest.raises(InputError, match=f"file is {10 * 1024**3:,} bytes; the limit is {MAX_INPUT_BYTES:,}"):
        load_document(path)
