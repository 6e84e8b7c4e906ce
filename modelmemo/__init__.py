"""modelmemo: decision memos that compare open- and closed-source AI models for a project."""

from pathlib import Path as _Path

__version__ = "0.1.0"

# The flows live in the checkout's top-level `flows/` folder, which pyproject.toml installs as
# `modelmemo.flows`. A wheel has them inside this package and an editable install maps them; a plain
# checkout (run from source, or a checkout's tests importing this package while a wheel is
# installed) has neither, so the checkout's root is searched for `modelmemo.flows` as well. Only
# `flows` is imported that way; nothing else there is a module of this package.
_CHECKOUT = _Path(__file__).resolve().parent.parent
if not (_Path(__file__).resolve().parent / "flows").is_dir() and (_CHECKOUT / "flows" / "__init__.py").is_file():
    __path__.append(str(_CHECKOUT))  # noqa: F821 - a package's __path__ is defined at import time
