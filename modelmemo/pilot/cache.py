"""Answers cached on disk, so a rerun (or a run after a failure) makes no call it already made.

Keyed by sha256 of (endpoint base URL, model name as called, request kind, request body): the body
holds the example and the prompt built from it, so an edited example or prompt is a new key. The
key never includes credentials (an Endpoint's base URL has none) and a record holds only the answer,
its token counts and latency. Under `DIR/state/pilot/cache/<2 hex>/<sha256>.json`, written
atomically (a temporary file renamed) but not fsynced: a record a crash left empty is a miss, and the
call is made again, which costs less than an fsync per answer on a busy disk. An unreadable record is
a miss, never an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from modelmemo.batch.atomic import TEMP_SUFFIX
from modelmemo.batch.layout import state_dir


def pilot_dir(output_dir: Path) -> Path:
    return state_dir(output_dir) / "pilot"


def cache_key(base_url: str, model: str, kind: str, body: dict[str, Any]) -> str:
    text = json.dumps({"endpoint": base_url, "model": model, "kind": kind, "body": body}, sort_keys=True,
                      ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseCache:
    def __init__(self, output_dir: Path) -> None:
        self.folder = pilot_dir(output_dir) / "cache"

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            record = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def has(self, key: str) -> bool:
        return self.get(key) is not None

    def put(self, key: str, record: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(record, handle, ensure_ascii=False, sort_keys=True)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
