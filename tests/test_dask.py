"""Scale-out: the same batch on a Dask cluster (2 workers) gives the same memos as the local runner."""

from __future__ import annotations

import json


from .conftest import copy_examples

RUN_SPECIFIC = {"run_id", "generated_at", "changes"}


def memo_contents(run_dir):
    return {p.stem: {k: v for k, v in json.loads(p.read_text()).items() if k not in RUN_SPECIFIC}
            for p in run_dir.glob("*.json") if p.name != "summary.json"}


def test_dask_cluster_renders_the_same_memos_as_the_local_runner(prefect_api, tmp_path):
    from distributed import LocalCluster

    from flows.batch import memo_batch

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    copy_examples(inputs, ["research-digest", "ticket-triage", "legal-translation"])
    local = memo_batch(input_dir=str(inputs), output_dir=str(tmp_path / "local"), run_id="local", workers=2,
                       send_email=False, return_state=True)
    assert local.is_completed()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        state = memo_batch(input_dir=str(inputs), output_dir=str(tmp_path / "dask"), run_id="dask", runner="dask",
                           dask_address=cluster.scheduler_address, send_email=False, return_state=True)
    assert state.is_completed(), state.message
    local_memos = memo_contents(tmp_path / "local" / "local")
    dask_memos = memo_contents(tmp_path / "dask" / "dask")
    assert set(local_memos) == {"research-digest", "ticket-triage", "legal-translation"}
    assert dask_memos == local_memos
    for project in local_memos:
        assert (tmp_path / "dask" / "dask" / f"{project}.pdf").read_bytes().startswith(b"%PDF")


def test_unknown_runner_is_refused(prefect_api, tmp_path):
    from flows.batch import memo_batch

    state = memo_batch(input_dir=str(tmp_path), output_dir=str(tmp_path / "o"), runner="spark", return_state=True)
    assert state.is_failed() and "unknown runner" in str(state.result(raise_on_failure=False))
