"""Calibration table: projects judged by a practitioner from catalog/models.yaml, independently of the engine.

Each scenario is a requirement (``tests.helpers.requirements`` with dotted-path ``overrides``) and the
judgement a platform lead would sign:

- ``verdict``: the expected verdict (``open-source``, ``closed-source``, ``mixed``, ``budget-infeasible``,
  ``no-eligible-model``), or None when either side is acceptable;
- ``acceptable``: catalog model ids that would be signed as THE pick (for ``mixed``: the union over the
  tasks of the ids acceptable for each part); empty when no pick should be made;
- ``never``: ids that must not be the pick (retired or deprecated, over twice the budget while a cheaper
  option fits, no SLA offer when an SLA is required, a route that breaks residency or on-premises, a
  task or context the model does not cover, measurably worse on the evidence where quality decides);
- ``why``: the catalog facts the judgement rests on.

The figures were worked out by hand from the catalog (cost per month = tokens x (75% input + 25% output
price) per 1M; embeddings = tokens x embedding price; images = images x price per image; self-hosting
= 730 h x GPU price + the operations assumption: $1,500 strong, $4,000 basic, $8,000 no ML expertise),
never by running the engine: this table is what the engine is calibrated against. Where the evidence
cannot separate models (most of the catalog's cheaper models have no quality score), all of them are
acceptable. Base requirement (tests.helpers.BASE_REQUIREMENTS): chat, prompting, $1,000/month,
10,000 requests x 1,000 tokens, basic ML expertise, no SLA, internal data, cloud allowed, medium growth
and lock-in tolerance, default weights.

Pure data: no engine imports here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .helpers import DELETE

VERDICTS = ("open-source", "closed-source", "mixed", "budget-infeasible", "no-eligible-model")


@dataclass(frozen=True)
class Scenario:
    name: str
    overrides: dict[str, Any]
    verdict: str | None
    acceptable: frozenset[str]
    never: frozenset[str]
    why: str
    tags: tuple[str, ...] = field(default=())


def _ids(*ids: str) -> frozenset[str]:
    return frozenset(ids)


# Groups used in several `never` sets (catalog ids).
# Models with no offer that carries an uptime SLA (only Bedrock, Azure and Vertex AI do).
NO_SLA_OFFER = _ids("claude-haiku", "claude-opus", "chatgpt-luna", "gemini-flash-lite", "gemini-pro", "cohere",
                    "cohere-command-a", "cohere-command-r7b", "mistral", "mistral-large", "mistral-small",
                    "gpt-oss-120b", "gpt-oss-20b", "qwen", "deepseek", "llama-2", "bard")
# Models reachable only through a hosted API (closed weights, or open weights with no self-hosted offer).
API_ONLY = _ids("chatgpt", "claude", "gemini", "claude-haiku", "claude-opus", "chatgpt-luna", "gemini-flash-lite",
                "gemini-pro", "cohere", "cohere-command-a", "cohere-command-r7b", "mistral-large", "mistral-small")
COHERE = _ids("cohere", "cohere-command-a", "cohere-command-r7b")


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="cloud-chat-generous",
        overrides={"budget.monthly_usd": 5000,
                   "budget.volume": {"requests_per_month": 100_000, "tokens_per_request": 1500}},
        verdict="closed-source",
        acceptable=_ids("claude", "chatgpt", "claude-opus"),
        never=_ids("bard", "cohere", "mistral", "llama-2", "gpt-j"),
        why="150M tokens/month costs about $600 on Claude Sonnet 5.5 or GPT-6.2 Sol ($2/$10 per 1M) and $1,200 on "
            "Opus 5.5, all far under $5,000, so quality decides: Sonnet has the best measured score (whatmodel 81.7 "
            "+/-0.6), Sol and Opus are unmeasured flagships. Command R (47.5) and Llama 4 Scout (54.8) are measurably "
            "weaker, Mistral Medium 3.5's API is deprecated and Groq's Llama 4 offer is retired.",
        tags=("chat", "generous budget"),
    ),
    Scenario(
        name="cloud-chat-tight-budget",
        overrides={"budget.monthly_usd": 300,
                   "budget.volume": {"requests_per_month": 500_000, "tokens_per_request": 2000}},
        verdict="closed-source",
        acceptable=_ids("claude-haiku", "chatgpt-luna", "cohere-command-r7b"),
        never=_ids("claude", "chatgpt", "gemini", "claude-opus", "gemini-pro", "cohere-command-a", "qwen",
                   "mistral-large", "gemini-flash-lite", "mistral", "bard"),
        why="1B tokens/month: Sonnet/Sol cost $4,000, Gemini 3.8 Flash $3,000, Mistral Large 4 $1,050 and even "
            "Flash-Lite $850, all over twice the $300 budget. Haiku 5.5 and GPT-6 Luna ($0.10/$0.50) cost $200 and "
            "Command R7B $66, first-party with SOC 2 and no training on prompts; none is measured, so they are not "
            "separable (DeepSeek and Groq-hosted gpt-oss are cheap too, but their data terms are unpublished).",
        tags=("chat", "tight budget"),
    ),
    Scenario(
        name="tiny-budget-high-volume",
        overrides={"budget.monthly_usd": 10,
                   "budget.volume": {"requests_per_month": 2_000_000, "tokens_per_request": 500}},
        verdict="budget-infeasible",
        acceptable=_ids(),
        never=_ids("claude", "chatgpt", "gemini", "claude-opus", "gemini-pro", "cohere-command-a", "bard"),
        why="1B tokens/month: the cheapest offer in the catalog, Command R7B at $0.0375/$0.15 per 1M, costs about $66 "
            "and gpt-oss-20b on Groq $131, both over twice the $10 budget ($20); self-hosting starts at $1,110 of "
            "GPU plus operations. No option is within 2x: budget-infeasible, not a pick.",
        tags=("budget-infeasible",),
    ),
    Scenario(
        name="onprem-regulated-text",
        overrides={"needs.tasks": ["text-generation"], "needs.languages": ["en"],
                   "budget.monthly_usd": 6000,
                   "budget.volume": {"requests_per_month": 30_000, "tokens_per_request": 3000},
                   "support.ml_expertise": "strong",
                   "security.data_sensitivity": "regulated", "security.on_premises_only": True},
        verdict="open-source",
        acceptable=_ids("gpt-oss-120b", "llama-2"),
        never=API_ONLY | _ids("gpt-j", "deepseek", "mistral", "bard"),
        why="On-premises only leaves self-hosted open weights: gpt-oss-120b (Apache 2.0, fits one H100) and Llama 4 "
            "Scout (INT4 on one H100, whatmodel 54.8) cost $2,555 GPU + $1,500 operations = $4,055 of $6,000. GPT-J's "
            "2,048-token context cannot hold 3,000-token requests, Mistral Medium 3.5 on 4x H100 ($11,720) is nearly "
            "twice the budget and superseded, DeepSeek on 8x H100 ($21,940) is over 3x; Mistral Large/Small 4 have "
            "no self-hosted offer.",
        tags=("on-premises", "regulated"),
    ),
    Scenario(
        name="sla-required-chat",
        overrides={"needs.languages": ["en", "es"],
                   "budget.monthly_usd": 1500,
                   "budget.volume": {"requests_per_month": 200_000, "tokens_per_request": 1200},
                   "support.ml_expertise": "none", "support.vendor_sla_required": True,
                   "security.data_sensitivity": "confidential"},
        verdict="closed-source",
        acceptable=_ids("claude", "gemini", "chatgpt"),
        never=NO_SLA_OFFER,
        why="Only three offers carry an uptime SLA: Claude Sonnet 5.5 on Amazon Bedrock (99.9%), GPT-6.2 Sol on Azure "
            "(99.9%) and Gemini 3.8 Flash on Vertex AI (99.5%); at 240M tokens they cost $960, $960 and $720 of "
            "$1,500. Sonnet measures better (81.7 vs 75.5), Gemini costs less: all three are defensible, and no model "
            "without an SLA offer (Haiku, Luna, Mistral, Cohere, hosted open models) is.",
        tags=("sla",),
    ),
    Scenario(
        name="eu-residency-generous",
        overrides={"security.data_residency": ["EU"], "security.data_sensitivity": "confidential",
                   "budget.monthly_usd": 2000,
                   "budget.volume": {"requests_per_month": 300_000, "tokens_per_request": 1000}},
        verdict="closed-source",
        acceptable=_ids("claude", "chatgpt", "gemini"),
        never=COHERE | _ids("claude-haiku", "claude-opus", "gemini-flash-lite", "gemini-pro", "mistral", "bard"),
        why="EU processing is guaranteed by Bedrock (Sonnet 5.5, $1,200, 81.7 measured), Azure and OpenAI's API "
            "(GPT-6.2 Sol, $1,200) and Vertex AI (Gemini 3.8 Flash, $900, 75.5), all with SOC 2, within $2,000. "
            "Anthropic's own API is US-only (the only route for Haiku and Opus), the Gemini Developer API has no "
            "region choice (Flash-Lite, Pro), Cohere's residency is unpublished, Mistral Medium 3.5 is deprecated.",
        tags=("residency",),
    ),
    Scenario(
        name="eu-residency-tight-budget",
        overrides={"security.data_residency": ["EU"],
                   "budget.monthly_usd": 200,
                   "budget.volume": {"requests_per_month": 300_000, "tokens_per_request": 1000}},
        verdict=None,
        acceptable=_ids("chatgpt-luna", "mistral-small"),
        never=COHERE | _ids("claude-haiku", "gemini-flash-lite", "deepseek", "gpt-oss-20b", "gpt-oss-120b",
                            "claude", "chatgpt", "gemini", "bard"),
        why="At 300M tokens two EU-guaranteed offers fit $200: GPT-6 Luna on OpenAI's API (US/EU, $60, SOC 2, no "
            "training) and Mistral Small 4 on La Plateforme (EU/US, Apache 2.0, $79), both unmeasured, so either "
            "side. Haiku (Anthropic API: US only), Flash-Lite (no region), R7B, DeepSeek and Groq (unpublished) break "
            "residency; Sonnet, Sol and Gemini Flash ($900-$1,200) are over twice the budget.",
        tags=("residency", "tight budget"),
    ),
    Scenario(
        name="nothing-fits-transparent-embeddings",
        overrides={"needs.tasks": ["embeddings"], "security.transparency_required": True},
        verdict="no-eligible-model",
        acceptable=_ids(),
        never=_ids("chatgpt", "cohere", "gemini"),
        why="Only closed models cover embeddings in the catalog (OpenAI text-embedding-3-large, Cohere Embed v4, "
            "Gemini Embedding) and transparency requires inspectable weights; no open-weights model lists "
            "embeddings, so nothing is eligible.",
        tags=("no-eligible-model", "embeddings"),
    ),
    Scenario(
        name="nothing-fits-onprem-embeddings",
        overrides={"needs.tasks": ["embeddings"], "security.on_premises_only": True,
                   "security.data_sensitivity": "confidential", "support.ml_expertise": "strong",
                   "budget.monthly_usd": 10000},
        verdict="no-eligible-model",
        acceptable=_ids(),
        never=_ids("chatgpt", "cohere", "gemini"),
        why="On-premises only rules out every API, and the only embedding models in the catalog (OpenAI, Cohere, "
            "Gemini) are API-only with closed weights; no self-hosted offer lists embeddings, whatever the budget.",
        tags=("no-eligible-model", "on-premises", "embeddings"),
    ),
    Scenario(
        name="onprem-images-no-expertise",
        overrides={"needs.tasks": ["image-generation"], "security.on_premises_only": True,
                   "support.ml_expertise": "none", "budget.monthly_usd": 2000,
                   "budget.volume": {"images_per_month": 5000}},
        verdict="budget-infeasible",
        acceptable=_ids(),
        never=_ids("chatgpt", "gemini"),
        why="SD 3.5 and SD 3.5 Medium self-host on an A10G (g5.2xlarge, $1.52/h = $1,110/month), so a model is "
            "eligible; but with no ML expertise the $8,000/month operations assumption makes it at least $9,110 "
            "against $2,000 (over 2x): budget-infeasible, not no-eligible-model. GPT Image and Gemini's image API "
            "would send data off premises.",
        tags=("budget-infeasible", "on-premises", "images"),
    ),
    Scenario(
        name="code-assistant-cloud",
        overrides={"needs.tasks": ["code"], "needs.languages": ["en"],
                   "security.data_sensitivity": "confidential", "budget.monthly_usd": 3000,
                   "budget.volume": {"requests_per_month": 50_000, "tokens_per_request": 4000}},
        verdict="closed-source",
        acceptable=_ids("claude", "chatgpt", "claude-opus"),
        never=COHERE | _ids("opennmt", "gpt-j", "mistral", "stable-diffusion", "bard"),
        why="200M tokens/month: Sonnet 5.5 and GPT-6.2 Sol about $800, Opus 5.5 $1,600, all within $3,000 with SOC 2 "
            "and no training on prompts; Sonnet is the best measured (81.7 +/-0.6 vs Gemini 3.8 Flash 75.5), Sol and "
            "Opus are unmeasured flagships. The Cohere Command models do not list code, GPT-J's 2,048-token context "
            "is below 4,000-token requests, Mistral Medium 3.5's API is deprecated.",
        tags=("code",),
    ),
    Scenario(
        name="translation-ja-ko",
        overrides={"needs.tasks": ["translation"], "needs.languages": ["en", "ja", "ko"],
                   "budget.monthly_usd": 1500,
                   "budget.volume": {"requests_per_month": 100_000, "tokens_per_request": 2000}},
        verdict="closed-source",
        acceptable=_ids("claude", "gemini", "chatgpt"),
        never=_ids("llama-2", "gpt-oss-120b", "gpt-oss-20b", "qwen", "deepseek", "opennmt", "mistral", "bard"),
        why="Claude (Global-MMLU incl. ja/ko), OpenAI (MMMLU incl. ja/ko) and Gemini (38-language list) cover "
            "Japanese and Korean; at 200M tokens Sonnet/Sol cost $800 and Gemini 3.8 Flash $600 of $1,500 (81.7 vs "
            "75.5 measured). Llama 4's 12 supported languages exclude ja/ko, gpt-oss, Qwen and DeepSeek do not claim "
            "translation, OpenNMT is a toolkit to train (prompting only here).",
        tags=("translation",),
    ),
    Scenario(
        name="long-document-summarization",
        overrides={"needs.tasks": ["summarization"], "needs.languages": ["en"],
                   "security.data_sensitivity": "confidential", "budget.monthly_usd": 5000,
                   "budget.volume": {"requests_per_month": 2000, "tokens_per_request": 300_000}},
        verdict="closed-source",
        acceptable=_ids("claude", "chatgpt"),
        never=COHERE | _ids("mistral-small", "mistral", "qwen", "gpt-oss-120b", "gpt-oss-20b", "gpt-j", "bard"),
        why="300,000-token requests rule out smaller context windows: Command R/R7B (128K), gpt-oss (131K), Command A "
            "and Mistral Small 4 (256K), Mistral Medium 3.5 and Qwen3.6 (262K). Among 1M-context models Sonnet 5.5 is "
            "the best measured (81.7) at $2,400 of $5,000; GPT-6.2 Sol lists the same price, unmeasured (2x input "
            "above 272K-token prompts). Gemini 3.8 Flash's 65,536 max output is below the 25% output share.",
        tags=("summarization", "context"),
    ),
    Scenario(
        name="image-generation-cloud",
        overrides={"needs.tasks": ["image-generation"], "budget.monthly_usd": 3000,
                   "budget.volume": {"images_per_month": 20_000}},
        verdict="closed-source",
        acceptable=_ids("gemini", "chatgpt"),
        never=_ids("claude", "claude-haiku", "mistral-large", "llama-2", "bard"),
        why="20,000 images: GPT Image 2 medium ($0.053) $1,060, Gemini 3.1 Flash Image ($0.067) $1,340, SD 3.5 Large "
            "on Stability's API $1,300, SD 3.5 Medium $700, all within $3,000. Gemini's image model leads the "
            "text-to-image arena (1266), the others are unmeasured and Stability's API may train on prompts; SD is "
            "defensible only on price.",
        tags=("images",),
    ),
    Scenario(
        name="image-generation-onprem",
        overrides={"needs.tasks": ["image-generation"], "security.on_premises_only": True,
                   "support.ml_expertise": "strong", "budget.monthly_usd": 4000,
                   "budget.volume": {"images_per_month": 50_000}},
        verdict="open-source",
        acceptable=_ids("stable-diffusion-medium", "stable-diffusion"),
        never=_ids("chatgpt", "gemini"),
        why="Only Stable Diffusion 3.5 self-hosts images: one A10G g5.2xlarge ($1.52/h = $1,110) plus $1,500 "
            "operations = at least $2,610 of $4,000 (throughput unsourced). SD 3.5 Medium (2.5B) fits the 24 GB card, "
            "Large (8.1B) may need offloading; neither has an arena rating, so both are acceptable.",
        tags=("images", "on-premises"),
    ),
    Scenario(
        name="embeddings-cloud",
        overrides={"needs.tasks": ["embeddings"], "budget.monthly_usd": 500,
                   "budget.volume": {"requests_per_month": 1_000_000, "tokens_per_request": 500}},
        verdict="closed-source",
        acceptable=_ids("cohere", "chatgpt"),
        never=_ids("claude", "claude-haiku", "mistral-large", "llama-2", "gpt-oss-120b", "deepseek", "bard"),
        why="500M tokens/month: Cohere Embed v4 ($0.12/1M) $60, OpenAI text-embedding-3-large ($0.13) $65, Gemini "
            "Embedding $75-$100. Cohere's 65.2 and OpenAI's 64.6 MTEB English averages have no published intervals, "
            "so they cannot be separated; Gemini's 68.32 is MTEB Multilingual, not comparable. Anthropic has no "
            "embedding model.",
        tags=("embeddings",),
    ),
    Scenario(
        name="classification-high-volume",
        overrides={"needs.tasks": ["classification"], "needs.languages": ["en"], "budget.monthly_usd": 1500,
                   "budget.volume": {"requests_per_month": 2_000_000, "tokens_per_request": 500}},
        verdict="closed-source",
        acceptable=_ids("claude-haiku", "chatgpt-luna"),
        never=_ids("claude", "chatgpt", "claude-opus", "gemini-pro", "cohere-command-a", "mistral", "bard"),
        why="1B tokens/month of short prompts: Haiku 5.5 and GPT-6 Luna cost $200 (13% of $1,500) with SOC 2, no "
            "training on prompts and a BAA; Sonnet/Sol ($4,000), Gemini 3.1 Pro ($4,500) and Command A ($4,375) are "
            "over twice the budget. The cheap models are unmeasured, so price and known data terms decide; "
            "Flash-Lite ($850) has no established SOC 2 on the Developer API.",
        tags=("classification", "tight budget"),
    ),
    Scenario(
        name="fine-tuning-required",
        overrides={"needs.tasks": ["text-generation"], "needs.languages": ["en"],
                   "needs.customization": "fine-tuning", "support.ml_expertise": "strong",
                   "security.data_sensitivity": "confidential", "budget.monthly_usd": 6000,
                   "budget.volume": {"requests_per_month": 50_000, "tokens_per_request": 2000}},
        verdict="open-source",
        acceptable=_ids("gpt-oss-120b", "gpt-oss-20b", "llama-2"),
        never=API_ONLY | _ids("deepseek", "gpt-j", "bard"),
        why="No hosted offer sells fine-tuning (OpenAI's self-serve tuning is wound down, Cohere's deprecated Sept "
            "2025, none for Claude or the Gemini API, unconfirmed on Vertex/La Plateforme), so you tune open weights "
            "yourself: gpt-oss-120b or Llama 4 Scout on one H100 ($4,055 with operations) or gpt-oss-20b on an A10G "
            "($2,610), within $6,000. DeepSeek's 8x H100 ($21,940) is over 3x; GPT-J is a 2021 legacy base model.",
        tags=("fine-tuning",),
    ),
    Scenario(
        name="full-control-code",
        overrides={"needs.tasks": ["code", "chat"], "needs.languages": ["en"],
                   "needs.customization": "full-control", "support.ml_expertise": "strong",
                   "security.data_sensitivity": "confidential", "long_term.lock_in_tolerance": "low",
                   "budget.monthly_usd": 6000,
                   "budget.volume": {"requests_per_month": 40_000, "tokens_per_request": 4000}},
        verdict="open-source",
        acceptable=_ids("gpt-oss-120b", "llama-2"),
        never=API_ONLY | _ids("deepseek", "gpt-j", "bard"),
        why="Full control means your own copy of the weights on your own hardware: closed models and API-only open "
            "offers (Mistral Large/Small 4) are out. gpt-oss-120b (Apache 2.0) and Llama 4 Scout (54.8) each run on "
            "one H100 for $4,055 with a strong team; Qwen3.6 27B fits too but its licence is not verified, "
            "DeepSeek's 8x H100 ($21,940) is over 3x the budget, GPT-J covers no chat.",
        tags=("full-control", "code"),
    ),
    Scenario(
        name="low-lock-in-tolerance",
        overrides={"long_term.lock_in_tolerance": "low", "weights": {"long_term": 3},
                   "budget.monthly_usd": 1500,
                   "budget.volume": {"requests_per_month": 100_000, "tokens_per_request": 1500}},
        verdict="open-source",
        acceptable=_ids("mistral-large", "mistral-small", "gpt-oss-120b", "gpt-oss-20b"),
        never=_ids("llama-2", "mistral", "gpt-j", "bard"),
        why="Low lock-in tolerance with long-term weighted 3 favours open weights bought as an API now and movable "
            "later: Mistral Large 4 ($158 at 150M tokens, EU/US), Mistral Small 4 (Apache 2.0, $39) and gpt-oss-120b "
            "(Apache 2.0, Groq $39, one H100 later) fit $1,500. Llama 4's only hosted offer (Groq) was retired in "
            "July 2026 and self-hosting costs $6,555 with basic skills; Mistral Medium 3.5's API is deprecated. None "
            "of these has a published quality score, so the evidence cannot separate them (gpt-oss-20b on Groq too).",
        tags=("lock-in",),
    ),
    Scenario(
        name="high-growth-no-ml-team",
        overrides={"support.ml_expertise": "none", "long_term.growth": "high", "budget.monthly_usd": 3000,
                   "budget.volume": {"requests_per_month": 300_000, "tokens_per_request": 1000}},
        verdict="closed-source",
        acceptable=_ids("claude", "gemini", "chatgpt"),
        never=_ids("llama-2", "mistral", "gpt-j", "opennmt", "bard"),
        why="No ML team and fast growth call for a managed API that scales without operations: Sonnet 5.5 (Bedrock, "
            "99.9% SLA), Gemini 3.8 Flash (Vertex, 99.5%) and GPT-6.2 Sol (Azure) cost $1,200, $900 and $1,200 at "
            "300M tokens; self-hosting adds $8,000/month of operations for a team with no expertise, and Llama 4's "
            "only hosted offer (Groq) is retired.",
        tags=("growth", "no expertise"),
    ),
    Scenario(
        name="regulated-hipaa-summaries",
        overrides={"needs.tasks": ["summarization"], "needs.languages": ["en"],
                   "security.data_sensitivity": "regulated", "budget.monthly_usd": 2000,
                   "budget.volume": {"requests_per_month": 50_000, "tokens_per_request": 3000}},
        verdict="closed-source",
        acceptable=_ids("claude", "chatgpt"),
        never=COHERE | _ids("gemini-flash-lite", "gemini-pro", "mistral-large", "mistral-small", "gpt-oss-120b",
                            "deepseek", "qwen", "mistral", "bard"),
        why="PHI needs SOC 2, no training on prompts and a HIPAA BAA: Anthropic/Bedrock (Sonnet 5.5, $600 at 150M "
            "tokens, 81.7), OpenAI/Azure (GPT-6.2 Sol, $600) and Vertex (Gemini 3.8 Flash, 75.5) qualify. Cohere has "
            "SOC 2 but no established BAA; the Gemini Developer API, La Plateforme, Groq, DeepSeek and Alibaba "
            "publish no SOC 2; self-hosting costs $6,555 with basic skills.",
        tags=("regulated", "hipaa"),
    ),
    Scenario(
        name="mixed-long-summaries-and-images",
        overrides={"needs.tasks": ["summarization", "image-generation"], "needs.languages": ["en"],
                   "security.data_sensitivity": "public", "budget.monthly_usd": 3000,
                   "security.data_residency": ["EU"],
                   "budget.volume": {"requests_per_month": 500, "tokens_per_request": 600_000,
                                     "images_per_month": 2000}},
        verdict="mixed",
        acceptable=_ids("mistral-large", "gemini", "chatgpt"),
        never=COHERE | _ids("claude", "claude-haiku", "claude-opus", "chatgpt-luna", "mistral-small", "mistral",
                            "qwen", "gpt-oss-120b", "gpt-oss-20b", "bard"),
        why="At 600,000 tokens per request the 25% output share (150,000) exceeds the max output of Claude and GPT "
            "(128K) and Gemini 3.8 Flash (65,536), so no model does both tasks; Mistral Large 4 (1M context, 262K "
            "out, $315) or DeepSeek V4 Flash (1M, 384K, $53) summarise, and images go to Gemini 3.1 Flash Image "
            "(arena leader 1266, $134 for 2,000) or GPT Image 2 ($106): open text + closed images. The data must "
            "stay in the EU, which rules out DeepSeek's API and Gemini 3.5 Flash-Lite (Developer API only, no "
            "region; its max output is not in the catalog either), leaving Mistral Large 4 (La Plateforme, EU) for "
            "the summaries.",
        tags=("mixed", "context", "images"),
    ),
    Scenario(
        name="text-and-images-one-vendor",
        overrides={"needs.tasks": ["text-generation", "image-generation"], "needs.languages": ["en", "it"],
                   "budget.monthly_usd": 2500,
                   "budget.volume": {"requests_per_month": 20_000, "tokens_per_request": 2000,
                                     "images_per_month": 3000}},
        verdict="closed-source",
        acceptable=_ids("gemini", "chatgpt"),
        never=_ids("llama-2", "mistral", "bard"),
        why="GPT-6.2 Sol with GPT Image ($160 text + $159 images = $319) and Gemini 3.8 Flash with Gemini 3.1 Flash "
            "Image ($120 + $201 = $321) each cover both tasks from one vendor at 13% of $2,500; Gemini's image model "
            "leads the arena (1266) and its text scores 75.5, GPT's are unmeasured. A second vendor buys little.",
        tags=("multi-task", "images"),
    ),
    Scenario(
        name="weights-favour-budget",
        overrides={"weights": {"budget": 5}, "budget.monthly_usd": 800,
                   "budget.volume": {"requests_per_month": 200_000, "tokens_per_request": 1500}},
        verdict="closed-source",
        acceptable=_ids("claude-haiku", "chatgpt-luna", "cohere-command-r7b"),
        never=_ids("claude", "chatgpt", "gemini", "claude-opus", "gemini-pro", "cohere-command-a", "mistral", "bard"),
        why="Budget weighted 5 of 9 at 300M tokens: Haiku 5.5 and GPT-6 Luna cost $60 and Command R7B $20 (SOC 2, "
            "no training on prompts), while Sonnet and GPT-6.2 Sol ($1,200) and Gemini 3.8 Flash ($900) exceed the "
            "$800 budget when many options sit under half of it. The cheap closed models are unmeasured, so not "
            "separable.",
        tags=("weights", "budget"),
    ),
    Scenario(
        name="weights-favour-quality",
        overrides={"weights": {"requirements": 5}, "budget.monthly_usd": 1000,
                   "budget.volume": {"requests_per_month": 100_000, "tokens_per_request": 1500}},
        verdict="closed-source",
        acceptable=_ids("claude", "chatgpt"),
        never=_ids("gemini", "cohere", "llama-2", "mistral", "bard"),
        why="Requirements weighted 5 of 9 at 150M tokens: Sonnet 5.5 costs $600 of $1,000 and has the best measured "
            "quality (81.7 +/-0.6); Gemini 3.8 Flash (75.5 +/-0.5), Mistral Medium 3.5 (64.2), Llama 4 Scout (54.8) "
            "and Command R (47.5) are measurably worse, so none may win on quality. GPT-6.2 Sol, same price, is "
            "unmeasured (its predecessor scored 83.0) and acceptable.",
        tags=("weights", "quality"),
    ),
    Scenario(
        name="onprem-legal-translation",
        overrides={"needs.tasks": ["translation"], "needs.languages": ["de", "fr", "en"],
                   "needs.customization": "full-control", "support.ml_expertise": "strong",
                   "security.data_sensitivity": "confidential", "security.on_premises_only": True,
                   "long_term.growth": "low", "long_term.lock_in_tolerance": "low",
                   "budget.monthly_usd": 12000,
                   "budget.volume": {"requests_per_month": 50_000, "tokens_per_request": 2500}},
        verdict="open-source",
        acceptable=_ids("llama-2", "mistral"),
        never=API_ONLY | _ids("opennmt", "gpt-oss-120b", "qwen", "deepseek"),
        why="On premises with full control leaves self-hosted open weights that translate: Llama 4 Scout (de/fr/en "
            "among its 12 languages, 54.8, one H100: $4,055) and Mistral Medium 3.5 (64.2 measured, 4x H100: "
            "$11,720; superseded, but the weights stay usable), both within $12,000. OpenNMT is unsupported and "
            "must be trained, gpt-oss, Qwen and DeepSeek do not claim translation.",
        tags=("translation", "on-premises", "full-control"),
    ),
    Scenario(
        name="no-volume-research-digest",
        overrides={"needs.tasks": ["summarization", "classification"], "needs.languages": ["en"],
                   "budget.monthly_usd": 400, "budget.volume": DELETE,
                   "security.data_sensitivity": "public",
                   "long_term.growth": "low", "long_term.lock_in_tolerance": "high"},
        verdict="closed-source",
        acceptable=_ids("claude", "gemini", "chatgpt"),
        never=_ids("llama-2", "mistral", "opennmt", "gpt-j", "bard"),
        why="Without a volume no API cost can be estimated, so price cannot separate the hosted offers and measured "
            "quality leads: Sonnet 5.5 (81.7), then Gemini 3.8 Flash (75.5); GPT-6.2 Sol is unmeasured. Self-hosting "
            "has a known floor ($2,555 GPU + $4,000 operations for one H100, over 16x the $400), which rules out "
            "Llama 4 (Groq offer retired) and Mistral Medium 3.5 (API deprecated).",
        tags=("no volume", "summarization"),
    ),
    Scenario(
        name="chat-swahili-yoruba",
        overrides={"needs.languages": ["en", "sw", "yo"], "budget.monthly_usd": 2000,
                   "budget.volume": {"requests_per_month": 100_000, "tokens_per_request": 1000}},
        verdict="closed-source",
        acceptable=_ids("claude", "chatgpt"),
        never=COHERE | _ids("llama-2", "mistral-large", "mistral-small", "mistral", "bard"),
        why="Swahili and Yoruba are benchmarked only for Claude (Global-MMLU, Sonnet 5.5 at 93.6-99% of English, "
            "Yoruba lowest) and OpenAI (MMMLU, both clearly lower); Gemini's list has Swahili but not Yoruba, "
            "Mistral's, Cohere's and Llama 4's have neither. Sonnet ($400 at 100M tokens, 81.7) or GPT-6.2 Sol "
            "($400).",
        tags=("languages",),
    ),
)
