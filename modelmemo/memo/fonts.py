"""Fonts for a memo: which families its text needs, how an emoji font is listed so that it sets
only emoji, which installed font files the renderer may read, and the warning for characters no
installed font has.

The renderer (render.py) lists a memo's font stack in its CSS; these functions decide that stack
from fontconfig's view of the installed fonts (fc-match, fc-list) and the fonts' own cmaps.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

_NOTDEF = re.compile(r'^\.notdef glyph rendered for Unicode string unsupported by fonts: "(.*)" \(U\+([0-9A-F]+)\)$',
                     re.S)


_MISSING_GLYPHS = "have no glyph in the installed fonts"


def glyph_warnings(messages: list[str]) -> list[str]:
    """One reader-facing warning for all missing glyphs of a render (characters listed once)."""
    missing: dict[str, str] = {}
    others: list[str] = []
    for message in messages:
        match = _NOTDEF.match(message)
        if match:
            missing.setdefault(match.group(2), match.group(1))
        else:
            others.append(message)
    warnings = []
    if missing:
        chars = ", ".join(f"U+{code}" for code in sorted(missing)[:12]) + (" ..." if len(missing) > 12 else "")
        warnings.append(f"{len(missing)} character(s) {_MISSING_GLYPHS} and print as empty boxes "
                        f"in the PDF ({chars}); install a font that covers them (scripts/setup installs Noto)")
    warnings.extend(f"renderer: {m}" for m in dict.fromkeys(others))
    return warnings


def missing_glyph_warnings(warnings: list[str]) -> list[str]:
    """The warnings of a render (glyph_warnings) that say characters print as empty boxes."""
    return [w for w in warnings if _MISSING_GLYPHS in w]


@lru_cache(maxsize=32)
def _font_file(family: str) -> tuple[str, int, str, bool] | None:
    """(file, face index, full name, colour font?) of an installed font family, or None when
    fontconfig does not have it: fc-match substitutes another family then, which must not be
    mistaken for the family itself."""
    import subprocess

    try:
        found = subprocess.run(["fc-match", "-f", "%{file}|%{family}|%{index}|%{fullname}|%{color}", family],
                               capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    path, families, index, fullname, color = (found.split("|") + [""] * 5)[:5]
    if family.lower() not in [f.strip().lower() for f in families.split(",")]:
        return None
    return path, int(index or 0), fullname.split(",")[0].strip() or family, color.strip() == "True"


@lru_cache(maxsize=32)
def _font_cmap(family: str) -> frozenset[int] | None:
    """The code points an installed font family covers (None when fontconfig does not have it)."""
    found = _font_file(family)
    if found is None:
        return None
    try:
        from fontTools.ttLib import TTFont

        font = TTFont(found[0], fontNumber=found[1], lazy=True)
        return frozenset(font.getBestCmap() or ())
    except Exception:  # an unreadable font file: treat the family as absent
        return None


def font_stack(text: str, families: list[str]) -> list[str]:
    """The brand's first family plus only those fallback families this text needs.

    Every family in the CSS stack costs layout time for every run of text (the full Noto stack
    tripled a memo's render CPU), so a memo lists a CJK, Devanagari, Thai or emoji font only when
    its own text has a character the families before it lack. Characters no listed family covers
    are left to fontconfig's fallback and, failing that, reported as missing glyphs."""
    if not families:
        return []
    chars = {ord(ch) for ch in set(text) if ord(ch) > 0x7E}
    first = _font_cmap(families[0])
    need = {c for c in chars if first is None or c not in first}
    stack = [families[0]]
    for family in families[1:]:
        if not need:
            break
        cmap = _font_cmap(family)
        if cmap is None:
            continue
        covered = {c for c in need if c in cmap}
        if covered:
            stack.append(family)
            need -= covered
    return stack


# Emoji sequences join with these; the emoji font must keep them for its own code points.
_EMOJI_JOINERS = frozenset({0x200D, 0x20E3, 0xFE0E, 0xFE0F, *range(0xE0020, 0xE0080)})


def _css_name(name: str) -> str:
    """A font name safe inside a quoted CSS string in a <style> element."""
    return "".join(ch for ch in name if ch not in '"\\;{}<>')


def _unicode_ranges(codes: frozenset[int]) -> str:
    ranges: list[list[int]] = []
    for code in sorted(codes):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return ", ".join(f"U+{a:X}" if a == b else f"U+{a:X}-{b:X}" for a, b in ranges)


@lru_cache(maxsize=8)
def _emoji_face(family: str, text_family: str) -> tuple[str, str] | None:
    """(alias, @font-face rule) that lists a colour (emoji) font for only the code points the text
    font lacks, or None for a font that is not a colour font (or not installed).

    Pango takes digits, spaces, #, *, (c), (R) and TM from a colour emoji font listed anywhere in the
    font-family (it covers them for its keycap and other sequences), even after a text font that
    has them: with an emoji in a project name most of a memo's figures were set in Noto Color
    Emoji, a wider face, and totals wrapped. Under the alias, limited by unicode-range, the
    emoji font has nothing the text font has (bar the emoji joiners), so the text font sets them."""
    found, emoji, text = _font_file(family), _font_cmap(family), _font_cmap(text_family)
    if found is None or not found[3] or emoji is None or text is None:
        return None
    codes = frozenset(c for c in emoji if c >= 0xA0 and (c not in text or c in _EMOJI_JOINERS))
    if not codes:
        return None
    alias = _css_name(f"{family} emoji only")
    return alias, (f'@font-face {{ font-family: "{alias}"; src: local("{_css_name(found[2])}"); '
                   f"unicode-range: {_unicode_ranges(codes)}; }}\n")


def text_first_fonts(stack: list[str]) -> tuple[list[str], str]:
    """The font stack for the CSS and the @font-face rules it needs: each colour (emoji) font
    after the first family is replaced by an alias that covers only what the first family lacks
    (see _emoji_face), so digits and Latin text always come from the text font."""
    fonts, faces = list(stack[:1]), []
    for family in stack[1:]:
        face = _emoji_face(family, stack[0])
        fonts.append(face[0] if face else family)
        if face:
            faces.append(face[1])
    return fonts, "".join(faces)


@lru_cache(maxsize=1)
def installed_font_files() -> frozenset[Path]:
    """Every font file fontconfig has installed (what an @font-face `local()` source resolves to)."""
    import subprocess

    try:
        listed = subprocess.run(["fc-list", "-f", "%{file}\\n"], capture_output=True, text=True, timeout=30,
                                check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(Path(line).resolve() for line in listed.splitlines() if line.strip())
