"""The scoring policy: every margin, default, penalty and weight the decision uses, in one table.

The decision modules read their numbers from here and nowhere else, and README "Methodology"
renders this table (`policy_table`), so what the memo says the method is and what the code does
cannot drift apart. Scores are 0-100 per factor; the weights of the five factors come from the
requirement file (default 1 each).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str
    value: float
    help: str


RULES: tuple[Rule, ...] = (
    # Requirements fit = (1 - QUALITY_SHARE) x fit to the stated needs + QUALITY_SHARE x task quality.
    Rule("QUALITY_SHARE", 0.6, "share of task quality in the requirements factor (the rest is fit to the stated needs)"),
    Rule("LANGUAGE_MISSING_PENALTY", 15, "fit points lost per required language a model does not document"),
    Rule("LANGUAGE_MISSING_CAP", 45, "most fit points lost to missing languages"),
    Rule("LANGUAGE_UNDOCUMENTED_PENALTY", 10, "fit points lost when a model documents no language list"),
    Rule("VENDOR_ONLY_TUNING_PENALTY", 10, "fit points lost when fine-tuning is only through the vendor"),
    Rule("LEGACY_PENALTY", 15, "fit and long-term points lost by a superseded model"),
    Rule("TOOLKIT_PENALTY", 20, "fit points lost by a toolkit that must be trained before use"),
    # Quality: normalised against the best eligible candidate measured on the same scale and task.
    Rule("UNMEASURED_QUALITY", 40, "task quality assumed for a model without evidence (conservative point); its "
                                   "interval reaches the best eligible measured peer"),
    Rule("UNPUBLISHED_CI", 2, "half-width in quality points of a measurement published without an interval"),
    Rule("PROXY_HALF_WIDTH", 8, "half-width in quality points of a proxy (a predecessor's or sibling's score)"),
    # Pilot evidence (decision/pilot.py): the team's own examples outrank public scores for the models measured.
    Rule("PILOT_MIN_EXAMPLES", 10, "examples a pilot metric needs to count as evidence for a task (fewer: its "
                                   "bootstrap interval is no interval); also the fewest a pilot plan asks for"),
    Rule("PILOT_MIN_HALF_WIDTH", 2, "least half-width in quality points of a pilot reading's interval (as UNPUBLISHED_CI "
                                    "for a published score); on n examples at least PILOT_CONFIDENCE_Z x "
                                    "PILOT_EXAMPLE_SD / sqrt(n), 8.8 at 20: a bootstrap over answers that all agree "
                                    "has no width, yet n examples pin quality no closer than a pilot plan assumes"),
    Rule("PILOT_UNPILOTED_HALF_WIDTH", 8, "quality points added to the upper end of the interval of a model the pilot "
                                          "did not measure on a piloted task (its score and lower end stay its public "
                                          "ones: a pilot of other models is no evidence against it; its benchmark is not "
                                          "your examples, as wide as a proxy's PROXY_HALF_WIDTH)"),
    Rule("PILOT_EXAMPLE_SD", 20, "assumed spread (standard deviation) of one example's quality, in 0-100 points: "
                                 "how many examples a pilot plan asks for"),
    Rule("PILOT_CONFIDENCE_Z", 1.96, "z of the 95% interval a pilot plan sizes its examples for"),
    Rule("PILOT_DETECTABLE_DIFFERENCE", 5, "smallest quality difference in 0-100 points a pilot plan is sized to "
                                           "detect (so it never asks for more than about 120 examples per task)"),
    # Budget: 100 up to half the budget, 70 at the budget, then 70 x budget / cost (never flat at 0).
    Rule("BUDGET_FULL_SHARE", 0.5, "cost as a share of the budget up to which the budget factor is 100"),
    Rule("BUDGET_AT_LIMIT", 70, "budget factor when the cost equals the budget"),
    Rule("BUDGET_STRETCH", 1.5, "multiple of the budget above which an option is picked only with the "
                              "budget-infeasible verdict"),
    Rule("FLOOR_SPREAD", 2, "a cost known only as a floor is taken to lie between the floor and this multiple of it"),
    Rule("NO_VOLUME_BUDGET", 50, "budget factor when no volume is given, so no hosted cost can be estimated"),
    # Support.
    Rule("API_SUPPORT", 90, "support factor of a managed API with vendor support"),
    Rule("API_NO_SUPPORT", 70, "support factor of a managed API without (or with unpublished) vendor support"),
    Rule("SLA_MET_BONUS", 10, "support points gained when an SLA is required and published"),
    Rule("SLA_UNKNOWN_PENALTY", 20, "support points lost when an SLA is required and not published"),
    Rule("SLA_NONE_PENALTY", 40, "support points lost when an SLA is required and the offer has none"),
    Rule("SELF_HOST_STRONG", 85, "support factor of self-hosting with strong ML expertise"),
    Rule("SELF_HOST_BASIC", 55, "... with basic ML expertise"),
    Rule("SELF_HOST_NONE", 25, "... with no ML expertise"),
    Rule("SELF_HOST_SLA_PENALTY", 35, "support points lost by self-hosting when a vendor SLA is required"),
    Rule("TOOLKIT_SUPPORT_PENALTY", 10, "support points lost by a training pipeline to maintain"),
    # Security (data sensitivity level: public 0, internal 1, confidential 2, regulated 3).
    Rule("TRAINS_YES_BASE", 10, "security points lost when the vendor trains on prompts (plus 15 per level)"),
    Rule("TRAINS_YES_PER_LEVEL", 15, "... per sensitivity level"),
    Rule("TRAINS_UNKNOWN_BASE", 5, "security points lost when training on prompts is unpublished (plus 8 per level)"),
    Rule("TRAINS_UNKNOWN_PER_LEVEL", 8, "... per sensitivity level"),
    Rule("SOC2_NONE_PER_LEVEL", 10, "security points lost per level without a SOC 2 report"),
    Rule("SOC2_UNKNOWN_PER_LEVEL", 5, "security points lost per level when a SOC 2 report is unpublished"),
    Rule("RESIDENCY_PER_LEVEL", 5, "security points lost per level (confidential and up) without data residency"),
    Rule("BAA_NONE_PENALTY", 20, "security points lost by regulated data without a HIPAA BAA"),
    Rule("BAA_UNKNOWN_PENALTY", 10, "security points lost by regulated data when a HIPAA BAA is unpublished"),
    # Long-term fit = mean of scalability and portability.
    Rule("SCALE_STRONG", 85, "scalability of high growth on self-managed GPUs with strong ML expertise"),
    Rule("SCALE_BASIC", 65, "... with basic ML expertise"),
    Rule("SCALE_NONE", 45, "... with no ML expertise"),
    Rule("PORTABILITY_LOW_TOLERANCE", 40, "portability of closed weights when lock-in tolerance is low"),
    Rule("PORTABILITY_MEDIUM_TOLERANCE", 70, "... medium"),
    # Choosing.
    Rule("TIE_PROBABILITY", 0.55, "a candidate the pick beats head-to-head with less than this probability is tied "
                                  "with it (for two contenders: P(best) within 0.1)"),
    Rule("CHALLENGER_MIN_P", 0.05, "P(best) a second challenger needs to be named (unless it is the measured "
                                   "baseline for a first challenger without a measurement of its own)"),
    Rule("SAMPLES", 2000, "draws over the score intervals behind P(best) (seeded: the same input gives the same memo)"),
)

POLICY: dict[str, float] = {rule.name: rule.value for rule in RULES}


def policy(name: str) -> float:
    return POLICY[name]


def policy_table() -> str:
    """The Markdown table README "Methodology" shows (a test keeps README in step)."""
    rows = [f"| `{r.name}` | {r.value:g} | {r.help} |" for r in RULES]
    return "\n".join(["| Rule | Value | What it sets |", "|---|---|---|", *rows])
