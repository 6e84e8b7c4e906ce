"""names.display_name: any file name becomes safe, readable text (issue "Safety first", findings 2 and 10)."""

from __future__ import annotations

import os
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelmemo.inputs.names import display_name, is_valid_utf8_name


@pytest.mark.parametrize("raw, shown", [
    (os.fsdecode(b"r\xe9sum\xe9.yaml"), "r\\xe9sum\\xe9.yaml"),  # Latin-1 bytes: the bytes, as \xNN
    ("red\x1b[31m.yaml", "red\\x1b[31m.yaml"),  # ESC: no terminal escape sequence survives
    ("a\nb\tc\x00d\x7f.yaml", "a\\x0ab\\x09c\\x00d\\x7f.yaml"),  # C0 controls and DEL
    ("csi\x9b31m.yaml", "csi\\u009b31m.yaml"),  # C1 CSI: \u, so it never looks like an undecodable byte
    ("invoice\u202efdp.yaml", "invoice\\u202efdp.yaml"),  # right-to-left override
    ("x\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u200e\u200f\u061c.json",
     "x\\u2066\\u2067\\u2068\\u2069\\u202a\\u202b\\u202c\\u200e\\u200f\\u061c.json"),
    ("zero\u200bwidth\ufeff\u00ad\u2028\u2029.yml", "zero\\u200bwidth\\ufeff\\u00ad\\u2028\\u2029.yml"),
    ("tag\U000e0041.yaml", "tag\\U000e0041.yaml"),  # invisible tag characters ("ASCII smuggling")
])
def test_finding10_controls_bidi_and_undecodable_bytes_are_escaped(raw, shown):
    assert display_name(raw) == shown


@pytest.mark.parametrize("name", [
    "plain-name.yaml", "Résumé Müller.yaml", "项目需求.yaml", "要件 定義.json", "متطلبات.yaml", "דרישות.yml",
    "🚀 launch.yaml", "family 👨\u200d👩\u200d👧.yaml", "می\u200cخواهم.yaml", "café\u0301 ñ.yaml", "a\\x1b.yaml",
])
def test_ordinary_names_are_unchanged(name):
    assert display_name(name) == name


def test_is_valid_utf8_name():
    assert is_valid_utf8_name("Résumé 项目 🚀.yaml")
    assert is_valid_utf8_name("red\x1b[31m.yaml")  # valid UTF-8; shown escaped, still processed
    assert not is_valid_utf8_name(os.fsdecode(b"r\xe9sum\xe9.yaml"))
    assert not is_valid_utf8_name(os.fsdecode(b"\xed\xa0\x80.yaml"))  # an encoded surrogate is not UTF-8


# Every possible file name: arbitrary bytes decoded as Python decodes names, and arbitrary text.
NAMES = (st.binary(max_size=40).map(os.fsdecode)
         | st.text(max_size=40)
         | st.text(st.characters(categories=["Cc", "Cf", "Cs", "Zl", "Zp", "Mn", "Lo", "So", "Ll"]), max_size=40))


@given(NAMES)
def test_any_name_becomes_printable_utf8_text(name):
    shown = display_name(name)
    shown.encode("utf-8")  # never raises: no surrogates left
    assert not any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") for c in shown)
    assert not any(unicodedata.category(c) == "Cf" and c not in "\u200c\u200d" for c in shown)
    assert display_name(shown) == shown  # escaping twice changes nothing (reports may escape whole lines)
