"""The command's exit codes, in one place (README and `--help` list them).

Each subcommand's `--help` lists only the codes that subcommand can return: a reader of
`init --help` must not be told that 0 means "every input file produced a memo"."""

from __future__ import annotations

EXIT_OK, EXIT_PARTIAL, EXIT_CANNOT_RUN, EXIT_LOCKED, EXIT_NOTHING_TO_DO = 0, 1, 2, 3, 4

_USAGE = "a usage error (unknown option, missing argument)"
_SIGNALS = ("130, 143, 129", "stopped by SIGINT (Ctrl-C), SIGTERM or SIGHUP")

# command -> (code, meaning) rows, in the order `--help` prints them
EXIT_CODES: dict[str, tuple[tuple[str, str], ...]] = {
    "modelmemo": (
        ("0", "done (run: every input file produced a memo)"),
        ("1", "done, but with problems: rejected files, failed memos, undelivered emails (run, send); "
              "a file with a problem (validate); a fact too old or a passed deprecation date (catalog --check, "
              "catalog sync); a candidate not measured (pilot)"),
        ("2", "could not start or finish: bad setting, catalog or brand file, missing or overlapping "
              "folders, output folder full or read-only, Prefect API unreachable or lost, a catalog listing "
              "that cannot be read (catalog sync); " + _USAGE),
        ("3", "another run holds the output folder's lock (nothing was done)"),
        ("4", "run: nothing to do (no requirement file in the drop folder)"),
        _SIGNALS,
    ),
    "run": (
        ("0", "every input file produced a memo"),
        ("1", "done, but some files were rejected, memos failed or emails were not delivered"),
        ("2", "could not start or finish: bad setting, catalog or brand file, missing or overlapping "
              "folders, output folder full or read-only, Prefect API unreachable or lost; " + _USAGE),
        ("3", "another run holds the output folder's lock (nothing was done)"),
        ("4", "nothing to do: no requirement file in the drop folder (no run folder is made)"),
        _SIGNALS,
    ),
    "watch": (
        ("2", "could not start: bad setting, missing or overlapping folders; " + _USAGE),
        ("130, 143, 129", "stopped by SIGINT (Ctrl-C), SIGTERM or SIGHUP (the normal way to end it)"),
    ),
    "serve": (
        ("2", "could not start: no Prefect server configured or reachable, bad time zone or setting; " + _USAGE),
        ("130, 143, 129", "stopped by SIGINT (Ctrl-C), SIGTERM or SIGHUP (the normal way to end it); "
                          "the deployment's schedule is paused"),
    ),
    "validate": (
        ("0", "every file is valid"),
        ("1", "some file has a problem (each one is listed)"),
        ("2", _USAGE),
    ),
    "catalog": (
        ("0", "done (with --check: every fact was checked within --max-age-days; sync: synced)"),
        ("1", "--check: some fact is older than --max-age-days, or a deprecation date has passed; "
              "sync: synced, but a deprecation date has passed"),
        ("2", "the catalog or an extension cannot be read, an unknown MODEL_ID, a bad setting; sync: a listing "
              "cannot be read or parsed (the last good sync is kept); " + _USAGE),
    ),
    "pilot": (
        ("0", "every candidate of every file with a pilot section was measured (--dry-run: planned within --max-usd)"),
        ("1", "a file or its examples were rejected, a project could not be piloted (no memo yet, an unknown "
              "candidate, no key), a candidate failed or was stopped by --max-usd, or the estimate was over "
              "--max-usd (nothing was called)"),
        ("2", "could not start: bad setting, catalog or drop folder; " + _USAGE),
        _SIGNALS,
    ),
    "init": (
        ("0", "the folder is laid out (what existed is kept)"),
        ("2", "cannot lay out the folder (a file in the way, no permission), a bad setting; " + _USAGE),
    ),
    "send": (
        ("0", "every email was delivered (or written to the outbox)"),
        ("1", "some email was not delivered (each one is listed)"),
        ("2", "no such run or memo, a send ledger that cannot be read or written (output/state), a bad setting; "
              + _USAGE),
    ),
    "prune": (
        ("0", "done (or, with --dry-run, listed)"),
        ("2", "bad --keep, unreadable state, a bad setting; " + _USAGE),
        ("3", "a run holds the output folder's lock (nothing was deleted)"),
    ),
}


def exit_codes_help(command: str) -> str:
    """The `exit codes:` block of one command's --help (modelmemo --help: all of them)."""
    import textwrap

    lines = ["exit codes:"]
    for code, meaning in EXIT_CODES[command]:
        if len(code) > 4:  # "130, 143, 129": the meaning goes on its own line(s)
            lines.append(f"  {code}")
            lines += textwrap.wrap(meaning, 98, initial_indent=" " * 7, subsequent_indent=" " * 7)
        else:
            lines += textwrap.wrap(meaning, 98, initial_indent=f"  {code:<5}", subsequent_indent=" " * 7)
    lines.append("")
    lines.append("Every error is one line on stderr. Settings: MODELMEMO_* environment variables (see README).")
    return "\n".join(lines)


EXIT_CODES_HELP = exit_codes_help("modelmemo")
