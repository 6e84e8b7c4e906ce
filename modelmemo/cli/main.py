"""The argument parser and `main`: every error in one line, settings checked before any input is
touched, and a stop signal turned into its exit code (shutdown.py)."""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
from pathlib import Path
from typing import Sequence

from modelmemo.cli import console
from modelmemo.cli.exits import EXIT_CANNOT_RUN, EXIT_CODES_HELP, EXIT_PARTIAL, exit_codes_help
from modelmemo.cli.inspect_commands import cmd_catalog, cmd_validate
from modelmemo.cli.operations import cmd_init, cmd_prune, cmd_send, cmd_serve
from modelmemo.cli.pilot_command import cmd_pilot, non_negative_usd
from modelmemo.cli.run import cmd_run, cmd_watch
from modelmemo.settings import STALE_AFTER_DAYS


def version_text() -> str:
    from importlib import metadata

    def installed(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    from modelmemo import __version__

    mine = installed("modelmemo")
    return (f"modelmemo {mine if mine != 'not installed' else __version__} (Prefect {installed('prefect')}, "
            f"Python {sys.version.split()[0]})")


def _workers(text: str) -> int:
    """argparse type for --workers: a whole number within MODELMEMO_WORKERS' bounds (argparse turns
    the error into one line, exit 2)."""
    from modelmemo.setting_values import SettingsError, whole_number

    try:
        return whole_number("MODELMEMO_WORKERS", text.strip())
    except SettingsError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("MODELMEMO_WORKERS", "--workers", 1)) from None


class _OneLineErrors(argparse.ArgumentParser):
    """Usage errors in one line on stderr, exit code 2, like every other error of the command
    (argparse prints the whole usage block first)."""

    json_requested = False  # set by main from argv: a usage error is still one JSON document on stdout

    def error(self, message: str):  # type: ignore[override]
        line = f"{self.prog}: error: {message} (see `{self.prog} --help`)"
        if _OneLineErrors.json_requested:
            console.want_json(True)
            console.error(line, prefix="")
            console.emit_json_for_exit(EXIT_CANNOT_RUN)
            self.exit(EXIT_CANNOT_RUN)
        self.exit(EXIT_CANNOT_RUN, line + "\n")


def _input_dir_arguments(parser: argparse.ArgumentParser) -> None:
    """The drop folder: a positional INPUT_DIR or --input-dir, the same on run, watch and serve."""
    parser.add_argument("input_dir", nargs="?", metavar="INPUT_DIR",
                        help="drop folder (default: MODELMEMO_INPUT_DIR, else ./inputs)")
    parser.add_argument("--input-dir", dest="input_dir_option", metavar="DIR", help="the same as INPUT_DIR")


def _catalog_extra_argument(parser: argparse.ArgumentParser, old_spelling: str | None = None) -> None:
    names = ["--catalog-extra"] + ([old_spelling] if old_spelling else [])
    parser.add_argument(*names, dest="catalog_extra", action="append", metavar="FILE",
                        help="extension catalog merged over the shipped one (repeatable; also MODELMEMO_CATALOG_EXTRA)"
                             + (f"; {old_spelling} is the old spelling, accepted until 0.3" if old_spelling else ""))


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the exit-code table's layout; wraps option help at 100 columns."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=100)


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineErrors(prog="modelmemo", description="Decision memos for AI projects: open- or closed-source model, "
                            "which one, and why. Start with `modelmemo init`, then `modelmemo run`.",
                            epilog=EXIT_CODES_HELP, formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".",
                              epilog=exit_codes_help(name), formatter_class=_HelpFormatter)

    init = command("init", "lay out a working folder: inputs/ with an example, templates/ to rebrand")
    init.add_argument("directory", nargs="?", default=".", metavar="DIR", help="where (default: this folder)")
    init.add_argument("--examples", action="store_true",
                      help="copy every shipped example requirement file into inputs/, not just one")
    init.set_defaults(func=cmd_init)

    run = command("run", "process the drop folder: one memo per valid requirement file")
    _input_dir_arguments(run)
    run.add_argument("--output", metavar="DIR", help="output folder (default: MODELMEMO_OUTPUT_DIR, else ./output)")
    run.add_argument("--workers", type=_workers, default=None, help="render processes (default: CPU count)")
    _catalog_extra_argument(run)
    run.add_argument("--force", action="store_true",
                     help="re-render every memo, even unchanged ones (emails only decisions not yet sent)")
    run.add_argument("--resend", action="store_true", help="email every memo of the run again, even if already sent")
    run.add_argument("--no-email", action="store_true", help="render only; send nothing")
    run.add_argument("--runner", choices=("local", "dask"), default="local",
                     help="where memos render: local process pool (default) or a Dask cluster")
    run.add_argument("--dask-address", help="scheduler of an existing Dask cluster, e.g. tcp://10.0.0.5:8786 "
                                            "(default with --runner dask: a local cluster)")
    run.add_argument("--json", action="store_true",
                     help="print the run's result (summary.json plus run_dir, index, exit_code) as JSON on stdout")
    run.add_argument("--verbose", action="store_true", help="show Prefect's own logs")
    run.set_defaults(func=cmd_run)

    validate = command("validate", "check requirement files; exit 1 if any has a problem")
    validate.add_argument("files", nargs="*", metavar="FILE")
    validate.add_argument("--schema", action="store_true",
                          help="print the path of the requirement schema (JSON Schema 2020-12) and exit")
    validate.add_argument("--json", action="store_true", help="print every file's problems as JSON on stdout")
    validate.set_defaults(func=cmd_validate)

    serve = command("serve", "serve the nightly deployment on a running Prefect server (Ctrl-C stops it)")
    _input_dir_arguments(serve)
    serve.add_argument("--output", metavar="DIR", help="output folder (default: MODELMEMO_OUTPUT_DIR, else ./output)")
    serve.add_argument("--cron", default="0 2 * * *", help="cron schedule (default: 02:00 every night)")
    serve.add_argument("--timezone", default="UTC", help="IANA time zone of the cron schedule (default: UTC)")
    serve.add_argument("--name", default="nightly", help="deployment name (default: nightly; prefect.yaml's is "
                                                         "nightly-pool)")
    serve.add_argument("--verbose", action="store_true", help="show Prefect's own logs")
    serve.set_defaults(func=cmd_serve)

    watch = command("watch", "run a batch shortly after files arrive in the drop folder")
    _input_dir_arguments(watch)
    watch.add_argument("--output", metavar="DIR", help="output folder (default: MODELMEMO_OUTPUT_DIR, else ./output)")
    watch.add_argument("--debounce", type=float, default=5.0, help="seconds of quiet before a run (default: 5)")
    watch.add_argument("--no-email", action="store_true", help="render only; send nothing")
    watch.add_argument("--verbose", action="store_true", help="show Prefect's own logs")
    watch.set_defaults(func=cmd_watch)

    send = command("send", "email chosen memos again now")
    send.add_argument("projects", nargs="+", metavar="PROJECT_ID", help="project ids")
    send.add_argument("--run", help="run id (default: the latest run)")
    send.add_argument("--output", metavar="DIR", help="output folder (default: MODELMEMO_OUTPUT_DIR, else ./output)")
    send.add_argument("--only-unsent", action="store_true", help="skip recipients who already received this memo")
    send.set_defaults(func=cmd_send)

    prune = command("prune", "delete old run folders (never one that holds a current memo)")
    prune.add_argument("--keep", type=int, required=True, help="how many of the newest runs to keep")
    prune.add_argument("--output", metavar="DIR", help="output folder (default: MODELMEMO_OUTPUT_DIR, else ./output)")
    prune.add_argument("--dry-run", action="store_true", help="list what would be removed; remove nothing")
    prune.set_defaults(func=cmd_prune)

    pilot = command("pilot", "run the latest memo's pick and challengers on each requirement file's own examples "
                             "(its `pilot:` section) and store what they measure")
    pilot.add_argument("files", nargs="*", metavar="FILE",
                       help="requirement files (default: those in the drop folder with a pilot section)")
    pilot.add_argument("--output", metavar="DIR", help="output folder whose latest memos are piloted and where results "
                                                       "go, DIR/state/pilot/ (default: MODELMEMO_OUTPUT_DIR, else ./output)")
    pilot.add_argument("--max-usd", type=non_negative_usd, default=None, metavar="N",
                       help="stop before the spend would pass N US dollars (the estimate first, then the measured spend)")
    pilot.add_argument("--dry-run", action="store_true", help="print the calls and estimated cost; call nothing")
    pilot.add_argument("--candidates", metavar="ID,...",
                       help="pilot these instead of the memo's pick and challengers: MODEL[/DEPLOYMENT][=NAME], "
                            "comma-separated (e.g. claude,gpt-oss-120b/groq-api)")
    _catalog_extra_argument(pilot)
    pilot.add_argument("--json", action="store_true", help="print the plan and outcome as JSON on stdout")
    pilot.set_defaults(func=cmd_pilot)

    catalog = command("catalog", "show the model catalog (one line per model; MODEL_ID for its facts); "
                                 "`catalog sync` updates it from public listings")
    catalog.add_argument("models", nargs="*", metavar="MODEL_ID",
                         help="show these models' facts and deployments; `sync`: pull models.dev, OpenRouter and "
                              "genai-prices, print the diff and store the synced facts for later runs")
    _catalog_extra_argument(catalog, old_spelling="--extra")
    catalog.add_argument("--check", action="store_true",
                         help="print only the facts older than --max-age-days, by source; exit 1 if any")
    catalog.add_argument("--max-age-days", type=int, default=STALE_AFTER_DAYS,
                         help=f"age limit for --check (default: {STALE_AFTER_DAYS})")
    catalog.add_argument("--json", action="store_true", help="print the merged catalog as JSON on stdout")
    catalog.add_argument("--output", metavar="DIR",
                         help="output folder whose synced facts are shown, or (sync) stored in DIR/state/catalog/ "
                              "(default: MODELMEMO_OUTPUT_DIR, else ./output)")
    catalog.add_argument("--dry-run", action="store_true", help="sync: print the diff, store nothing")
    import textwrap

    catalog.epilog = "\n".join(textwrap.wrap(
        "catalog sync [--output DIR] [--dry-run] [--json] [--catalog-extra FILE]: pull models.dev "
        "(MODELMEMO_SOURCE_MODELS_DEV), OpenRouter (MODELMEMO_SOURCE_OPENROUTER) and genai-prices, print the "
        "diff (offer, fact, old -> new, listing id, date) and store the synced facts in "
        "DIR/state/catalog/synced.json, which later runs merge over the shipped catalog.", 98)) \
        + "\n\n" + (catalog.epilog or "")
    catalog.set_defaults(func=cmd_catalog)
    return parser


def _merge_input_dir(args: argparse.Namespace) -> str | None:
    """INPUT_DIR and --input-dir are one setting; both given and different is a usage error."""
    positional, option = getattr(args, "input_dir", None), getattr(args, "input_dir_option", None)
    if positional and option and Path(positional).absolute() != Path(option).absolute():
        return f"INPUT_DIR {positional!r} and --input-dir {option!r} differ; give one"
    args.input_dir = positional or option
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    _OneLineErrors.json_requested = "--json" in (sys.argv[1:] if argv is None else list(argv))
    args = parser.parse_args(argv)
    # With --json, stdout carries one JSON document whatever happens (console.py)
    console.want_json(bool(getattr(args, "json", False)))
    if "input_dir_option" in args:
        problem = _merge_input_dir(args)
        if problem:
            parser.error(problem)
    args.settings = None  # validate reads only the files it is given
    args.is_process = argv is None  # the command itself (exits after), not an in-process caller
    from modelmemo.cli.prefect_setup import PrefectScope

    args.prefect = PrefectScope()  # Prefect's settings, entered by the commands that need Prefect
    if args.command != "validate":  # every setting is checked before any input is touched
        from modelmemo.settings import SettingsError, check_environment

        try:
            args.settings = check_environment()  # built once here; every command takes them from args
        except SettingsError as exc:
            console.error(str(exc))
            console.emit_json_for_exit(EXIT_CANNOT_RUN)
            return EXIT_CANNOT_RUN
    # SIGINT, SIGTERM and SIGHUP stop any command with one line on stderr and exit code 130, 143 or
    # 129, leaving no process behind (see shutdown.py).
    from modelmemo.process import shutdown

    if args.func is not cmd_serve:  # `serve` is Prefect's runner, which handles signals itself
        shutdown.install()
    code: int | None = None
    try:
        code = args.func(args)
    except BrokenPipeError:  # `modelmemo catalog | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        code = EXIT_PARTIAL
    except KeyboardInterrupt as exc:  # our Stopped, or a library's stand-in for it (watchfiles)
        code = shutdown.announce(shutdown.received() or getattr(exc, "signum", None) or signal.SIGINT)
    except Exception:
        if shutdown.received() is None:
            raise
        code = shutdown.announce(shutdown.received())  # stopping made something else fail first
    else:
        if shutdown.received() is not None:  # a library turned the stop into a result
            code = shutdown.announce(shutdown.received())
    finally:
        if code is not None:  # a command that ended on an error or a signal without its own document
            stopped_by = shutdown.received() or (code - 128 if code in (129, 130, 143) else None)
            console.emit_json_for_exit(code, shutdown.message(stopped_by) if stopped_by else None)
        if argv is None:  # the command itself: exiting now; signals must not interrupt atexit handlers.
            shutdown.finish()
            args.prefect.keep_until_exit()  # Prefect's exit flush (atexit) runs under the command's settings
            # Everything alive now lives until the process ends: frozen, the interpreter's teardown
            # does not walk it (about 0.35 s of every command once Prefect is imported). atexit
            # handlers (Prefect's flush, the pool's) still run, and stdout/stderr are still flushed.
            gc.freeze()
        else:  # called in-process (tests): give the caller its signal handlers and Prefect settings back
            shutdown.uninstall()
            args.prefect.close()
    return code
