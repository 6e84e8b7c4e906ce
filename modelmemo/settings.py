"""Every tunable of modelmemo in one table, with the environment variable that overrides it.

Input and output folders default to `inputs/` and `output/` in the current folder (a checkout, or
a folder laid out by `modelmemo init`); the catalog, schemas and templates default to the ones
shipped with the package (modelmemo/resources.py), templates to `./templates` when the current
folder has its own copy (with a `brand.yaml`, as `modelmemo init` lays out) to rebrand.

Every `MODELMEMO_*` value is parsed and checked in one place, when settings are built
(`Settings.from_env`, the email ones included), so a bad value is reported in one line, naming the
variable and what is allowed, before any input is touched; `check_environment` also catches
misspelt names. The mailers and `watch` take their settings from the Settings object.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from modelmemo import resources
from modelmemo import setting_values as parse
from modelmemo.setting_values import (  # noqa: F401 (re-exported: the table's limits, its error)
    MAX_PASSWORD_FILE_BYTES, SMTP_RETRY_WAIT_MAX_SECONDS, SettingsError)

if TYPE_CHECKING:
    from modelmemo.delivery.mailers import SmtpSettings

PROJECT_ROOT = resources.CHECKOUT  # the checkout this code runs from (not meaningful in a wheel)

# Fixed tunables: limits that protect an unattended batch from hostile or broken files, and the
# methodology's margins. Not overridable (a memo's meaning must not depend on a machine's
# environment); listed with their reasons in CONSTANTS below and in README "Settings".
MAX_INPUT_BYTES = 256 * 1024  # a real requirement file is about 1 KiB
MAX_NESTING_DEPTH = 32  # the schema needs 3 levels; deep nesting is an attack
MAX_NUMBER_CHARACTERS = 40  # digits in one number of a requirement file; longer ones are refused unparsed
RENDER_SECONDS = 60  # wall seconds; a memo takes about 1-2 s of CPU, so 60 s means something is wrong
INPUT_SUFFIXES = (".yaml", ".yml", ".json")
MEMOS_PER_WORKER_PER_POOL = 50  # memos a render process renders before a fresh pool replaces it
WORKER_MEMORY_BYTES = 2 * 1024**3  # address space per render process (memo/limits.py)
MAX_ATTEMPTS_PER_RECIPIENT = 3  # sends per memo and recipient that may have left a copy, all runs together
STALE_AFTER_DAYS = 180  # a fact older than this is flagged in the memo (the catalog's own freshness rule)
DEFAULT_SOURCE_MODELS_DEV = "https://models.dev/api.json"
DEFAULT_SOURCE_OPENROUTER = "https://openrouter.ai/api/v1/models"
# A pick is "fragile" when halving or doubling one factor weight puts another model first: a
# disagreement about priorities that small is well within what a steering meeting might change.
FRAGILE_LESS = 0.5
FRAGILE_MORE = 2.0
WATCH_RETRY_MAX_SECONDS = 3600.0  # `watch` retries a failed run after 1 min, 2, 4, ... up to this
# `modelmemo pilot` (reasons in CONSTANTS): a team's examples are read unattended and cost money to answer.
PILOT_MAX_EXAMPLES_BYTES, PILOT_MAX_EXAMPLES, PILOT_MAX_OUTPUT_TOKENS = 8 * 1024**2, 2000, 1024
PILOT_RETRY_WAIT_MAX_SECONDS, PILOT_RECALL_K = 60.0, 10
PILOT_BOOTSTRAP_RESAMPLES, PILOT_BOOTSTRAP_SEED = 1000, 20261129  # seeded: the same answers, the same interval


@dataclass(frozen=True)
class Settings:
    """Where things live and how hard to work. Build with `Settings.from_env()`; tests pass explicit paths."""

    # Relative to the folder the command runs in (resolved when settings are built).
    input_dir: Path = Path("inputs")
    output_dir: Path = Path("output")
    templates_dir: Path = field(default_factory=lambda: default_templates_dir())
    schemas_dir: Path = field(default_factory=lambda: resources.shipped_dir("schemas"))
    catalog_files: tuple[Path, ...] = field(default_factory=lambda: (resources.catalog_file(),))
    workers: int = max(1, min(os.cpu_count() or 1, 1024))  # at most MODELMEMO_WORKERS' bound
    # Files modified more recently than this are treated as still being copied (next run takes them).
    settle_seconds: float = 5.0
    # Email: attempts per run for transient SMTP errors, and the first backoff (doubles each time).
    smtp_retries: int = 3
    smtp_backoff_seconds: float = 2.0
    # Email: after this many sends in a row that the server never answered (refused, timeout), the
    # run's remaining sends are not attempted (retried next run): a dead server costs seconds.
    smtp_breaker_failures: int = 3
    # Run folders to keep after each run (older ones are deleted unless a current memo lives
    # there; see retention.py). 0 keeps every run folder.
    keep_runs: int = 0
    # Where readers can open the run folders on the web (e.g. https://memos.example.com/modelmemo/);
    # when set, the email turns the memo name into a link. None: no links.
    public_base_url: str | None = None
    # `watch`: the first delay before it retries a run that could not process the folder (doubling).
    watch_retry_seconds: float = 60.0
    # Email: the SMTP server (host None: .eml files in the run's outbox) and the sender, from the
    # MODELMEMO_SMTP_* variables; or a prefect-email block's name, loaded from Prefect when sending.
    smtp: "SmtpSettings" = field(default_factory=lambda: _smtp_settings())
    smtp_block: str | None = None
    # `catalog sync`: where the public listings are read (an http(s) URL or a local file: an
    # air-gapped site's mirror), and whether the nightly flow syncs before it renders.
    source_models_dev: str = DEFAULT_SOURCE_MODELS_DEV
    source_openrouter: str = DEFAULT_SOURCE_OPENROUTER
    nightly_sync: bool = True
    # `modelmemo pilot` (README "Pilot"); the gateway's key is kept out of repr, so it is never printed.
    pilot_gateway: str | None = None
    pilot_gateway_key: str | None = field(default=None, repr=False)
    pilot_self_hosted_url: str | None = None
    pilot_concurrency: int = 4
    pilot_timeout_seconds: float = 120.0
    pilot_retries: int = 4
    pilot_backoff_seconds: float = 1.0

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

        def text(name: str) -> str | None:
            return get(name, lambda _name, raw: raw, None)

        extra = tuple(Path(p) for p in env.get("MODELMEMO_CATALOG_EXTRA", "").split(os.pathsep) if p.strip())
        settings = replace(
            base,
            input_dir=get("MODELMEMO_INPUT_DIR", parse.folder_path, base.input_dir).absolute(),
            output_dir=get("MODELMEMO_OUTPUT_DIR", parse.folder_path, base.output_dir).absolute(),
            templates_dir=get("MODELMEMO_TEMPLATES_DIR", parse.folder_path, base.templates_dir),
            catalog_files=base.catalog_files + extra,
            workers=get("MODELMEMO_WORKERS", parse.whole_number, base.workers),
            settle_seconds=get("MODELMEMO_SETTLE_SECONDS", parse.seconds, base.settle_seconds),
            smtp_retries=get("MODELMEMO_SMTP_RETRIES", parse.whole_number, base.smtp_retries),
            smtp_backoff_seconds=get("MODELMEMO_SMTP_BACKOFF_SECONDS", parse.seconds, base.smtp_backoff_seconds),
            smtp_breaker_failures=get("MODELMEMO_SMTP_BREAKER_FAILURES", parse.whole_number, base.smtp_breaker_failures),
            keep_runs=get("MODELMEMO_KEEP_RUNS", parse.whole_number, base.keep_runs),
            public_base_url=get("MODELMEMO_PUBLIC_BASE_URL", parse.base_url, base.public_base_url),
            watch_retry_seconds=get("MODELMEMO_WATCH_RETRY_SECONDS", parse.seconds, base.watch_retry_seconds),
            smtp_block=text("MODELMEMO_SMTP_BLOCK"),
            source_models_dev=get("MODELMEMO_SOURCE_MODELS_DEV", parse.source_location, base.source_models_dev),
            source_openrouter=get("MODELMEMO_SOURCE_OPENROUTER", parse.source_location, base.source_openrouter),
            nightly_sync=get("MODELMEMO_NIGHTLY_SYNC", parse.true_or_false, base.nightly_sync),
            pilot_gateway=get("MODELMEMO_PILOT_GATEWAY", parse.api_url, None),
            pilot_gateway_key=parse.secret(env, "MODELMEMO_PILOT_GATEWAY_KEY", text("MODELMEMO_PILOT_GATEWAY_KEY_FILE")),
            pilot_self_hosted_url=get("MODELMEMO_PILOT_SELF_HOSTED_URL", parse.api_url, None),
            pilot_concurrency=get("MODELMEMO_PILOT_CONCURRENCY", parse.whole_number, base.pilot_concurrency),
            pilot_timeout_seconds=get("MODELMEMO_PILOT_TIMEOUT_SECONDS", parse.seconds, base.pilot_timeout_seconds),
            pilot_retries=get("MODELMEMO_PILOT_RETRIES", parse.whole_number, base.pilot_retries),
            pilot_backoff_seconds=get("MODELMEMO_PILOT_BACKOFF_SECONDS", parse.seconds, base.pilot_backoff_seconds),
        )
        parse.check_retry_waits(settings.smtp_retries, settings.smtp_backoff_seconds)
        # Email. A MODELMEMO_SMTP_BLOCK names a prefect-email block (loaded from Prefect when
        # sending); the sender still comes from MODELMEMO_SMTP_FROM and _FROM_NAME.
        password = env.get("MODELMEMO_SMTP_PASSWORD") or None  # as it is: spaces can be part of a password
        password_file = text("MODELMEMO_SMTP_PASSWORD_FILE")
        if password and password_file:
            raise SettingsError("set MODELMEMO_SMTP_PASSWORD or MODELMEMO_SMTP_PASSWORD_FILE, not both")
        if password_file:
            password = parse.password_file("MODELMEMO_SMTP_PASSWORD_FILE", password_file)
        port = get("MODELMEMO_SMTP_PORT", parse.whole_number, None)
        timeout = get("MODELMEMO_SMTP_TIMEOUT", parse.seconds, 30.0)
        connect_timeout = get("MODELMEMO_SMTP_CONNECT_TIMEOUT", parse.seconds, 10.0)
        # A line break in the sender would end the From header early (and let the value write
        # headers of its own): refused here, named, rather than mended silently.
        address = get("MODELMEMO_SMTP_FROM", parse.header_text, None)
        name = get("MODELMEMO_SMTP_FROM_NAME", parse.header_text, None)
        return replace(settings, smtp=_smtp_settings(
            host=text("MODELMEMO_SMTP_HOST"),
            port=port,
            security=get("MODELMEMO_SMTP_SECURITY", parse.lowercase, "starttls"),
            username=text("MODELMEMO_SMTP_USERNAME"),
            password=password,
            sender=parse.sender(address, name, settings.templates_dir),
            allow_plain=get("MODELMEMO_SMTP_ALLOW_PLAIN", parse.true_or_false, False),
            timeout=timeout,
            connect_timeout=connect_timeout,
        ))


def default_templates_dir(cwd: Path | None = None) -> Path:
    """`./templates` when it is a rebrandable copy (has brand.yaml, as `modelmemo init` writes it),
    else the shipped templates. A `templates/` folder of some other tool has no brand.yaml."""
    local = (cwd or Path.cwd()) / "templates"
    return local if (local / "brand.yaml").is_file() else resources.templates_dir()


def _smtp_settings(**values: object) -> "SmtpSettings":
    """The mailer's settings; its own checks (a known security mode, no plain-text SMTP to a remote
    host without MODELMEMO_SMTP_ALLOW_PLAIN) raise SettingsError here, before anything is sent."""
    from modelmemo.delivery.mailers import SmtpSettings

    try:
        return SmtpSettings(**values)  # type: ignore[arg-type]
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


@dataclass(frozen=True)
class Range:
    """The values a numeric setting accepts. Far beyond what a real deployment sets, so a typo
    (`1e9` seconds) is refused in one line instead of holding a command for years."""

    low: float
    high: float
    above_low: bool = False  # the low end itself is refused (a timeout of 0 s)
    unit: str = ""  # as README shows it after the numbers ("s")

    def admits(self, value: float) -> bool:
        return (value > self.low if self.above_low else value >= self.low) and value <= self.high

    def phrase(self, readme: bool = False) -> str:
        """'from 0 to 60' in an error, '0 to 60 s' in README; 'above 0 and at most 600', 'above 0, at most 600 s'."""
        low, high, unit = f"{self.low:g}", f"{self.high:g}", f" {self.unit}" if readme and self.unit else ""
        if self.above_low:
            return f"above {low}{', at most' if readme else ' and at most'} {high}{unit}"
        return f"{'' if readme else 'from '}{low} to {high}{unit}"


@dataclass(frozen=True)
class Variable:
    """One environment variable modelmemo reads: the one table README's setting tables are rendered
    from (tests/test_settings.py fails when README and this table differ). A numeric one has its
    `bounds`, which its parser enforces and README shows."""

    name: str
    default: str  # as README shows it
    help: str
    group: str = "settings"  # "settings" | "email" | "pilot" | "internal" (not for users; not in README)
    bounds: Range | None = None


VARIABLES: tuple[Variable, ...] = (
    Variable("MODELMEMO_INPUT_DIR", "`./inputs`", "the drop folder (`run INPUT_DIR` overrides it)"),
    Variable("MODELMEMO_OUTPUT_DIR", "`./output`", "where runs, state and the outbox go (`--output` overrides it)"),
    Variable("MODELMEMO_TEMPLATES_DIR", "`./templates` if it has a `brand.yaml`, else the shipped ones",
             "memo templates, stylesheet and `brand.yaml`"),
    Variable("MODELMEMO_CATALOG_EXTRA", "none",
             "extension catalogs merged over `catalog/models.yaml` (`:`-separated; `--catalog-extra` adds to it)"),
    Variable("MODELMEMO_WORKERS", "CPU count", "render processes (`--workers` overrides it)", bounds=Range(1, 1024)),
    Variable("MODELMEMO_SETTLE_SECONDS", "5", "files modified more recently are left for a later run",
             bounds=Range(0, 3600, unit="s")),
    Variable("MODELMEMO_KEEP_RUNS", "0 (keep all)", "run folders kept after each run (see \"Old runs\")",
             bounds=Range(0, 100_000)),
    Variable("MODELMEMO_WATCH_RETRY_SECONDS", "60",
             "first delay before `watch` retries a run that could not process the folder",
             bounds=Range(0, WATCH_RETRY_MAX_SECONDS, above_low=True, unit="s")),
    Variable("MODELMEMO_PUBLIC_BASE_URL", "none",
             "an `http(s)://` URL where the output folder is published (e.g. `https://memos.example.com/modelmemo/`); "
             "when set, emails and the Prefect index artifact link to `<url><run-id>/...`"),
    Variable("MODELMEMO_SOURCE_MODELS_DEV", "`https://models.dev/api.json`",
             "where `catalog sync` reads models.dev's listing: an `http(s)://` URL or a local file (a mirror)"),
    Variable("MODELMEMO_SOURCE_OPENROUTER", "`https://openrouter.ai/api/v1/models`",
             "where `catalog sync` reads OpenRouter's models listing: an `http(s)://` URL or a local file"),
    Variable("MODELMEMO_NIGHTLY_SYNC", "`true`",
             "`false`: the scheduled (nightly) flow does not run `catalog sync` before it renders"),
    Variable("MODELMEMO_SMTP_HOST", "none (outbox)", "SMTP server; setting it switches from the outbox to SMTP", "email"),
    Variable("MODELMEMO_SMTP_PORT", "587 (starttls), 465 (ssl), 25 (none)", "SMTP port", "email",
             bounds=Range(1, 65535)),
    Variable("MODELMEMO_SMTP_SECURITY", "`starttls`",
             "`starttls`, `ssl`, or `none` (only to localhost unless `MODELMEMO_SMTP_ALLOW_PLAIN=true`)", "email"),
    Variable("MODELMEMO_SMTP_ALLOW_PLAIN", "`false`", "`true` allows `none` security to a host other than localhost",
             "email"),
    Variable("MODELMEMO_SMTP_USERNAME", "none", "login name", "email"),
    Variable("MODELMEMO_SMTP_PASSWORD", "none", "login password; never written to files, logs or artifacts", "email"),
    Variable("MODELMEMO_SMTP_PASSWORD_FILE", "none",
             "a file holding the password (instead of `MODELMEMO_SMTP_PASSWORD`): a regular file of at most 4 KiB",
             "email"),
    Variable("MODELMEMO_SMTP_FROM", "`modelmemo@localhost`", "sender address; its domain is the Message-ID's", "email"),
    Variable("MODELMEMO_SMTP_FROM_NAME", "\"<organisation> memos\" from `brand.yaml`", "sender name", "email"),
    Variable("MODELMEMO_SMTP_TIMEOUT", "30", "seconds to wait for the server", "email",
             bounds=Range(0, 600, above_low=True, unit="s")),
    Variable("MODELMEMO_SMTP_CONNECT_TIMEOUT", "10",
             "seconds to wait for the connection and the server's greeting (the shorter of this and "
             "`MODELMEMO_SMTP_TIMEOUT` applies)", "email", bounds=Range(0, 300, above_low=True, unit="s")),
    Variable("MODELMEMO_SMTP_RETRIES", "3", "attempts per run for a transient failure", "email", bounds=Range(1, 10)),
    Variable("MODELMEMO_SMTP_BACKOFF_SECONDS", "2", "first wait between attempts, doubling (one memo's waits add up "
             "to at most `SMTP_RETRY_WAIT_MAX_SECONDS`)", "email", bounds=Range(0, 60, unit="s")),
    Variable("MODELMEMO_SMTP_BREAKER_FAILURES", "3",
             "sends in a row the server never answers (refused, timed out) before the run stops trying it: "
             "the remaining emails are retried next run", "email", bounds=Range(1, 100)),
    Variable("MODELMEMO_SMTP_BLOCK", "none",
             "name of a `prefect-email` `EmailServerCredentials` block to take the server settings from", "email"),
    Variable("MODELMEMO_PILOT_GATEWAY", "none (each provider's own API)", "an OpenAI-compatible base URL every hosted "
             "pilot candidate is called through, under its `provider/model` name: a LiteLLM proxy "
             "(`http://127.0.0.1:4000/v1`) or OpenRouter (`https://openrouter.ai/api/v1`)", "pilot"),
    Variable("MODELMEMO_PILOT_GATEWAY_KEY", "none", "the gateway's key; never written to output, logs, cache or artifacts",
             "pilot"),
    Variable("MODELMEMO_PILOT_GATEWAY_KEY_FILE", "none", "a file holding the gateway's key", "pilot"),
    Variable("MODELMEMO_PILOT_SELF_HOSTED_URL", "none", "OpenAI-compatible base URL of your vLLM or Ollama server "
             "(`http://127.0.0.1:8000/v1`, `http://127.0.0.1:11434/v1`) for self-hosted candidates", "pilot"),
    Variable("MODELMEMO_PILOT_CONCURRENCY", "4", "requests in flight at once per provider", "pilot", bounds=Range(1, 64)),
    Variable("MODELMEMO_PILOT_TIMEOUT_SECONDS", "120", "seconds one request may take (not retried: a slow model stays "
             "slow)", "pilot", bounds=Range(0, 600, above_low=True, unit="s")),
    Variable("MODELMEMO_PILOT_RETRIES", "4", "retries of a request answered 429 or 5xx, or not connected", "pilot",
             bounds=Range(0, 10)),
    Variable("MODELMEMO_PILOT_BACKOFF_SECONDS", "1", "first wait before a retry, doubling; a Retry-After header is "
             "honoured instead (both at most `PILOT_RETRY_WAIT_MAX_SECONDS`)", "pilot",
             bounds=Range(0, PILOT_RETRY_WAIT_MAX_SECONDS, above_low=True, unit="s")),
    Variable("MODELMEMO_HOME", "", "prefect.yaml: where the checkout lives on a worker", "internal"),
    Variable("MODELMEMO_FAILPOINT", "", "tests: crash at a named point (failpoints.py)", "internal"),
)

# A MODELMEMO_* name not in the table is a typo (MODELMEMO_WORKER) that would otherwise be ignored
# silently, so `check_environment` reports it.
KNOWN_VARIABLES = frozenset(v.name for v in VARIABLES)


@dataclass(frozen=True)
class Constant:
    """A fixed tunable: its value lives above, its reason here (rendered into README "Settings")."""

    name: str
    value: object
    help: str


CONSTANTS: tuple[Constant, ...] = (
    Constant("MAX_INPUT_BYTES", MAX_INPUT_BYTES, "largest requirement file read (a real one is about 1 KiB)"),
    Constant("MAX_NESTING_DEPTH", MAX_NESTING_DEPTH, "deepest nesting in a requirement file (the schema needs 3)"),
    Constant("MAX_NUMBER_CHARACTERS", MAX_NUMBER_CHARACTERS, "longest number in a requirement file, in characters"),
    Constant("RENDER_SECONDS", RENDER_SECONDS, "seconds one memo may take to render before it is stopped and reported"),
    Constant("MEMOS_PER_WORKER_PER_POOL", MEMOS_PER_WORKER_PER_POOL,
             "memos per render process before a fresh pool replaces it (bounds a long batch's memory)"),
    Constant("FRAGILE_LESS", FRAGILE_LESS,
             "a pick is \"fragile\" when cutting one factor weight to no less than this share of it puts "
             "another model first (a change of priorities a steering meeting might well make)"),
    Constant("FRAGILE_MORE", FRAGILE_MORE,
             "... or raising one factor weight to no more than this multiple of it does"),
    Constant("STALE_AFTER_DAYS", STALE_AFTER_DAYS,
             "days after which a catalog fact the memo relies on is flagged as stale (as `catalog --check`)"),
    Constant("WORKER_MEMORY_BYTES", WORKER_MEMORY_BYTES,
             "address space of one render process (2 GiB); a runaway memo fails alone with MemoryError"),
    Constant("MAX_ATTEMPTS_PER_RECIPIENT", MAX_ATTEMPTS_PER_RECIPIENT,
             "sends of one memo to one recipient that may have left a copy with the server, all runs together"),
    Constant("WATCH_RETRY_MAX_SECONDS", WATCH_RETRY_MAX_SECONDS,
             "longest wait of `watch` before it retries a run that could not process the folder"),
    Constant("SMTP_RETRY_WAIT_MAX_SECONDS", SMTP_RETRY_WAIT_MAX_SECONDS,
             "longest the waits between one memo's send attempts may add up to "
             "(`MODELMEMO_SMTP_BACKOFF_SECONDS` x (2^(`MODELMEMO_SMTP_RETRIES`-1) - 1))"),
    Constant("PILOT_MAX_EXAMPLES_BYTES", PILOT_MAX_EXAMPLES_BYTES, "largest pilot examples file read (8 MiB)"),
    Constant("PILOT_MAX_EXAMPLES", PILOT_MAX_EXAMPLES, "examples in one pilot file (a memo's evaluation plan asks "
             "for 10 to about 120 per task)"),
    Constant("PILOT_MAX_OUTPUT_TOKENS", PILOT_MAX_OUTPUT_TOKENS, "longest pilot answer asked for (`max_tokens`); the "
             "cost estimate's bound for an answer without a reference"),
    Constant("PILOT_RETRY_WAIT_MAX_SECONDS", PILOT_RETRY_WAIT_MAX_SECONDS, "longest wait before a pilot request is "
             "retried, whatever its Retry-After asks"),
    Constant("PILOT_BOOTSTRAP_RESAMPLES", PILOT_BOOTSTRAP_RESAMPLES, "resamples behind each pilot metric's 95% interval"),
    Constant("PILOT_BOOTSTRAP_SEED", PILOT_BOOTSTRAP_SEED, "the resampling's seed: the same answers give the same interval"),
    Constant("PILOT_RECALL_K", PILOT_RECALL_K, "embeddings: a query counts as found when its passage ranks in the top k"),
    Constant("MAX_PASSWORD_FILE_BYTES", MAX_PASSWORD_FILE_BYTES,
             "largest `MODELMEMO_SMTP_PASSWORD_FILE` read (a regular file: a FIFO or device is refused unopened)"),
)


def readme_table(group: str) -> str:
    """The Markdown table README shows for one group of VARIABLES, or for CONSTANTS ("constants")."""
    if group == "constants":
        rows = [f"| `{c.name}` | {c.value:,} | {c.help} |" if isinstance(c.value, int)
                else f"| `{c.name}` | {c.value:g} | {c.help} |" for c in CONSTANTS]
        return "\n".join(["| Constant | Value | What it sets |", "|---|---|---|", *rows])
    allowed = {v.name: f"; allowed: {v.bounds.phrase(readme=True)}" for v in VARIABLES if v.bounds}
    rows = [f"| `{v.name}` | {v.default} | {v.help}{allowed.get(v.name, '')} |" for v in VARIABLES if v.group == group]
    return "\n".join(["| Variable | Default | What it sets |", "|---|---|---|", *rows])


def check_environment(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment, with every MODELMEMO_* variable checked (email ones too).

    Raises SettingsError with one line naming the variable and what is allowed.
    """
    env = os.environ if env is None else env
    unknown = sorted(name for name in env if name.startswith("MODELMEMO_") and name not in KNOWN_VARIABLES)
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], sorted(KNOWN_VARIABLES), n=1, cutoff=0.8)
        hint = f"did you mean {close[0]}? " if close else ""
        raise SettingsError(f"unknown setting {unknown[0]} ({hint}see README \"Settings\" for the variables "
                            "modelmemo reads)")
    return Settings.from_env(env)
