"""Skipping what has not changed: which memos of the last runs are still valid (same input, same
catalog, templates, memo version and renderer), and recording each fresh memo so the next run can
skip it. The state file itself (its format, its lock) is batch/state.py.

A memo decided with pilot results (README "Pilot") is valid only while its pilot data is the same
(`pilot_sha256`: the examples file's bytes and the results stored for them, batch/pilot_inputs.py).

A file whose memo is still valid is not even parsed again: each state entry also records the
project's name, the file's format, the pilot file its pilot section names, and the *input rules* its bytes were validated under (the
requirement schema, the loader and validator, their limits, the modelmemo version: see
`input_rules_fingerprint`). Planning reads such a file's bytes and, when their sha256, format and
the rules match an entry whose memo is kept, takes the project id and name from the entry
(`KnownInputs`) instead of loading and validating the file: the same bytes under the same rules
give the same valid document. Anything else (a new or edited file, one rejected or failed last
time, changed rules, `--force`) is validated as ever."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

from modelmemo import __version__
from modelmemo.batch import layout
from modelmemo.batch.layout import memo_file
from modelmemo.batch.state import MemoState, render_fingerprint
from modelmemo.batch.work_unit import PlannedProject, ProjectOutcome, file_stamp, input_format
from modelmemo.catalog.load import Catalog
from modelmemo.memo.document import MEMO_VERSION
from modelmemo.memo.pdf_renderer import WEASYPRINT, PdfRenderer


def current_fingerprint(catalog: Catalog, templates_sha256: str, renderer: PdfRenderer = WEASYPRINT) -> str:
    """WeasyPrint's memos as ever; another renderer's (a test's fake) are never kept by a real run, nor keep one."""
    # The reviewed catalog only: a sync's overlay re-issues just the memos whose decision it
    # changed (split_unchanged, decision.fingerprint).
    fingerprint = render_fingerprint(catalog.base_sha256 or catalog.sha256, templates_sha256, MEMO_VERSION)
    return fingerprint if renderer == WEASYPRINT else f"{fingerprint}+{type(renderer).__qualname__}"


def previous_memo_path(state: MemoState, project_id: str, output_dir: Path) -> str | None:
    entry = state.entries.get(project_id)
    if not entry:
        return None
    path = memo_file(layout.run_dir(output_dir, entry["run_id"]), project_id, "json")
    return str(path) if path.is_file() else None


NO_OVERLAY = hashlib.sha256().hexdigest()  # Catalog.overlay_sha256 when no sync overlay is merged


def split_unchanged(projects: Iterable[PlannedProject], state: MemoState, fingerprint: str, output_dir: Path,
                    force: bool = False, overlay_sha256: str = NO_OVERLAY,
                    decided: Callable[[PlannedProject], str | None] | None = None,
                    ) -> tuple[list[PlannedProject], list[ProjectOutcome]]:
    """(projects to render, outcomes for projects whose previous memo is still valid).

    When the synced overlay changed since a memo was made, the memo is kept only if what its
    decision says did not change (`decided`: the project's decision.fingerprint under this run's
    catalog, None when it cannot be computed). A kept memo's entry is brought up to date with
    what lets the next run plan its file without parsing it (name, format, the input rules it was
    planned under: this run's) and with this overlay, saved once."""
    to_render: list[PlannedProject] = []
    skipped: list[ProjectOutcome] = []
    updated = False
    for planned in projects:
        entry = None if force else state.unchanged(planned.project_id, planned.input_sha256, fingerprint, output_dir)
        if entry is not None and (entry.get("pilot_sha256") or "") != planned.pilot_sha256:
            entry = None  # its pilot file changed, or new pilot results were stored: decided again
        if entry is not None and entry.get("overlay_sha256", NO_OVERLAY) != overlay_sha256:
            now = decided(planned) if decided is not None else None
            if now is None or now != entry.get("decision_sha256"):
                entry = None  # the decision changed: re-issued
            else:
                entry["overlay_sha256"] = overlay_sha256
                updated = True
        if entry is None:
            to_render.append(planned)
            continue
        known = {"name": planned.name, "format": input_format(planned.path), "validated": state.input_rules,
                 "pilot_examples": planned.pilot_examples}
        if state.input_rules and any(entry.get(key) != value for key, value in known.items()):
            entry.update(known)
            updated = True
        prefix = f"../{entry['run_id']}/{planned.project_id}"  # relative to this run's folder (layout.memo_name)
        skipped.append(ProjectOutcome(
            planned.project_id, planned.name, planned.file, "skipped",
            verdict=entry.get("verdict"), verdict_label=entry.get("verdict_label"), top_model=entry.get("top_model"),
            top_model_name=entry.get("top_model_name"), top_score=entry.get("top_score"),
            html=prefix + ".html", pdf=prefix + ".pdf", json=prefix + ".json",
            recipients=tuple(entry.get("recipients", ())), memo_run_id=entry["run_id"],
            input_sha256=planned.input_sha256, fingerprint=fingerprint,
        ))
    if updated:
        state.save()
    return to_render, skipped


def record_outcome(state: MemoState, outcome: ProjectOutcome) -> None:
    """Remember a fresh memo so the next run can skip it; saved at once (a crash loses nothing).
    `validated` is the input rules this run's planning validated the file under (state.input_rules,
    set by the batch; empty, i.e. never trusted without validation, when the caller set none)."""
    if outcome.status != "memo":
        return
    state.record(outcome.project_id, run_id=outcome.memo_run_id, file=outcome.file,
                 input_sha256=outcome.input_sha256, fingerprint=outcome.fingerprint, verdict=outcome.verdict,
                 verdict_label=outcome.verdict_label, top_model=outcome.top_model,
                 top_model_name=outcome.top_model_name, top_score=outcome.top_score,
                 recipients=list(outcome.recipients), name=outcome.name, format=input_format(outcome.file),
                 validated=state.input_rules, decision_sha256=outcome.decision_sha256,
                 overlay_sha256=outcome.overlay_sha256 or NO_OVERLAY, pilot_examples=outcome.pilot_examples or "",
                 pilot_sha256=outcome.pilot_sha256 or "")
    state.save()


# --- not parsing again what was valid ---------------------------------------------------------

# What decides whether a file's bytes are a valid requirement file, besides the bytes: these
# modules' code and the requirement schema (modelmemo.resources), read as bytes.
_INPUT_RULE_MODULES = ("modelmemo.inputs.loading", "modelmemo.inputs.validation")


def input_rules_fingerprint() -> str:
    """Changes whenever anything but a file's bytes (and format) could change whether it is valid,
    or its project id and name: the requirement schema, the loader's and validator's code, their
    limits and the modelmemo version. Cached per process while those files are unchanged."""
    import importlib.util

    from modelmemo.resources import schema_file

    paths = [str(schema_file("requirements.schema.json"))]
    for module in _INPUT_RULE_MODULES:
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin:
            paths.append(spec.origin)
    try:
        stamp = file_stamp(paths)
    except OSError:
        return ""  # a rule we cannot read: nothing is trusted without validation
    return _input_rules_once(tuple(paths), stamp)


@lru_cache(maxsize=4)
def _input_rules_once(paths: tuple[str, ...], stamp: tuple) -> str:
    from modelmemo.settings import MAX_INPUT_BYTES, MAX_NESTING_DEPTH, MAX_NUMBER_CHARACTERS

    digest = hashlib.sha256(f"modelmemo-{__version__}|{MAX_INPUT_BYTES}|{MAX_NESTING_DEPTH}|"
                            f"{MAX_NUMBER_CHARACTERS}".encode())
    for path in paths:
        digest.update(b"|" + Path(path).read_bytes())
    return digest.hexdigest()


class KnownInputs:
    """The inputs planning need not parse: (sha256, format) -> (project id, name) of every state
    entry whose memo is kept as it is (same input rules, same rendering fingerprint, memo files
    present). A plain class, not a dataclass: Prefect passes it to the plan task without walking it."""

    def __init__(self, known: dict[tuple[str, str], tuple[str, str, str]] | None = None) -> None:
        self.known = known or {}

    def __len__(self) -> int:
        return len(self.known)

    @classmethod
    def from_state(cls, state: MemoState, fingerprint: str, output_dir: Path) -> "KnownInputs":
        known: dict[tuple[str, str], tuple[str, str, str]] = {}
        for project_id, entry in state.entries.items():
            # `pilot_examples` too: an entry recorded before pilot files were owned does not say it
            if not state.input_rules or entry.get("validated") != state.input_rules \
                    or not isinstance(entry.get("name"), str) or entry.get("format") not in ("yaml", "json") \
                    or not isinstance(entry.get("pilot_examples"), str):
                continue
            if state.unchanged(project_id, entry.get("input_sha256") or "", fingerprint, output_dir) is not None:
                known[(entry["input_sha256"], entry["format"])] = (project_id, entry["name"], entry["pilot_examples"])
        return cls(known)

    def match(self, file: str, path: Path) -> PlannedProject | None:
        """The planned project of a known file (read as planning reads it: no symbolic link,
        regular files only, size-capped), or None: validate it."""
        if not self.known:
            return None
        from modelmemo.inputs.loading import InputError, read_bytes_limited

        try:
            raw = read_bytes_limited(path, follow_symlinks=False)
        except (InputError, OSError):
            return None
        sha = hashlib.sha256(raw).hexdigest()
        found = self.known.get((sha, input_format(str(path))))
        return None if found is None else PlannedProject(file, str(path), found[0], found[1], sha, found[2])


def templates_fingerprint(templates_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(templates_dir.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(templates_dir).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()
