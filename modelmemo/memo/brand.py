"""Branding: one file, `templates/brand.yaml`, so another organisation can rebrand without code."""

from __future__ import annotations

import base64
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

import yaml


class BrandError(Exception):
    """The brand file or one of its assets is missing or wrong; rendering must not go on."""


_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_COLOR_KEYS = ("primary", "accent", "ink", "muted", "open", "closed")


@dataclass(frozen=True)
class Brand:
    organisation: str
    tagline: str
    footer: str
    font_family: str
    colors: dict[str, str]
    logo_data_uri: str
    logo_alt: str


def load_brand(templates_dir: Path) -> Brand:
    path = templates_dir / "brand.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise BrandError(f"cannot read brand file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise BrandError(f"{path}: expected a mapping of brand settings")
    try:
        colors = {key: str(data["colors"][key]) for key in _COLOR_KEYS}
        logo_name = str(data["logo"])
        organisation = str(data["organisation"])
    except (KeyError, TypeError) as exc:
        raise BrandError(f"{path}: missing setting {exc}") from None
    for key, value in colors.items():
        if not _COLOR.match(value):
            raise BrandError(f"{path}: colors.{key} must look like #1f4e79, got {value!r}")
    logo_path = (templates_dir / logo_name).resolve()
    if templates_dir.resolve() not in logo_path.parents:
        raise BrandError(f"{path}: logo must be a file inside {templates_dir}")
    try:
        logo_bytes = logo_path.read_bytes()
    except OSError:
        raise BrandError(f"{path}: logo file {logo_name} is missing") from None
    mime = mimetypes.guess_type(logo_path.name)[0] or "application/octet-stream"
    if mime not in ("image/svg+xml", "image/png", "image/jpeg"):
        raise BrandError(f"{path}: logo must be SVG, PNG or JPEG, got {logo_path.name}")
    return Brand(
        organisation=organisation,
        tagline=str(data.get("tagline", "")),
        footer=str(data.get("footer", "")),
        font_family=str(data.get("font_family", "DejaVu Sans")),
        colors=colors,
        logo_data_uri=f"data:{mime};base64," + base64.b64encode(logo_bytes).decode("ascii"),
        logo_alt=f"{organisation} logo",
    )
