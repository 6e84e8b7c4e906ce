"""The facts one decision rests on, as a digest: what a synced catalog change must alter for a
memo to be re-issued. Every scored candidate's model and offer facts (value, source, date, synced
id), its lifecycle, and every exclusion reason. A price change of an offer the project never
scored (excluded for another reason) leaves the digest, and the memo, as they are."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from modelmemo.catalog.load import Fact
from modelmemo.decision.decide import Decision


def _fact(fact: Fact) -> list[Any]:
    return [fact.value, fact.source.key, fact.source.as_of.isoformat(), fact.synced_id]


def decision_facts_digest(decision: Decision) -> str:
    rows: list[Any] = []
    for candidate in decision.candidates:
        model, deployment = candidate.model, candidate.deployment
        life = deployment.lifecycle
        rows.append([model.id, deployment.id,
                     {name: _fact(fact) for name, fact in sorted(model.facts.items())},
                     {name: _fact(fact) for name, fact in sorted(deployment.facts.items())},
                     [life.status, life.date.isoformat() if life.date else None, life.successor, life.unlisted]])
    rows.append(sorted((model_id, list(reasons)) for model_id, reasons in decision.excluded.items()))
    text = json.dumps(rows, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
