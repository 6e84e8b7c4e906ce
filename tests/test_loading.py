"""The strict loaders: encodings, YAML/JSON traps, and positions for error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelmemo.loading import InputError, load_document, parse_json, parse_yaml
from modelmemo.settings import MAX_INPUT_BYTES, MAX_NESTING_DEPTH


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
