"""File names are bytes someone else chose: turn them into text that is safe to show anywhere.

On Linux a file name is any byte string without "/" and NUL. Python decodes it as UTF-8 with
`surrogateescape`, so a byte that is not UTF-8 (a Latin-1 "é" is the single byte 0xE9) becomes a
lone surrogate such as U+DCE9. That text can be used to open the file again, but no UTF-8 writer
accepts it: one such name in a JSON, HTML or console write stopped the whole run (issue "Safety
first", finding 2). A name that *is* valid UTF-8 can still carry characters that act instead of
showing: ESC starts terminal escape sequences (colours, cursor moves, rewriting what is on screen),
and bidirectional controls such as U+202E RIGHT-TO-LEFT OVERRIDE make "invoice\\u202efdp.yaml" look
like "invoicelmay.pdf" (finding 10).

So every file name is reported through `display_name`, which is the same everywhere (console,
index.html, summary.json, the memo's input_file, email, the Prefect artifact):

* an undecodable byte 0xNN (a lone surrogate U+DCNN)      -> the four characters \\xNN
* a C0 control (U+0000-U+001F) or DEL (U+007F), e.g. ESC  -> \\xNN (ESC is \\x1b)
* a C1 control (U+0080-U+009F), e.g. CSI U+009B           -> \\uNNNN (so it never looks like a byte)
* bidi controls (U+061C, U+200E/F, U+202A-U+202E, U+2066-U+2069), every other invisible format
  character (Unicode category Cf: soft hyphen, zero-width space, BOM, tag characters...) and the
  line/paragraph separators U+2028/U+2029                 -> \\uNNNN (\\UNNNNNNNN above U+FFFF)
* everything else stays as it is: accents, CJK, Arabic and Hebrew letters, emoji. The zero-width
  joiner and non-joiner (U+200D, U+200C) also stay: emoji sequences and Persian or Indic words
  need them, and they cannot move or hide other text.

The result contains no surrogates and no control or invisible formatting characters, so it can
be encoded as UTF-8 and printed, and `display_name(display_name(x)) == display_name(x)`.
A backslash is left as is, so a name that literally contains "\\x1b" shows the same as one that
contains ESC; names are for people to read, and the real file is still found by its path.
"""

from __future__ import annotations

import unicodedata

# Categories shown escaped: controls, format characters (bidi controls are all Cf), surrogates,
# line and paragraph separators. Private-use and unassigned code points are left alone.
_ESCAPED_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}
_KEPT_FORMAT_CHARACTERS = {"\u200c", "\u200d"}  # zero-width non-joiner / joiner: part of words and emoji


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the undecodable byte itself
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x80:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def display_name(name: str) -> str:
    """`name` with every character that is not safe to show replaced by a visible escape."""
    if name.isascii() and name.isprintable():  # the common case, fast
        return name
    return "".join(
        _escape(char)
        if unicodedata.category(char) in _ESCAPED_CATEGORIES and char not in _KEPT_FORMAT_CHARACTERS
        else char
        for char in name
    )


def is_valid_utf8_name(name: str) -> bool:
    """True if the name's bytes are valid UTF-8, i.e. Python decoded it without surrogate escapes.

    A name that is not is never processed (it is reported with its escaped form and the advice to
    rename the file): such a name would otherwise become a memo whose recorded input file cannot
    be written as the text it claims to be.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
