"""The command's process: stopping on signals with no process left behind, and watching the
Prefect API a run reports to."""
