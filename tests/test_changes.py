"""'What changed': a regenerated memo says what moved since the previous one, and why."""

from __future__ import annotations

import json

from modelmemo.memo.changes import compare
from modelmemo.batch.pipeline import run_batch

from .conftest import CATALOG, TEMPLATES, copy_examples
from .helpers import pdf_text


def test_edited_input_shows_the_change_in_memo_pdf_and_index(drop_folder, tmp_path):
    copy_examples(drop_folder, ["support-chatbot"])
    output = tmp_path / "out"
    kwargs = dict(catalog_files=(CATALOG,), templates_dir=TEMPLATES)
    first = run_batch(drop_folder, output, **kwargs)
    first_memo = json.loads((output / first.run_id / "support-chatbot.json").read_text())
    assert first_memo["changes"] is None  # a first memo has nothing to compare with

    path = drop_folder / "support-chatbot.yaml"
    path.write_text(path.read_text().replace("monthly_usd: 1500", "monthly_usd: 600").replace("security: 2", "security: 5"))
    second = run_batch(drop_folder, output, **kwargs)
    memo = json.loads((output / second.run_id / "support-chatbot.json").read_text())
    changes = memo["changes"]
    assert changes["previous_run"] == first.run_id
    assert changes["causes"] == ["requirement file edited"]
    # The edits themselves come first, in words, then what they moved.
    assert changes["items"][:2] == ["Budget: $1,500/month → $600/month.", "Security fit weight: 2 → 5."]
    assert changes["summary"].startswith("Requirement file edited: Budget: $1,500/month → $600/month. Security fit")
    top = first_memo["recommended"][0]["model"]
    old_total = first_memo["scores"][top]["total"]
    new_total = memo["scores"][top]["total"]
    assert old_total != new_total
    expected = f"{first_memo['model_names'][top]} total: {old_total:.1f} → {new_total:.1f}."
    assert expected in changes["items"]
    text = " ".join(pdf_text(output / second.run_id / "support-chatbot.pdf").split())
    assert "what changed since the previous memo" in text.lower() and "requirement file edited" in text
    index = (output / second.run_id / "index.html").read_text()
    assert "Changed: Requirement file edited" in index
    # The email that carries the new memo says it too.
    from modelmemo.delivery.message import build_memo_email

    email = build_memo_email(memo, b"%PDF-1.7", "memo@example.com", ["a@example.com"], TEMPLATES)
    body = email.get_body(("plain",)).get_content()
    assert "Changed:    Requirement file edited: Budget: $1,500/month → $600/month." in body, body


def test_causes_name_the_catalog_and_the_format():
    base = {"input_sha256": "a", "catalog_sha256": "c1", "memo_version": 1, "verdict": "open-source",
            "verdict_label": "Open source", "recommended": "llama-2", "scores": {"llama-2": {"total": 80.0}},
            "ranking": ["llama-2"], "model_names": {"llama-2": "Llama 2"}}
    newer = {**base, "catalog_sha256": "c2", "verdict": "closed-source", "verdict_label": "Closed source",
             "recommended": "claude", "scores": {"claude": {"total": 82.0}}, "ranking": ["claude"],
             "model_names": {"claude": "Claude"}}
    result = compare(base, newer)
    assert result["causes"] == ["catalog updated"]
    assert result["items"][:2] == ["Verdict: Open source → Closed source.", "Top model: Llama 2 → Claude."]
    assert "Claude is now eligible (82.0)." in result["items"]
    assert "Llama 2 is no longer eligible." in result["items"]
    assert compare(base, dict(base), forced=True)["causes"] == ["re-rendered on request (--force)"]


def test_v2_memos_compare_by_top_pick_and_name_a_tie():
    """Memo JSON v2: `recommended` is a list of picks, `ranking` a list of candidates, `tied` model ids."""
    def memo(top, tied, totals):
        return {"input_sha256": "a", "catalog_sha256": "c", "memo_version": 2, "verdict": "closed-source",
                "verdict_label": "Closed source", "recommended": [{"task": None, "model": top, "deployment": "api"}],
                "tied": tied, "scores": {m: {"total": t} for m, t in totals.items()},
                "ranking": [{"model": m, "deployment": "api", "total": t} for m, t in totals.items()],
                "model_names": {"chatgpt": "ChatGPT", "claude": "Claude"}}
    v1 = {"input_sha256": "a", "catalog_sha256": "c", "memo_version": 1, "verdict": "closed-source",
          "verdict_label": "Closed source", "recommended": "chatgpt", "scores": {"chatgpt": {"total": 85.0}},
          "ranking": ["chatgpt"], "model_names": {"chatgpt": "ChatGPT"}}
    tie = memo("chatgpt", ["claude"], {"chatgpt": 85.0, "claude": 85.0})
    result = compare(v1, tie)
    assert result["causes"] == ["memo format updated"]
    assert "Top model: ChatGPT → ChatGPT = Claude (tie)." in result["items"]
    assert "Claude is now eligible (85.0)." in result["items"]
    same = compare(tie, dict(tie))
    assert same["items"] == [] and same["summary"].endswith("same verdict, top model and scores.")
    moved = compare(tie, memo("chatgpt", [], {"chatgpt": 86.0, "claude": 85.0}))
    assert moved["items"][:2] == ["Top model: ChatGPT = Claude (tie) → ChatGPT.", "ChatGPT total: 85.0 → 86.0."]
