"""Small helpers shared by tests: building requirement data, reading PDFs back, a free loopback
port, and the real `modelmemo` command in a subprocess."""

from __future__ import annotations

import copy
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

BASE_REQUIREMENTS: dict[str, Any] = {
    "schema_version": 1,
    "project": {
        "id": "test-project",
        "name": "Test Project",
        "owner": {"name": "Owner Name", "email": "owner@example.com"},
    },
    "needs": {"tasks": ["chat"], "customization": "prompting"},
    "budget": {"monthly_usd": 1000, "volume": {"requests_per_month": 10000, "tokens_per_request": 1000}},
    "support": {"ml_expertise": "basic", "vendor_sla_required": False},
    "security": {"data_sensitivity": "internal", "on_premises_only": False},
    "long_term": {"growth": "medium", "lock_in_tolerance": "medium"},
}


def requirements(**overrides: Any) -> dict[str, Any]:
    """BASE_REQUIREMENTS with dotted-path overrides, e.g. requirements(**{"needs.tasks": ["code"]})."""
    data = copy.deepcopy(BASE_REQUIREMENTS)
    for dotted, value in overrides.items():
        node = data
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if value is DELETE:
            node.pop(parts[-1], None)
        else:
            node[parts[-1]] = value
    return data


DELETE = object()


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def pdf_info(path: Path) -> dict[str, str]:
    out = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in out.splitlines() if ":" in line)}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_modelmemo(*args: str | bytes, env: dict[str, str] | None = None, extra_env: dict[str, str] | None = None,
                  timeout: float = 240, text: bool = True) -> subprocess.CompletedProcess:
    """The real command in a subprocess, from the checkout: `env` replaces the environment (default:
    this process's), `extra_env` is laid over it. Bytes arguments (e.g. non-UTF-8 file names) need
    text=False."""
    from .conftest import ROOT

    return subprocess.run([sys.executable, "-m", "modelmemo.cli", *args], cwd=ROOT, capture_output=True, text=text,
                          env={**(os.environ if env is None else env), **(extra_env or {})}, timeout=timeout)
