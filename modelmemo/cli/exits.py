"""The command's exit codes, in one place (README and `--help` list them)."""

from __future__ import annotations




EXIT_OK, EXIT_PARTIAL, EXIT_CANNOT_RUN, EXIT_LOCKED, EXIT_NOTHING_TO_DO = 0, 1, 2, 3, 4


EXIT_CODES_HELP = """exit codes:
  0    every input file produced a memo
  1    done, but some files were rejected, memos failed or emails were not delivered
       (validate: some file has a problem; catalog --check: some fact is too old)
  2    could not start or finish: bad setting, catalog or brand file, missing or overlapping
       folders, output folder full or read-only, Prefect API unreachable or lost
  3    another run holds the output folder's lock (nothing was done)
  4    nothing to do: the drop folder is empty
  130, 143, 129   stopped by SIGINT (Ctrl-C), SIGTERM or SIGHUP

Every error is one line on stderr. Settings: MODELMEMO_* environment variables (see README)."""
