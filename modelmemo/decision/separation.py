"""What would separate the pick from its first challenger: the unknown (of either) whose answer
moves the difference between them the most, and what evidence settles it. Typed; the words are
written in decision.notes."""

from __future__ import annotations

from dataclasses import dataclass

from modelmemo.decision.candidates import ModelScore

# How each kind of unknown is settled.
SETTLED_BY = {"quality": "a pilot on your own tasks", "cost": "a price quote or a measured throughput",
              "fact": "the vendor's written answer"}


@dataclass(frozen=True)
class Separator:
    model: str  # whose unknown
    kind: str  # quality | cost | fact
    label: str  # "quality on chat", "SLA", "monthly cost"
    swing: float  # total points it can move that candidate
    gap: float  # the pick's lead in total points (point scores)
    could_flip: bool  # its swing alone exceeds the lead
    state: str = "not published"  # what is known of it, in words

    @property
    def settled_by(self) -> str:
        return SETTLED_BY[self.kind]


def separator(pick: ModelScore, challenger: ModelScore, weights: dict[str, float]) -> Separator | None:
    found = [(candidate.swing(u, weights), candidate, u) for candidate in (pick, challenger) for u in candidate.unknowns]
    found = [f for f in found if f[0] > 0]
    if not found:
        return None
    swing, candidate, unknown = max(found, key=lambda f: (f[0], f[1] is challenger, f[2].label))
    gap = round(pick.total, 1) - round(challenger.total, 1)  # as the memo prints the totals
    return Separator(candidate.model_id, unknown.kind, unknown.label, round(swing, 1), round(gap, 1),
                     swing >= abs(gap), unknown.state)
