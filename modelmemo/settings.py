"""Every tunable of modelmemo in one table, with the environment variable that overrides it.

Paths default to the project checkout so that `modelmemo run` works from a fresh clone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Limits that protect an unattended batch from hostile or broken files.
MAX_INPUT_BYTES = 256 * 1024  # a real requirement file is about 1 KiB
MAX_NESTING_DEPTH = 32  # the schema needs 3 levels; deep nesting is an attack
INPUT_SUFFIXES = (".yaml", ".yml", ".json")

# Scoring: best open and best closed totals within this many points make a "Close call".
CLOSE_CALL_MARGIN = 3.0


@dataclass(frozen=True)
class Settings:
    """Where things live. Build with `Settings.from_env()`; tests pass explicit paths."""

    input_dir: Path = PROJECT_ROOT / "inputs"
    output_dir: Path = PROJECT_ROOT / "output"
    templates_dir: Path = PROJECT_ROOT / "templates"
    schemas_dir: Path = PROJECT_ROOT / "schemas"
    catalog_files: tuple[Path, ...] = field(default=(PROJECT_ROOT / "catalog" / "models.yaml",))
    workers: int = max(1, os.cpu_count() or 1)
    # Files modified more recently than this are treated as still being copied (next run takes them).
    settle_seconds: float = 5.0
    # Email: attempts per run for transient SMTP errors, and the first backoff (doubles each time).
    smtp_retries: int = 3
    smtp_backoff_seconds: float = 2.0
    # Run folders to keep after each run (older ones are deleted unless a current memo lives
    # there; see retention.py). 0 keeps every run folder.
    keep_runs: int = 0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        base = cls()
        extra = tuple(Path(p) for p in env.get("MODELMEMO_CATALOG_EXTRA", "").split(os.pathsep) if p)
        return replace(
            base,
            input_dir=Path(env.get("MODELMEMO_INPUT_DIR", base.input_dir)),
            output_dir=Path(env.get("MODELMEMO_OUTPUT_DIR", base.output_dir)),
            templates_dir=Path(env.get("MODELMEMO_TEMPLATES_DIR", base.templates_dir)),
            catalog_files=base.catalog_files + extra,
            workers=int(env.get("MODELMEMO_WORKERS", base.workers)),
            settle_seconds=float(env.get("MODELMEMO_SETTLE_SECONDS", base.settle_seconds)),
            smtp_retries=int(env.get("MODELMEMO_SMTP_RETRIES", base.smtp_retries)),
            smtp_backoff_seconds=float(env.get("MODELMEMO_SMTP_BACKOFF_SECONDS", base.smtp_backoff_seconds)),
            keep_runs=int(env.get("MODELMEMO_KEEP_RUNS", base.keep_runs)),
        )
