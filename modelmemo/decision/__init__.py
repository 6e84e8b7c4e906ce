"""The decision engine (pure: no I/O, no Prefect).

A candidate is one (model, deployment option) pair. Every eligible candidate is scored and
ranked; a model's place in the scorecard is its best candidate. Deterministic and explainable:
every exclusion and every factor score carries a sentence that names the catalog facts and input
fields it used. The rules (and their point values) are documented in README's "Methodology"
section; change them there too.

Ranking key (documented in README): higher total first, then the cheaper monthly planning figure
(unknown cost last), then model id, then the deployment's position in the catalog. Candidates
within TIE_MARGIN of the top (or statistically indistinguishable on quality evidence, see
`is_tie`) are reported as a tie, never as a winner decided by that key.

Modules, in the order a decision is made: eligibility (hard constraints), costs, quality
(evidence per task), factors (five 0-100 scores), candidates (scored and ranked pairs), ties,
decide (the verdict, the pick and the notes), sensitivity (how far each weight may move).
"""

from modelmemo.decision.candidates import ModelScore, candidate_key
from modelmemo.decision.decide import Decision, TaskPick, canonical, decide
from modelmemo.decision.ties import TIE_MARGIN

__all__ = ["TIE_MARGIN", "Decision", "ModelScore", "TaskPick", "candidate_key", "canonical", "decide"]
