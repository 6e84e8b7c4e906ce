"""Small wording helpers shared by the decision modules' sentences."""

from __future__ import annotations


def join_and(names: list[str]) -> str:
    """"A", "A and B", "A, B and C"."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def sentence(notes: list[str], suffix: str = "") -> str:
    """Notes joined with semicolons, capitalised, with a full stop: one reason sentence."""
    text = "; ".join(notes) + suffix
    return text[:1].upper() + text[1:] + "."
