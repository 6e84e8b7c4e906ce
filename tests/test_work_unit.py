"""The work unit every runner renders through (modelmemo/batch/work_unit.py) and the Dask helpers that
need no cluster (modelmemo/batch/scaleout.py): data in, data out, checked before anything is written."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from modelmemo.batch import pipeline
from modelmemo.batch.work_unit import (RENDERER, BundlePaths, ClusterError, RenderBundle, UnitResult, check_result,
                                 describe_outcome, render_unit, write_unit_result)

from .conftest import CATALOG, TEMPLATES, copy_examples


@pytest.fixture(scope="module")
def unit_and_result(tmp_path_factory):
    """A unit for one shipped example, rendered from a materialised bundle in another folder."""
    root = tmp_path_factory.mktemp("unit")
    inputs = root / "inputs"
    inputs.mkdir()
    copy_examples(inputs, ["ticket-triage"])
    plan = pipeline.plan_batch(inputs)
    (job,) = pipeline.make_jobs(plan.projects, root / "run", "run-1", "2026-11-29T02:00:00+00:00", (CATALOG,),
                                TEMPLATES, "fp")
    unit = pipeline.unit_from_job(job)
    paths = RenderBundle.from_paths((CATALOG,), TEMPLATES).materialise(root / "worker-temp")
    return unit, render_unit(unit, paths), job, root


def test_a_unit_carries_data_not_paths_to_read(unit_and_result):
    unit, result, job, _ = unit_and_result
    assert unit.input_bytes == Path(job.project.path).read_bytes()
    assert result.outcome.status == "memo", result.outcome.error
    assert result.pdf.startswith(b"%PDF-") and json.loads(result.memo_json)["run_id"] == "run-1"


def test_the_bundle_renders_the_same_bytes_as_the_folders_in_place(unit_and_result, tmp_path):
    unit, result, job, _ = unit_and_result
    in_place = render_unit(unit, BundlePaths(job.catalog_files, job.templates_dir))
    assert (in_place.pdf, in_place.html, in_place.memo_json) == (result.pdf, result.html, result.memo_json)
    outcome = pipeline.render_project(dataclasses.replace(job, run_dir=str(tmp_path)))
    assert outcome == result.outcome
    assert (tmp_path / "ticket-triage.pdf").read_bytes() == result.pdf


def test_a_bundle_is_named_by_its_content_and_materialised_once(tmp_path):
    bundle = RenderBundle.from_paths((CATALOG,), TEMPLATES)
    assert RenderBundle.from_paths((CATALOG,), TEMPLATES).digest == bundle.digest
    first = bundle.materialise(tmp_path)
    assert Path(first.templates_dir, "brand.yaml").read_bytes() == (TEMPLATES / "brand.yaml").read_bytes()
    assert Path(first.catalog_files[0]).read_bytes() == CATALOG.read_bytes()
    Path(first.templates_dir, "brand.yaml").write_text("edited")  # reused as it is: nothing rewritten
    assert bundle.materialise(tmp_path) == first and Path(first.templates_dir, "brand.yaml").read_text() == "edited"
    import shutil

    edited = shutil.copytree(TEMPLATES, tmp_path / "edited-templates")
    (edited / "extra.css").write_text("p {}")
    other = RenderBundle.from_paths((CATALOG,), edited)
    assert other.digest != bundle.digest
    assert other.materialise(tmp_path).templates_dir != first.templates_dir
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".bundle-")] == []  # no scratch left


def test_a_bundle_path_outside_its_folder_is_refused(tmp_path):
    bundle = RenderBundle("0" * 64, RENDERER, (), (("../escape.css", b"x"),))
    with pytest.raises(ValueError, match="outside the bundle"):
        bundle.materialise(tmp_path / "w")
    assert not (tmp_path / "escape.css").exists() and not (tmp_path / "w" / "escape.css").exists()


def test_a_result_from_another_modelmemo_version_is_not_written(unit_and_result, tmp_path):
    unit, result, _, _ = unit_and_result
    foreign = dataclasses.replace(result, renderer="modelmemo 0.0.9, memo format 1")
    outcome = write_unit_result(unit, foreign, tmp_path)
    assert outcome.status == "failed" and "install the same modelmemo version on every worker" in outcome.error
    assert list(tmp_path.iterdir()) == []


def test_a_result_for_another_project_or_incomplete_is_not_written(unit_and_result, tmp_path):
    unit, result, _, _ = unit_and_result
    other = dataclasses.replace(result, outcome=dataclasses.replace(result.outcome, project_id="someone-else"))
    assert "another project" in check_result(unit, other)
    assert "incomplete" in check_result(unit, dataclasses.replace(result, pdf=b"<html>"))
    assert "another input or run" in check_result(unit, dataclasses.replace(
        result, memo_json=result.memo_json.replace(b'"run-1"', b'"run-2"')))
    for bad in (other, dataclasses.replace(result, pdf=None)):
        assert write_unit_result(unit, bad, tmp_path).status == "failed"
    assert list(tmp_path.iterdir()) == []
    assert check_result(unit, result) is None


def test_a_changed_input_fails_its_unit_without_rendering(unit_and_result):
    unit, _, _, _ = unit_and_result
    result = render_unit(dataclasses.replace(unit, input_bytes=unit.input_bytes + b"\n# edited\n"),
                         BundlePaths((str(CATALOG),), str(TEMPLATES)))
    assert result.outcome.status == "failed" and "changed during the run" in result.outcome.error
    assert result.pdf is None


def test_a_worker_plugin_refuses_a_bundle_from_another_version(tmp_path):
    from modelmemo.batch.scaleout import RenderBundlePlugin

    class FakeWorker:
        address = "tcp://10.0.0.9:4000"
        local_directory = str(tmp_path)

    bundle = dataclasses.replace(RenderBundle.from_paths((CATALOG,), TEMPLATES), renderer="modelmemo 9.9, memo format 9")
    with pytest.raises(ClusterError, match="install the same modelmemo version"):
        RenderBundlePlugin(bundle).setup(FakeWorker())
    assert list(tmp_path.iterdir()) == []


def test_chunks_are_sized_from_the_batch_and_the_cluster():
    from modelmemo.batch.scaleout import memos_per_chunk

    assert memos_per_chunk(300, 2) == 10  # capped: progress moves and a lost worker costs little
    assert memos_per_chunk(32, 2) == 4  # 8 chunks: 4 per worker thread
    assert memos_per_chunk(5, 2) == 1
    assert memos_per_chunk(1000, 64) == 4
    from modelmemo.batch.scaleout import chunk

    chunks = chunk(list(range(300)), 2)  # guided: full chunks first, then smaller ones towards the end
    assert [m for c in chunks for m in c] == list(range(300))  # every memo once, in order
    sizes = [len(c) for c in chunks]
    assert sizes[0] == 10 and sizes == sorted(sizes, reverse=True) and sizes[-1] == 1


def test_unit_results_are_plain_data_for_the_wire(unit_and_result):
    import pickle

    unit, result, _, _ = unit_and_result
    assert pickle.loads(pickle.dumps(unit)) == unit
    assert pickle.loads(pickle.dumps(result)) == result
    assert isinstance(result, UnitResult) and "/" not in result.outcome.pdf


def test_a_tie_is_described_with_each_tied_models_own_score(tmp_path):
    """Alpha and Beta rated and priced alike (the fixture catalog): the progress line and index name
    both, each with its own total, and no single 'top score'."""
    from .helpers import requirements, write_yaml
    from .test_decision import fixture_catalog_data

    data = fixture_catalog_data()
    data["models"]["beta-api"]["quality"] = json.loads(json.dumps(data["models"]["alpha-api"]["quality"]))
    catalog_file = write_yaml(tmp_path / "twins.yaml", data)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    write_yaml(inputs / "twins.yaml", requirements(**{"needs.tasks": ["chat"]}))
    (job,) = pipeline.make_jobs(pipeline.plan_batch(inputs).projects, tmp_path / "run", "run-1",
                                "2026-11-29T02:00:00+00:00", (catalog_file,), TEMPLATES, "fp")
    result = render_unit(pipeline.unit_from_job(job), BundlePaths(job.catalog_files, job.templates_dir))
    memo = json.loads(result.memo_json)
    assert memo["tied"]
    names = [memo["recommended"][0]["model"], *memo["tied"]]
    expected = " and ".join(f"{memo['model_names'][m]} ({memo['scores'][m]['total']:.1f})" for m in names) + ", tied"
    assert result.outcome.top_model_name == expected and result.outcome.top_score is None
    assert describe_outcome(result.outcome).endswith(f"top model {expected}")
