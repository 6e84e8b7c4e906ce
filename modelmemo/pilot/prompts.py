"""What is sent for each example: one OpenAI-style request body (without the model name, which is
the route's), the same for every candidate so their answers compare.

Sampling is left at each endpoint's default (reasoning models refuse a temperature); answers are
cached, so a rerun compares the same answers. Nothing but the example's own text and the task's
instruction is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelmemo.decision.words import language_name
from modelmemo.pilot.examples import Example, ExampleSet
from modelmemo.settings import PILOT_MAX_OUTPUT_TOKENS

_INSTRUCTIONS = {
    "summarization": "Summarize the text. Reply with the summary only.",
    "code": "Write the code asked for. Reply with the code only, without explanations or Markdown fences.",
}
JUDGE_INSTRUCTIONS = ("You rate an answer against a rubric. Reply with one digit from 1 (fails the rubric) to 5 "
                      "(fully meets it) and nothing else.")


@dataclass(frozen=True)
class Request:
    kind: str  # "chat" | "embeddings" (the endpoint path)
    body: dict[str, Any]  # the JSON body without "model"
    example: Example
    purpose: str = "answer"  # "answer" | "judge"

    @property
    def characters(self) -> int:
        """The text sent, for the cost estimate (tokens ~ characters / 4)."""
        if self.kind == "embeddings":
            return sum(len(text) for text in self.body["input"])
        return sum(len(message["content"]) for message in self.body["messages"])


def default_labels(examples: ExampleSet) -> tuple[str, ...]:
    """A classification example without its own labels may answer any label the file's
    classification examples use (sorted, so the prompt is the same whatever the line order)."""
    return tuple(sorted({e.reference for e in examples.for_task("classification") if e.reference}))


def answer_request(example: Example, labels: tuple[str, ...] = ()) -> Request:
    if example.task == "embeddings":  # the query and the passage it should find, embedded in one call
        return Request("embeddings", {"input": [example.input, example.reference]}, example)
    system = example.instructions or _system(example, labels)
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": example.input}]
    return Request("chat", {"messages": messages, "max_tokens": PILOT_MAX_OUTPUT_TOKENS}, example)


def _system(example: Example, labels: tuple[str, ...]) -> str | None:
    if example.task == "classification":
        allowed = example.labels or labels
        return "Classify the text. Answer with exactly one of these labels and nothing else: " + ", ".join(allowed) + "."
    if example.task == "translation":
        return f"Translate the text into {language_name(example.target_language or '')}. Reply with the translation only."
    return _INSTRUCTIONS.get(example.task)  # chat, text-generation: the user's message as it is


def judge_request(example: Example, answer: str) -> Request:
    user = f"Request:\n{example.input}\n\nRubric:\n{example.rubric}\n\nAnswer:\n{answer}"
    return Request("chat", {"messages": [{"role": "system", "content": JUDGE_INSTRUCTIONS},
                                         {"role": "user", "content": user}], "max_tokens": 4}, example, "judge")


def judge_score(text: str) -> int | None:
    """The judge's 1-5 rating, or None when it answered anything else."""
    stripped = text.strip().strip("*.").strip()
    return int(stripped) if stripped in ("1", "2", "3", "4", "5") else None
