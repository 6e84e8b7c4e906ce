"""One run over the drop folder: the pipeline stages, the work unit every runner renders through,
Dask scale-out, state and locking, the output folder's layout, retention, ownership, atomic
writes and fault-injection points."""
