"""Every tunable of modelmemo in one table, with the environment variable that overrides it.

Input and output folders default to `inputs/` and `output/` in the current folder (a checkout, or
a folder laid out by `modelmemo init`); the catalog, schemas and templates default to the ones
shipped with the package (modelmemo/resources.py), templates to `./templates` when the current
folder has its own copy (with a `brand.yaml`, as `modelmemo init` lays out) to rebrand.

Every `MODELMEMO_*` value is parsed and checked when settings are built (`Settings.from_env`), so
a bad value is reported in one line, naming the variable and what is allowed, before any input is
touched; `check_environment` also checks the email variables and catches misspelt names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping
from urllib.parse import urlsplit

from . import resources

PROJECT_ROOT = resources.CHECKOUT  # the checkout this code runs from (not meaningful in a wheel)

# Limits that protect an unattended batch from hostile or broken files.
MAX_INPUT_BYTES = 256 * 1024  # a real requirement file is about 1 KiB
MAX_NESTING_DEPTH = 32  # the schema needs 3 levels; deep nesting is an attack
INPUT_SUFFIXES = (".yaml", ".yml", ".json")

# Scoring: best open and best closed totals within this many points make a "Close call".
CLOSE_CALL_MARGIN = 3.0


class SettingsError(ValueError):
    """A setting has a value modelmemo cannot use; the message names the variable and what is allowed."""


@dataclass(frozen=True)
class Settings:
    """Where things live and how hard to work. Build with `Settings.from_env()`; tests pass explicit paths."""

    # Relative to the folder the command runs in (resolved when settings are built).
    input_dir: Path = Path("inputs")
    output_dir: Path = Path("output")
    templates_dir: Path = field(default_factory=lambda: default_templates_dir())
    schemas_dir: Path = field(default_factory=lambda: resources.shipped_dir("schemas"))
    catalog_files: tuple[Path, ...] = field(default_factory=lambda: (resources.catalog_file(),))
    workers: int = max(1, os.cpu_count() or 1)
    # Files modified more recently than this are treated as still being copied (next run takes them).
    settle_seconds: float = 5.0
    # Email: attempts per run for transient SMTP errors, and the first backoff (doubles each time).
    smtp_retries: int = 3
    smtp_backoff_seconds: float = 2.0
    # Run folders to keep after each run (older ones are deleted unless a current memo lives
    # there; see retention.py). 0 keeps every run folder.
    keep_runs: int = 0
    # Where readers can open the run folders on the web (e.g. https://memos.example.com/modelmemo/);
    # when set, the email turns the memo name into a link. None: no links.
    public_base_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """The defaults, overridden by MODELMEMO_* variables. Raises SettingsError for a bad value."""
        env = os.environ if env is None else env
        base = cls()

        def get(name: str, parse: Callable[[str, str], object], default: object):
            raw = env.get(name)
            if raw is None or not raw.strip():
                return default
            return parse(name, raw.strip())

        extra = tuple(Path(p) for p in env.get("MODELMEMO_CATALOG_EXTRA", "").split(os.pathsep) if p.strip())
        return replace(
            base,
            input_dir=get("MODELMEMO_INPUT_DIR", _path, base.input_dir).absolute(),
            output_dir=get("MODELMEMO_OUTPUT_DIR", _path, base.output_dir).absolute(),
            templates_dir=get("MODELMEMO_TEMPLATES_DIR", _path, base.templates_dir),
            catalog_files=base.catalog_files + extra,
            workers=get("MODELMEMO_WORKERS", _whole_number(minimum=1), base.workers),
            settle_seconds=get("MODELMEMO_SETTLE_SECONDS", _seconds(allow_zero=True), base.settle_seconds),
            smtp_retries=get("MODELMEMO_SMTP_RETRIES", _whole_number(minimum=1), base.smtp_retries),
            smtp_backoff_seconds=get("MODELMEMO_SMTP_BACKOFF_SECONDS", _seconds(allow_zero=True),
                                     base.smtp_backoff_seconds),
            keep_runs=get("MODELMEMO_KEEP_RUNS", _whole_number(minimum=0), base.keep_runs),
            public_base_url=get("MODELMEMO_PUBLIC_BASE_URL", _base_url, base.public_base_url),
        )


def default_templates_dir(cwd: Path | None = None) -> Path:
    """`./templates` when it is a rebrandable copy (has brand.yaml, as `modelmemo init` writes it),
    else the shipped templates. A `templates/` folder of some other tool has no brand.yaml."""
    local = (cwd or Path.cwd()) / "templates"
    return local if (local / "brand.yaml").is_file() else resources.templates_dir()


# --- parsers: each returns the value or raises SettingsError naming the variable ----------------


def _path(name: str, raw: str) -> Path:
    if "\x00" in raw:
        raise SettingsError(f"{name} must be a folder path, not {raw!r}")
    return Path(raw).expanduser()


def _base_url(name: str, raw: str) -> str:
    """An absolute http(s) URL, kept with one trailing slash so a memo's path can be appended."""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() or ord(c) < 32 for c in raw) \
            or parts.query or parts.fragment:
        raise SettingsError(f"{name} must be an http:// or https:// URL without query or fragment, "
                            f"such as https://memos.example.com/modelmemo/, not {raw!r}")
    return raw.rstrip("/") + "/"


def _whole_number(minimum: int) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise SettingsError(f"{name} must be a whole number of at least {minimum}, not {raw!r}")
        return value

    return parse


def _seconds(allow_zero: bool) -> Callable[[str, str], float]:
    def parse(name: str, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not (value >= 0 if allow_zero else value > 0) or value == float("inf"):
            word = "0 or more" if allow_zero else "more than 0"
            raise SettingsError(f"{name} must be a number of seconds, {word}, not {raw!r}")
        return value

    return parse


# Every variable modelmemo reads. A MODELMEMO_* name not listed here is a typo (MODELMEMO_WORKER)
# that would otherwise be ignored silently, so `check_environment` reports it.
KNOWN_VARIABLES = frozenset({
    "MODELMEMO_INPUT_DIR", "MODELMEMO_OUTPUT_DIR", "MODELMEMO_TEMPLATES_DIR", "MODELMEMO_CATALOG_EXTRA",
    "MODELMEMO_WORKERS", "MODELMEMO_SETTLE_SECONDS", "MODELMEMO_KEEP_RUNS",
    "MODELMEMO_SMTP_HOST", "MODELMEMO_SMTP_PORT", "MODELMEMO_SMTP_SECURITY", "MODELMEMO_SMTP_USERNAME",
    "MODELMEMO_SMTP_PASSWORD", "MODELMEMO_SMTP_PASSWORD_FILE", "MODELMEMO_SMTP_FROM", "MODELMEMO_SMTP_TIMEOUT",
    "MODELMEMO_SMTP_RETRIES", "MODELMEMO_SMTP_BACKOFF_SECONDS", "MODELMEMO_SMTP_ALLOW_PLAIN",
    "MODELMEMO_SMTP_BLOCK", "MODELMEMO_SMTP_FROM_NAME", "MODELMEMO_PUBLIC_BASE_URL",
    "MODELMEMO_HOME",  # prefect.yaml: where the checkout lives on a worker
    "MODELMEMO_FAILPOINT",  # tests: crash at a named point (failpoints.py)
    "MODELMEMO_WATCH_RETRY_SECONDS",  # watch.py: first delay before a failed watch run is retried
})


def check_environment(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment, with every MODELMEMO_* variable checked (email ones too).

    Raises SettingsError with one line naming the variable and what is allowed.
    """
    env = os.environ if env is None else env
    unknown = sorted(name for name in env if name.startswith("MODELMEMO_") and name not in KNOWN_VARIABLES)
    if unknown:
        raise SettingsError(f"unknown setting {unknown[0]} (see README \"Settings\" for the variables modelmemo reads)")
    settings = Settings.from_env(env)
    from .watch import retry_seconds_from_env

    try:
        retry_seconds_from_env(env)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    if not (env.get("MODELMEMO_SMTP_BLOCK") or "").strip():  # a Prefect block is loaded from the API later
        from .mailers import SmtpSettings

        try:
            SmtpSettings.from_env(env)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
    return settings
