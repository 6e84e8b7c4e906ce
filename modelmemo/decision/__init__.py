"""The decision engine (pure: no I/O, no Prefect).

A candidate is one (model, offer) pair. Modules, in the order a decision is made:
eligibility (hard constraints, typed reasons: all of them), costs, quality (evidence per task,
normalised among eligible candidates), factors (five 0-100 scores, each with its interval and the
unknowns behind it), candidates (scored pairs), uncertainty (P(best) and head-to-head odds over
the intervals), choose (the pick, challengers, genuine ties, budget feasibility: numbers only),
separation (the unknown that matters most), relax (what relaxing a constraint allows), decide (the
verdict), notes (the words, written last), sensitivity (how far each weight may move). Every number
the scoring uses is in one table: decision/policy.py, rendered into README "Methodology".
"""

from modelmemo.decision.candidates import ModelScore, candidate_key
from modelmemo.decision.decide import Decision, TaskPick, canonical, decide

__all__ = ["Decision", "ModelScore", "TaskPick", "candidate_key", "canonical", "decide"]
