"""The drop folder is the senders', the output folder's run folders and state/ are modelmemo's:
they must not overlap the wrong way round.

Every run writes a new run folder, LATEST and state/ into the output folder, and cleans up and
prunes run folders (`cleanup.clean_up_after_crash`, `retention.prune_runs`). So:

* output folder == drop folder: each run writes its folder among the inputs, and in watch mode
  every run triggers the next one, for ever;
* drop folder inside a run folder (or inside state/, or a run folder being pruned): the clean-up
  and pruning would delete files that senders dropped there, and in watch mode each run's writes
  to state/ would trigger the next run.

Both are refused before anything is written (`check_folders`). Other arrangements are fine: a
drop folder elsewhere inside the output folder (output/inbox/) is left alone by every run, and
an output folder inside the drop folder is reported as "not processed" by each run, while the
watcher ignores it (`is_output_entry`).
"""

from __future__ import annotations

import os
from pathlib import Path

from modelmemo.batch.retention import RUN_ID_PATTERN, TRASH_PATTERN
from modelmemo.batch.layout import LATEST_NAME, STATE_DIRNAME



def real_path(path: Path | str) -> Path:
    """Absolute, symlinks resolved as far as the path exists (the output folder may not exist yet)."""
    return Path(os.path.abspath(path)).resolve()


def is_output_entry(name: str) -> bool:
    """A name modelmemo writes directly in an output folder: a run folder, state/, LATEST, a run
    folder being pruned."""
    return bool(RUN_ID_PATTERN.match(name)) or name in (STATE_DIRNAME, LATEST_NAME) or bool(TRASH_PATTERN.match(name))


def check_folders(input_dir: Path | str, output_dir: Path | str) -> str | None:
    """None when runs may read `input_dir` and write `output_dir`, else a one-line error."""
    drop, output = real_path(input_dir), real_path(output_dir)
    if drop == output:
        return (f"the output folder {output_dir} is the drop folder: runs would write their folders among "
                "the inputs; use another output folder (--output)")
    if output in drop.parents:
        top = drop.relative_to(output).parts[0]
        if is_output_entry(top):
            where = "is" if drop == output / top else "is inside"
            return (f"the drop folder {input_dir} {where} {Path(output_dir) / top}, which modelmemo writes, "
                    "cleans up and prunes; use a drop folder outside it")
    return None
