"""The `modelmemo` command.

Exit codes (also in README):
  0  every input file produced a memo
  1  the batch ran, but some files were rejected or some memos failed (see the index)
  2  the batch could not run or finish: bad catalog, brand or templates, missing folder, output
     not writable (disk full, read-only); memos already written are complete
  3  another run is working on the same output folder (nothing was done)
  4  nothing to do: no requirement file in the drop folder (empty, or only other files, folders,
     files still being copied; the line names them); Prefect is not started, no run folder made
  130  stopped by SIGINT (Ctrl-C)    } `run` and `watch` stop at once: the render workers and Prefect's
  143  stopped by SIGTERM (`kill`)   } temporary server end too, memos already written are complete,
  129  stopped by SIGHUP             } the ones being written are removed; one line on stderr says so
                                       (SIGHUP only if it was not ignored at start, as nohup does)
`serve` and `watch` run until stopped (130, 143, 129; `serve` then pauses its schedule). `watch`
exits 2 at once if it cannot start (missing drop folder; output folder == drop folder, or a drop
folder inside a run folder or state/ of the output); `serve` if no Prefect server answers.
With --json, stdout carries one JSON document on every exit (console.py). Each command's --help
lists the codes it can return (exits.py).

Modules: main (parser, `main`), run (`run`, `watch`), inspect_commands (`validate`, `catalog`),
operations (`init`, `serve`, `send`, `prune`), pilot_command (`pilot`), console (what a run prints), prefect_setup (which
Prefect API), exits (exit codes).
"""

from modelmemo.cli.main import main

__all__ = ["main"]
