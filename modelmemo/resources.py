"""Where the shipped catalog, schemas, templates and example inputs are.

They live in the checkout's top-level folders (`catalog/`, `schemas/`, `templates/`, `inputs/`) and
install inside the `modelmemo` namespace (pyproject.toml maps them), so the same code finds them
in a wheel, in an editable install and in a plain checkout. The renderer, Jinja2 and jsonschema
need real files, which a wheel unpacked into site-packages has: `importlib.resources` gives their
folder, never a zip member.
"""

from __future__ import annotations

import importlib.resources
from functools import cache
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent

# package name inside `modelmemo` -> folder at the top of the checkout
SHIPPED = {"catalog_data": "catalog", "schemas": "schemas", "templates": "templates", "example_inputs": "inputs"}


@cache
def shipped_dir(package: str) -> Path:
    """The folder of a shipped data package (see SHIPPED)."""
    # files("modelmemo") is a real folder (a regular package); the data folders have no
    # __init__.py, so they are looked up under it rather than imported as namespace packages
    # (which setuptools' editable finder does not resolve under a regular package).
    installed = Path(str(importlib.resources.files("modelmemo"))) / package
    if installed.is_dir():  # a wheel (pip, pipx)
        return installed
    return CHECKOUT / SHIPPED[package]  # a checkout, installed editable or not at all


def catalog_file() -> Path:
    return shipped_dir("catalog_data") / "models.yaml"


def schema_file(name: str) -> Path:
    return shipped_dir("schemas") / name


def templates_dir() -> Path:
    return shipped_dir("templates")


def example_inputs_dir() -> Path:
    return shipped_dir("example_inputs")
