"""Rendering on a Dask cluster without a shared disk (the coordinator side and the worker side).

What travels: once per worker, the `RenderBundle` (catalog files and templates, about 0.3 MB,
named by its content hash), installed by a worker plugin that also preloads the renderer; per
memo, a `WorkUnit` out (the input's bytes, the previous memo's JSON when there is one) and a
`UnitResult` back (memo JSON, HTML and PDF, about 0.15-0.3 MB). Workers never see the drop folder or
the output folder, and they never import Prefect: the flow process creates the Prefect task runs
(one per chunk, see flows/batch.py) and writes every file, so all task runs report to the flow's
own API and no worker can start a temporary Prefect server of its own.

Memos are sent in chunks (one Dask task renders several memos) so the per-task cost of Dask and
Prefect is paid per chunk, not per memo. Nothing here imports Prefect.
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
import weakref
from pathlib import Path
from typing import Any, Iterator, Sequence

from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import WorkerPlugin

from modelmemo.memo.render import settle_render_process
from modelmemo.process.shutdown import critical, ctrl_c_blocked, start_resource_tracker_shielded
from modelmemo.batch.work_unit import (BUNDLE_PREFIX, RENDERER, BundlePaths, ClusterError, RenderBundle, UnitResult, WorkUnit,
                        render_unit)

# At least this many chunks per worker thread, so that the last chunks finish close together
# (the run waits for the slowest worker), and at most this many memos per chunk (about 15-20 s of
# rendering here), so the progress artifact moves and a lost worker costs little.
CHUNKS_PER_THREAD = 4
MAX_MEMOS_PER_CHUNK = 10
# Chunks in flight per worker thread: one rendering, one queued, so a worker never waits for the
# coordinator between chunks, and the units not yet sent do not sit in the scheduler's memory.
CHUNKS_IN_FLIGHT_PER_THREAD = 2
CONNECT_SECONDS = 30


# --- worker side ---------------------------------------------------------------------------------

# Bundles this worker process has materialised, by digest (set by the plugin, read by render_chunk).
_materialised: dict[str, BundlePaths] = {}


class RenderBundlePlugin(WorkerPlugin):
    """Installs a run's bundle on every worker, present and future (Dask applies registered
    plugins to workers that join later): checks the worker's modelmemo version, writes the bundle
    into the worker's own local directory once, preloads WeasyPrint, the catalog and the
    templates, so a chunk starts rendering at once, and pauses Dask's statistical profiler while
    the bundle is installed (see pause_profiler)."""

    def __init__(self, bundle: RenderBundle) -> None:
        self.bundle = bundle
        self.name = plugin_name(bundle.digest)  # the same bundle registered twice is installed once

    def setup(self, worker) -> None:
        if self.bundle.renderer != RENDERER:
            raise ClusterError(f"Dask worker {worker.address} runs {RENDERER}, the flow {self.bundle.renderer}: "
                               "install the same modelmemo version on every worker")
        paths = self.bundle.materialise(Path(worker.local_directory))
        _preload(paths)
        settle_render_process()  # as the local pool's workers do: both runners render alike
        _materialised[self.bundle.digest] = paths
        pause_profiler(worker, self.name)

    def teardown(self, worker) -> None:
        resume_profiler(worker, self.name)
        paths = _materialised.pop(self.bundle.digest, None)
        if paths:
            shutil.rmtree(Path(paths.templates_dir).parent, ignore_errors=True)


# Dask's statistical profiler (distributed.worker.profile, on by default) samples the stack of
# every running task 100 times a second on the worker's event loop and keeps one call tree per
# second for the last 1,000 seconds (distributed.admin.low-level-log-length). A memo's render
# stack is deep and varied (WeasyPrint's layout), so on a render worker the sampling took about
# 0.03 s of CPU per memo, and the kept trees grew the worker's heap by some 1,600 objects per
# memo (117,000 to 359,000 objects over 150 memos), which made every full garbage collection
# in the render slower (0.066 -> 0.105 s of GC per memo): a memo cost 0.52 s of worker CPU
# instead of 0.45 s. The plugin pauses it on the workers it is installed on and drops what it
# kept; unregistering the plugin (or closing the worker) ends the pause.
PROFILER_CALLBACKS = ("profile", "profile-cycle")  # Worker.periodic_callbacks: sampling, rotation
_paused_profilers: "weakref.WeakKeyDictionary[Any, tuple[dict[str, Any], set[str]]]" = weakref.WeakKeyDictionary()


def pause_profiler(worker, holder: str) -> None:
    """Stop the worker's statistical profiler until every `holder` has resumed it.

    The callbacks are taken out of `worker.periodic_callbacks`, not only stopped: a worker that
    joins later runs its plugins' setup before it starts its periodic callbacks."""
    callbacks = getattr(worker, "periodic_callbacks", None)
    if not isinstance(callbacks, dict):
        return  # not a distributed Worker
    paused = _paused_profilers.get(worker)
    if paused is None:
        stopped = {}
        for name in PROFILER_CALLBACKS:
            callback = callbacks.pop(name, None)
            if callback is not None:
                callback.stop()
                stopped[name] = callback
        _drop_profiles(worker)
        paused = _paused_profilers[worker] = (stopped, set())
    paused[1].add(holder)


def resume_profiler(worker, holder: str) -> None:
    paused = _paused_profilers.get(worker)
    if paused is None:
        return
    stopped, holders = paused
    holders.discard(holder)
    if holders:
        return
    del _paused_profilers[worker]
    from distributed.core import Status

    for name, callback in stopped.items():
        worker.periodic_callbacks.setdefault(name, callback)
        if worker.status in (Status.running, Status.paused):  # a closing worker stops them all next
            callback.start()


def _drop_profiles(worker) -> None:
    """Free the call trees the profiler has kept (from earlier work on a long-lived worker)."""
    from distributed import profile

    for name in ("profile_history", "profile_keys_history", "profile_keys"):
        kept = getattr(worker, name, None)
        if hasattr(kept, "clear"):
            kept.clear()
    if hasattr(worker, "profile_recent"):
        worker.profile_recent = profile.create()


def _preload(paths: BundlePaths) -> None:
    import weasyprint  # noqa: F401  (the import alone is about a second per process)

    from modelmemo.memo.brand import load_brand
    from modelmemo.memo.render import jinja_environment
    from modelmemo.batch.work_unit import cached_catalog

    templates = Path(paths.templates_dir)
    cached_catalog(paths.catalog_files)
    jinja_environment(templates)
    load_brand(templates)  # fails here, once, rather than in every memo


def plugin_name(digest: str) -> str:
    return BUNDLE_PREFIX + digest[:24]


def render_chunk(units: Sequence[WorkUnit], digest: str) -> list[UnitResult]:
    """The Dask task: render a chunk of units with the bundle this worker materialised."""
    paths = _materialised.get(digest)
    if paths is None:
        raise ClusterError("this Dask worker has no render bundle " + plugin_name(digest)
                           + " (the worker plugin did not run here)")
    return [render_unit(unit, paths) for unit in units]


# --- coordinator side ----------------------------------------------------------------------------


@contextlib.contextmanager
def connect(address: str | None, workers: int) -> Iterator[Client]:
    """A client of the cluster at `address`, or of a local cluster of `workers` processes with one
    thread each (WeasyPrint is CPU-bound and holds the GIL) that ends with the block.

    Stopped (Ctrl-C, SIGTERM: anything that is not an Exception), the command prints one line
    (shutdown.py), so the cluster goes quietly: a local cluster's workers never see Ctrl-C (it
    reaches the whole process group; this process stops them), and while the client and the
    cluster close, what distributed logs about connections closing under it is not shown."""
    try:
        if address:
            client = Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
            cluster = None
        else:
            start_resource_tracker_shielded()  # the nannies' queues: no "leaked semaphore" warning after a stop
            with ctrl_c_blocked():  # inherited by the cluster's event-loop thread, so by every worker it starts
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    stopping = False
    try:
        yield client
    except BaseException as exc:
        stopping = not isinstance(exc, Exception)
        raise
    finally:
        # Stopping, the hard-stop deadline (shutdown.py) waits for this before it ends the process.
        with critical() if stopping else contextlib.nullcontext(), \
                silenced(CLUSTER_LOGGERS) if stopping else contextlib.nullcontext():
            client.close()
            if cluster is not None:
                cluster.close()


# What a cluster closing under a stop logs in this process: distributed (scheduler, nannies,
# client), tornado (their connections) and asyncio (a future whose connection went away).
CLUSTER_LOGGERS = ("distributed", "tornado", "asyncio")


@contextlib.contextmanager
def silenced(roots: Sequence[str]) -> Iterator[None]:
    """The loggers `roots`, and those below them with a level of their own (distributed sets
    `distributed.client` to WARNING), log nothing meanwhile; their levels are restored after."""
    names = [name for name, logger in logging.root.manager.loggerDict.items()
             if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET
             and name.startswith(tuple(f"{root}." for root in roots))]
    loggers = [logging.getLogger(name) for name in (*roots, *names)]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def worker_threads(client: Client, wait_seconds: float = CONNECT_SECONDS) -> int:
    """Threads across the cluster's workers (waits for a first worker: a cluster may be scaling up)."""
    try:
        client.wait_for_workers(1, timeout=wait_seconds)
    except TimeoutError:
        raise ClusterError(f"the Dask cluster has no workers (waited {wait_seconds:g} s)") from None
    return max(1, sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()))


def install_bundle(client: Client, bundle: RenderBundle) -> None:
    """Register the bundle's plugin: every worker materialises it once; a worker with another
    modelmemo version fails here, before any memo is rendered, with one clear message."""
    try:
        client.register_plugin(RenderBundlePlugin(bundle))
    except ClusterError:
        raise
    except Exception as exc:
        raise ClusterError(f"could not install the render bundle on the Dask workers: {type(exc).__name__}: {exc}") \
            from None


def memos_per_chunk(memos: int, threads: int) -> int:
    return max(1, min(MAX_MEMOS_PER_CHUNK, math.ceil(memos / (threads * CHUNKS_PER_THREAD))))


def chunk(items: Sequence, threads: int) -> list[list]:
    """Guided chunks: each sized from what is left (memos_per_chunk of the remainder), so they shrink
    towards the end and the workers finish within about one memo of each other instead of one
    whole chunk (up to MAX_MEMOS_PER_CHUNK memos, ~4 s here) apart."""
    chunks, start = [], 0
    while start < len(items):
        size = memos_per_chunk(len(items) - start, threads)
        chunks.append(list(items[start:start + size]))
        start += size
    return chunks


def chunks_in_flight(threads: int) -> int:
    return max(1, threads * CHUNKS_IN_FLIGHT_PER_THREAD)

