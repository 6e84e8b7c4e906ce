"""modelmemo's Prefect flows; installed as `modelmemo.flows` (pyproject.toml maps this folder).

Imported as plain `flows` from a checkout (older scripts, tests, a `flows/batch.py:memo_batch`
entrypoint), the package makes `flows` and `flows.<module>` the very same module objects as
`modelmemo.flows.<module>`: two copies of a module would mean two `memo_batch` flows and settings
patched on one copy that the other never sees.
"""

if __name__ == "flows":
    import importlib
    import sys

    _package = importlib.import_module("modelmemo.flows")
    for _name in ("batch", "deployment", "reporting", "pilot"):
        sys.modules[f"flows.{_name}"] = importlib.import_module(f"modelmemo.flows.{_name}")
    sys.modules["flows"] = _package
