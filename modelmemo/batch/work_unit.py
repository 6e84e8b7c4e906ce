"""One memo as a self-contained unit of work: data in, data out, no paths of the coordinator.

Every runner renders through `render_unit`:

* the local process pool calls it inside `pipeline.render_project`, with the catalog and templates
  where they are (`BundlePaths` of the real folders) and the job's PDF renderer (WeasyPrint unless
  a test passes its fake), and writes the result in the worker;
* a Dask worker (modelmemo/batch/scaleout.py) calls it with the `RenderBundle` materialised once in its
  own temporary folder and WeasyPrint, and sends the result back; the coordinator writes it
  (`write_unit_result`).

A `WorkUnit` carries the input file's bytes and hash, the run's id and time, and the previous memo
as data; a `UnitResult` carries the memo JSON, HTML and PDF as bytes plus the outcome. So a worker
needs neither the drop folder nor the output folder, nor any file system shared with the
coordinator: only this package (same version), its fonts, and the bundle.

Nothing here imports Prefect or Dask.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any, Iterable

from modelmemo import __version__
from modelmemo.batch.atomic import atomic_write_bytes
from modelmemo.decision.fingerprint import decision_fingerprint
from modelmemo.decision.pilot import PilotEvidence
from modelmemo.catalog.load import Catalog, load_catalog
from modelmemo.batch.layout import memo_file, memo_name
from modelmemo.memo.limits import RENDER_SECONDS, RenderTimeout, time_limit
from modelmemo.inputs.loading import InputError, LoadedDocument, decode_text, parse_json, parse_yaml, read_bytes_limited
from modelmemo.memo.document import MEMO_VERSION, RunContext, make_memo
from modelmemo.memo.pdf_renderer import WEASYPRINT, PdfRenderer
from modelmemo.memo.render import RenderError, render_memo
from modelmemo.inputs.requirements import Requirements
from modelmemo.inputs.validation import schema_problems

# What a worker must run to produce memos identical to the coordinator's: the package version and
# the memo format. A result from any other renderer is refused (see write_unit_result).
RENDERER = f"modelmemo {__version__}, memo format {MEMO_VERSION}"


@dataclass(frozen=True)
class PlannedProject:
    """A valid input file, ready to render, with the pilot data it is decided with (batch/pilot_inputs.py)."""

    file: str
    path: str
    project_id: str
    name: str
    input_sha256: str
    pilot_examples: str = ""  # the examples file its pilot section names ("" without one)
    pilot_sha256: str = ""  # the examples file's bytes and the pilot results that apply to them
    pilot: PilotEvidence | None = None  # those results, as the decision's data


@dataclass(frozen=True)
class ProjectOutcome:
    project_id: str
    name: str
    file: str
    status: str  # "memo" | "failed" | "skipped"
    verdict: str | None = None
    verdict_label: str | None = None
    top_model: str | None = None
    top_model_name: str | None = None
    top_score: float | None = None
    html: str | None = None
    pdf: str | None = None
    json: str | None = None
    error: str | None = None
    recipients: tuple[str, ...] = ()
    memo_run_id: str | None = None
    input_sha256: str | None = None
    fingerprint: str | None = None
    change: str | None = None  # what changed since the previous memo, in one line
    warnings: tuple[str, ...] = ()  # a memo that was written but has a fault (e.g. missing glyphs)
    decision_sha256: str | None = None  # decision.fingerprint: what the decision says
    overlay_sha256: str | None = None  # the synced overlay the memo was decided under
    pilot_examples: str | None = None  # the pilot file its requirement file names (what the next run re-reads)
    pilot_sha256: str | None = None  # the pilot data the memo was decided with (PlannedProject.pilot_sha256)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["recipients"] = list(self.recipients)
        data["warnings"] = list(self.warnings)
        return data


class ClusterError(Exception):
    """A cluster cannot render this run (unreachable, no workers, another modelmemo version).
    Defined here, not in scaleout.py, so the flow can catch it without importing Dask."""


def describe_outcome(outcome: ProjectOutcome) -> str:
    """What happened to one project, in words: the console's progress line and the flow's log say it."""
    if outcome.status == "memo":
        detail = outcome.verdict_label or "memo"
        if outcome.top_model_name:
            detail += f", top model {outcome.top_model_name}"
            detail += f" ({outcome.top_score:.1f})" if outcome.top_score is not None else ""
    elif outcome.status == "skipped":
        detail = "unchanged, memo kept"
    else:
        detail = f"FAILED: {outcome.error}"
    if outcome.warnings:  # a memo written with a fault (e.g. a glyph no font has) is said, never silent
        detail += "; warning: " + "; ".join(outcome.warnings)
    return detail


def replace_outcome(outcome: ProjectOutcome, **changes: Any) -> ProjectOutcome:
    return ProjectOutcome(**{**outcome.__dict__, **changes})


# --- the catalog and templates, by path or as data -----------------------------------------------


@dataclass(frozen=True)
class BundlePaths:
    """Where a process finds the catalog files (in merge order) and the templates folder."""

    catalog_files: tuple[str, ...]
    templates_dir: str


def file_stamp(paths: Iterable[Path | str]) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime, size) of each file: a cache key that changes when a file is edited in place."""
    stamps = []
    for path in paths:
        info = Path(path).stat()
        stamps.append((str(path), info.st_mtime_ns, info.st_size))
    return tuple(stamps)


def cached_catalog(catalog_files: tuple[str, ...]) -> Catalog:
    """The catalog, parsed once per process (a render worker; the command, which checks it before
    Prefect starts and runs the flow that uses it), re-read when a file changes (watch mode)."""
    try:
        stamp = file_stamp(catalog_files)
    except OSError:  # a missing or unreadable file: load_catalog says which, as a CatalogError
        return load_catalog([Path(p) for p in catalog_files])
    return _load_catalog_once(catalog_files, stamp, date.today())  # a new day can retire a deprecated offer


@lru_cache(maxsize=4)
def _load_catalog_once(catalog_files: tuple[str, ...], stamp: tuple, today: date) -> Catalog:
    return load_catalog([Path(p) for p in catalog_files])


BUNDLE_PREFIX = "modelmemo-bundle-"
_COMPLETE_MARKER = ".complete"


@dataclass(frozen=True)
class RenderBundle:
    """The catalog files and the templates folder as bytes, named by a hash of their content and
    of the renderer, so a worker materialises each distinct bundle once and never mixes two."""

    digest: str
    renderer: str
    catalog_files: tuple[tuple[str, bytes], ...]  # (file name, bytes), in merge order
    templates: tuple[tuple[str, bytes], ...]  # (path relative to the templates folder, bytes)

    @classmethod
    def from_paths(cls, catalog_files: Iterable[Path | str], templates_dir: Path | str) -> "RenderBundle":
        templates_root = Path(templates_dir)
        catalog = tuple((Path(p).name, Path(p).read_bytes()) for p in catalog_files)
        templates = tuple((p.relative_to(templates_root).as_posix(), p.read_bytes())
                          for p in sorted(templates_root.rglob("*")) if p.is_file())
        digest = hashlib.sha256(RENDERER.encode())
        for group, files in (("catalog", catalog), ("templates", templates)):
            for name, data in files:
                digest.update(f"\0{group}\0{name}\0{len(data)}\0".encode())
                digest.update(data)
        return cls(digest.hexdigest(), RENDERER, catalog, templates)

    @property
    def size(self) -> int:
        return sum(len(data) for _, data in self.catalog_files + self.templates)

    def materialise(self, parent: Path) -> BundlePaths:
        """Write the bundle once into `parent/modelmemo-bundle-<digest>/` (a process-local temporary
        folder) and return its paths. Written in a scratch folder renamed into place, so a worker
        killed half-way never leaves a partial bundle that a later one would trust."""
        target = parent / (BUNDLE_PREFIX + self.digest[:24])
        paths = BundlePaths(tuple(str(target / "catalog" / f"{i:02d}-{name}")
                                  for i, (name, _) in enumerate(self.catalog_files)),
                            str(target / "templates"))
        if (target / _COMPLETE_MARKER).is_file():
            return paths
        parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".bundle-", dir=parent))
        try:
            for (name, data), path in zip(self.catalog_files, paths.catalog_files):
                _write_inside(scratch, Path(path).relative_to(target), data)
            for name, data in self.templates:
                _write_inside(scratch / "templates", _safe_relative(name), data)
            (scratch / _COMPLETE_MARKER).write_text(self.renderer + "\n")
            try:
                os.rename(scratch, target)
            except OSError:  # another process of the same worker got there first: use its copy
                if not (target / _COMPLETE_MARKER).is_file():
                    raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return paths


def _safe_relative(name: str) -> Path:
    """A bundle path must stay inside its folder (no absolute paths, no '..')."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"refused bundle path {name!r}: outside the bundle")
    return Path(*path.parts)


def _write_inside(root: Path, relative: Path, data: bytes) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# --- the unit of work ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkUnit:
    """Everything a worker needs to render one memo, as data (picklable, no coordinator paths)."""

    project: PlannedProject  # `path` is the coordinator's: named in messages, never opened by a worker
    input_bytes: bytes
    input_format: str  # "json" or "yaml" (from the file's suffix)
    run_id: str
    generated_at: str
    fingerprint: str = ""
    templates_sha256: str = ""
    previous_memo: dict[str, Any] | None = None  # this project's previous memo JSON, if readable
    forced: bool = False
    time_limit_seconds: float = RENDER_SECONDS


@dataclass(frozen=True)
class UnitResult:
    """What a worker sends back: the outcome and, for a memo, its three files as bytes."""

    outcome: ProjectOutcome
    memo_json: bytes | None = None
    html: bytes | None = None
    pdf: bytes | None = None
    renderer: str = RENDERER


def failed_outcome(project: PlannedProject, run_id: str, fingerprint: str, error: str) -> ProjectOutcome:
    return ProjectOutcome(project.project_id, project.name, project.file, "failed", error=error,
                          input_sha256=project.input_sha256, memo_run_id=run_id, fingerprint=fingerprint)


def read_input(project: PlannedProject) -> tuple[bytes | None, str | None]:
    """(the input's bytes, None), or (None, why not) when it is gone or changed since planning.

    Read as the drop folder is read at planning (no symbolic links, regular files only) and checked
    against the planned hash, so a unit never carries content that was not validated."""
    try:
        raw = read_bytes_limited(Path(project.path), follow_symlinks=False)
    except InputError as exc:
        return None, f"file changed during the run: {project.file}: {exc.message}"
    except OSError as exc:
        return None, f"file changed during the run: {project.file}: {exc.strerror or exc}"
    if hashlib.sha256(raw).hexdigest() != project.input_sha256:
        return None, "file changed during the run; it will be processed next run"
    return raw, None


def read_previous_memo(path: str | None) -> dict[str, Any] | None:
    """A missing or unreadable previous memo means 'first memo' (no changes section)."""
    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def input_format(path: str) -> str:
    return "json" if Path(path).suffix.lower() == ".json" else "yaml"


def _parse(unit: WorkUnit) -> LoadedDocument:
    text = decode_text(unit.input_bytes)
    parser = parse_json if unit.input_format == "json" else parse_yaml
    data, positions, key_positions = parser(text)
    return LoadedDocument(data, hashlib.sha256(unit.input_bytes).hexdigest(), positions, key_positions)


def render_unit(unit: WorkUnit, paths: BundlePaths, renderer: PdfRenderer = WEASYPRINT) -> UnitResult:
    """Score and render one memo to bytes. Never raises for bad data: a failure is an outcome.

    Reads nothing but the bundle (catalog and templates at `paths`) and writes nothing. The PDF
    comes from `renderer` (memo/pdf_renderer.py): WeasyPrint unless the caller says otherwise
    (the local pool passes its job's; a Dask worker always renders with WeasyPrint)."""
    planned = unit.project
    base = ProjectOutcome(planned.project_id, planned.name, planned.file, "failed",
                          input_sha256=planned.input_sha256, memo_run_id=unit.run_id, fingerprint=unit.fingerprint,
                          pilot_examples=planned.pilot_examples, pilot_sha256=planned.pilot_sha256)
    try:
        if hashlib.sha256(unit.input_bytes).hexdigest() != planned.input_sha256:
            return UnitResult(replace_outcome(base, error="file changed during the run; it will be processed next run"))
        try:
            document = _parse(unit)
        except InputError as exc:
            return UnitResult(replace_outcome(base, error=f"file changed during the run: {planned.file}: {exc.message}"))
        problems = schema_problems(document, planned.file)
        if problems:
            return UnitResult(replace_outcome(base, error="file changed during the run: "
                                                          + "; ".join(str(p) for p in problems)))
        catalog = cached_catalog(paths.catalog_files)
        templates = Path(paths.templates_dir)
        req = Requirements.from_data(document.data)
        memo, decision = make_memo(req, catalog, RunContext(
            unit.run_id, unit.generated_at, planned.file, planned.input_sha256, templates_sha256=unit.templates_sha256,
            previous_memo=unit.previous_memo, forced=unit.forced, pilot=planned.pilot))
        with time_limit(unit.time_limit_seconds):
            html, rendered = render_memo(memo, templates, renderer)  # a missing glyph is said in the memo too
        memo_json = memo_json_bytes(memo)  # strict JSON: a memo holding inf or nan fails here, named
    except (RenderError, RenderTimeout, NonFiniteNumber) as exc:
        return UnitResult(replace_outcome(base, error=str(exc)))
    except MemoryError:
        return UnitResult(replace_outcome(base, error="rendering ran out of its memory limit"))
    except Exception as exc:  # one broken project must not stop the batch; the error is reported
        return UnitResult(replace_outcome(base, error=f"{type(exc).__name__}: {exc}"))
    pid = req.project_id
    top = decision.recommended_ids[0] if decision.recommended_ids else None
    # A tie names every tied model with its own score (never an id-order winner, and no single
    # score: tied totals can differ, e.g. 88.9 and 80.7 when the gap rests on missing evidence);
    # a combination names each pick.
    tie = bool(decision.tied) and not decision.combination
    if tie:
        top_name = " and ".join(f"{catalog.models[m].name} ({decision.scores[m].total:.1f})"
                                for m in [top, *decision.tied]) + ", tied"
    else:
        top_name = " + ".join(catalog.models[m].name for m in decision.recommended_ids) or None
    outcome = replace_outcome(
        base,
        status="memo",
        verdict=decision.verdict,
        verdict_label=decision.verdict_label,
        top_model=top,
        top_model_name=top_name,
        top_score=round(decision.scores[top].total, 1) if top and not tie else None,
        html=memo_name(pid, "html"),
        pdf=memo_name(pid, "pdf"),
        json=memo_name(pid, "json"),
        recipients=req.recipients,
        change=memo["changes"]["summary"] if memo["changes"] else None,
        warnings=tuple(rendered.warnings),
        decision_sha256=decision_fingerprint(decision),
        overlay_sha256=catalog.overlay_sha256,
    )
    return UnitResult(outcome, memo_json, html.encode("utf-8"), rendered.pdf)


class NonFiniteNumber(ValueError):
    """A memo holds inf or nan, which JSON cannot carry (json.dumps would write `Infinity`)."""


def memo_json_bytes(memo: dict[str, Any]) -> bytes:
    """The memo's JSON file: strict JSON (allow_nan=False), so a figure that overflowed somewhere
    fails this memo naming where, instead of writing `Infinity` or `NaN` no JSON reader accepts."""
    try:
        return (json.dumps(memo, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    except ValueError:
        where = _non_finite_path(memo) or "somewhere"
        raise NonFiniteNumber(f"the memo holds a number that is not finite at {where} (inf or nan: a catalog "
                              "figure out of range?); not written") from None


def _non_finite_path(value: Any, path: str = "") -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return path or "(top level)"
    if isinstance(value, dict):
        items = ((f"{path}.{key}" if path else str(key), item) for key, item in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    return next((found for sub, item in items if (found := _non_finite_path(item, sub))), None)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def check_result(unit: WorkUnit, result: UnitResult) -> str | None:
    """Why a worker's result cannot be written as this unit's memo, or None when it can.

    A worker is another machine: it may run another modelmemo version (different memos under the
    same fingerprint), or return something that is not this project's memo."""
    if result.renderer != RENDERER:
        return (f"the render worker runs {result.renderer}, this run {RENDERER}: "
                "install the same modelmemo version on every worker")
    outcome = result.outcome
    if outcome.project_id != unit.project.project_id or outcome.input_sha256 != unit.project.input_sha256:
        return f"the render worker returned the memo of another project ({outcome.project_id})"
    if outcome.status != "memo":
        return None
    if not (result.pdf or b"").startswith(b"%PDF-") or not result.html or not result.memo_json:
        return "the render worker returned an incomplete memo (PDF, HTML or JSON missing)"
    try:
        memo = json.loads(result.memo_json, parse_constant=_refuse_constant)  # no Infinity, no NaN
    except ValueError:
        return "the render worker returned memo JSON that does not parse (or holds Infinity or NaN)"
    if memo.get("input_sha256") != unit.project.input_sha256 or memo.get("run_id") != unit.run_id:
        return "the render worker returned a memo for another input or run"
    return None


def write_unit_result(unit: WorkUnit, result: UnitResult, run_dir: Path) -> ProjectOutcome:
    """Check a result and write its memo to <run_dir>/<id>.{pdf,html,json}: atomically, JSON last,
    so a memo whose JSON exists is complete. Returns the outcome to record."""
    problem = check_result(unit, result)
    if problem:
        return failed_outcome(unit.project, unit.run_id, unit.fingerprint, problem)
    outcome = result.outcome
    if outcome.status != "memo":
        return outcome
    pid = outcome.project_id
    try:
        atomic_write_bytes(memo_file(run_dir, pid, "pdf"), result.pdf)
        atomic_write_bytes(memo_file(run_dir, pid, "html"), result.html)
        atomic_write_bytes(memo_file(run_dir, pid, "json"), result.memo_json)
    except OSError as exc:
        remove_incomplete_memo(run_dir, pid)
        return failed_outcome(unit.project, unit.run_id, unit.fingerprint,
                              f"could not write the memo: {exc.strerror or exc}")
    return outcome


def remove_incomplete_memo(run_dir: Path, project_id: str) -> None:
    """A memo is complete when its JSON (written last) exists; remove the parts of one that is not."""
    if memo_file(run_dir, project_id, "json").exists():
        return
    for kind in ("pdf", "html"):
        memo_file(run_dir, project_id, kind).unlink(missing_ok=True)

