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


def _profiler_state(dask_worker):
    running = [name for name in ("profile", "profile-cycle")  # sampling, and rotation of what it keeps
               if name in dask_worker.periodic_callbacks and dask_worker.periodic_callbacks[name].is_running()]
    return running, dask_worker.profile_recent["count"] + len(dask_worker.profile_history)


def test_the_render_bundle_pauses_the_dask_profiler_on_every_worker_until_it_is_removed():
    """Dask's profiler sampled the render 100 times a second and kept the call trees (a memo cost
    ~15 % more CPU on a worker than in the local pool): the bundle's plugin pauses it on each
    worker, a worker that joins later included, and unregistering the plugin restarts it."""
    import time

    from distributed import Client, LocalCluster

    from modelmemo import resources
    from modelmemo.batch.scaleout import install_bundle, plugin_name
    from modelmemo.batch.work_unit import RenderBundle

    def busy(seconds):  # a task the profiler would sample ~100 times a second
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass

    bundle = RenderBundle.from_paths([resources.catalog_file()], resources.templates_dir())
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster, set_as_default=False) as client:
        client.submit(busy, 0.3, pure=False).result()
        assert all(running and kept for running, kept in client.run(_profiler_state).values())  # on by default

        install_bundle(client, bundle)
        cluster.scale(2)
        client.wait_for_workers(2, timeout=60)
        client.run(lambda: None)  # the late worker has set up its plugins and started its callbacks
        client.gather(client.map(busy, [0.3, 0.3], pure=False))
        time.sleep(1.2)  # and a profile cycle
        states = client.run(_profiler_state)
        assert len(states) == 2 and all(state == ([], 0) for state in states.values()), states

        client.unregister_worker_plugin(plugin_name(bundle.digest))
        states = client.run(_profiler_state)
        assert all(running == ["profile", "profile-cycle"] for running, _ in states.values()), states
