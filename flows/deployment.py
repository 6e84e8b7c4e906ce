"""The nightly deployment of the batch flow: one definition used by `modelmemo serve` and tests.

`concurrency_limit=1` makes Prefect itself refuse to start a second run of the deployment while
one is running (on top of the output folder's lock file).
"""

from __future__ import annotations

from prefect.schedules import Cron

from modelmemo.flows.batch import memo_batch

DEPLOYMENT_NAME = "nightly"
DEFAULT_CRON = "0 2 * * *"
DEFAULT_TIMEZONE = "UTC"


def nightly_deployment(cron: str = DEFAULT_CRON, timezone: str = DEFAULT_TIMEZONE, input_dir: str | None = None,
                       output_dir: str | None = None, name: str = DEPLOYMENT_NAME):
    """A RunnerDeployment of `memo_batch` on a cron schedule (not yet registered)."""
    parameters = {key: value for key, value in (("input_dir", input_dir), ("output_dir", output_dir)) if value}
    parameters["sync_catalog"] = True  # nightly: the catalog is synced first (MODELMEMO_NIGHTLY_SYNC=false: not)
    return memo_batch.to_deployment(
        name=name,
        schedules=[Cron(cron, timezone=timezone)],
        parameters=parameters,
        concurrency_limit=1,
        description=f"modelmemo batch on cron '{cron}' ({timezone}): drop folder -> memos -> email.",
        tags=["modelmemo"],
    )
