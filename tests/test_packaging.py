"""The package carries what a run needs, found the same way in a wheel, an editable install and a checkout."""

from __future__ import annotations

import sys
import tomllib

from .conftest import ROOT


def test_shipped_folders_resolve_to_real_files():
    from modelmemo import resources

    assert (resources.catalog_file()).is_file()
    assert (resources.schema_file("requirements.schema.json")).is_file()
    assert (resources.templates_dir() / "brand.yaml").is_file()
    assert (resources.example_inputs_dir() / "support-chatbot.yaml").is_file()


def test_pyproject_packages_data_under_the_modelmemo_namespace_and_no_top_level_flows():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = config["tool"]["setuptools"]
    assert all(name == "modelmemo" or name.startswith("modelmemo.") for name in setuptools["packages"])
    assert setuptools["package-dir"] == {"modelmemo.flows": "flows", "modelmemo.catalog_data": "catalog",
                                         "modelmemo.schemas": "schemas", "modelmemo.templates": "templates",
                                         "modelmemo.example_inputs": "inputs"}
    from modelmemo.resources import SHIPPED

    assert {f"modelmemo.{name}" for name in SHIPPED} <= set(setuptools["packages"])
    requires = config["project"]["requires-python"]
    assert ">=3.11" in requires and "<3.14" in requires
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in " ".join(config["project"]["classifiers"])


def test_flows_import_as_one_module_under_both_names():
    import flows.batch
    import modelmemo.flows.batch

    assert flows.batch is modelmemo.flows.batch


def test_every_subpackage_is_in_the_wheel():
    """pyproject lists packages explicitly (the data folders are mapped in); a new subpackage left out
    of that list would be missing from the wheel while the checkout's tests still pass."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "modelmemo").rglob("__init__.py")
               if "__pycache__" not in p.parts}
    assert on_disk <= listed, sorted(on_disk - listed)
