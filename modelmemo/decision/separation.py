"""What would separate the pick from its first challenger: the unknown (of either) whose answer
moves the difference between them the most, what evidence settles it, and how many examples a
pilot needs to tell them apart. Typed; the words are written in decision.notes and memo.advice."""

from __future__ import annotations

import math
from dataclasses import dataclass

from modelmemo.decision.candidates import ModelScore
from modelmemo.inputs.requirements import FACTORS
from modelmemo.decision.pilot import is_piloted_state
from modelmemo.decision.policy import policy

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
        if self.kind == "quality" and is_piloted_state(self.state):
            return "more examples in your pilot"  # measured on the team's examples already: a larger sample
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


@dataclass(frozen=True)
class PilotSize:
    """How many examples per task a pilot needs to tell the pick from its first challenger."""

    examples: int  # per task, at least PILOT_MIN_EXAMPLES
    difference: float  # the quality difference (0-100 points, mean over tasks) the examples resolve
    floored: bool  # a smaller difference would change the order: sized for PILOT_DETECTABLE_DIFFERENCE
    beyond: bool = False  # no quality difference (even 100 points) would change the order on its own


def pilot_size(pick: ModelScore, challenger: ModelScore, weights: dict[str, float]) -> PilotSize | None:
    """The examples per task whose 95% interval on the difference between two models' quality is
    narrower than the difference that would change their order: the pick's lead in total points
    over quality's share of the total (requirements weight share x QUALITY_SHARE), at least
    PILOT_DETECTABLE_DIFFERENCE. With independent per-example scores of spread PILOT_EXAMPLE_SD:
    n = 2 x (z x SD / difference)^2, at least PILOT_MIN_EXAMPLES. A lead that no quality difference
    could make up (over 100 points) is sized as 100. None when quality has no weight."""
    share = weights["requirements"] / sum(weights[f] for f in FACTORS) * policy("QUALITY_SHARE")
    if share <= 0:
        return None
    decisive = abs(round(pick.total, 1) - round(challenger.total, 1)) / share
    difference = min(max(decisive, policy("PILOT_DETECTABLE_DIFFERENCE")), 100.0)
    needed = math.ceil(2 * (policy("PILOT_CONFIDENCE_Z") * policy("PILOT_EXAMPLE_SD") / difference) ** 2)
    return PilotSize(max(needed, int(policy("PILOT_MIN_EXAMPLES"))), round(difference, 1),
                     decisive < policy("PILOT_DETECTABLE_DIFFERENCE"), decisive >= 100.0)
