"""`modelmemo init [DIR]`: a working folder for a pip/pipx user, in one command.

    DIR/inputs/support-chatbot.yaml   an example requirement file (the drop folder); with
                                      --examples every shipped example (the wheel has no
                                      checkout to find them in)
    DIR/templates/                    a copy of the shipped templates and brand.yaml, to rebrand
    DIR/README.md                     what to do next (only when DIR has no README.md)

`modelmemo run` in DIR then reads ./inputs, writes ./output and uses ./templates (settings.py:
a `templates/` folder with a brand.yaml in the current folder is used instead of the shipped one).
Nothing that exists is overwritten: running it twice, or in a folder that has some of these, only
adds what is missing.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from modelmemo import resources

EXAMPLE = "support-chatbot.yaml"

README = """\
# modelmemo working folder

Drop requirement files into `inputs/` (start from `inputs/{example}`), then run `modelmemo run`:
memos go to `output/<run-id>/`. Rebrand the memos by editing `templates/` (brand.yaml, logo.svg,
memo.css). `modelmemo init --examples` adds every shipped example to `inputs/`;
`modelmemo validate --schema` prints where the requirement schema is. `modelmemo --help` lists
the commands and exit codes.
"""


class InitError(Exception):
    """The folder cannot be laid out (a file where a folder should be, no permission)."""


def shipped_examples() -> list[Path]:
    return sorted(p for p in resources.example_inputs_dir().iterdir()
                  if p.suffix in (".yaml", ".yml", ".json") and p.is_file())


def lay_out(directory: Path, all_examples: bool = False) -> list[str]:
    """Create what is missing; return one line per thing done or kept, for the console."""
    directory = directory.absolute()
    lines: list[str] = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        inputs = directory / "inputs"
        inputs.mkdir(exist_ok=True)
        sources = shipped_examples() if all_examples else [resources.example_inputs_dir() / EXAMPLE]
        for source in sources:
            example = inputs / source.name
            if example.exists():
                lines.append(f"kept {example} (exists)")
            else:
                shutil.copyfile(source, example)
                # An example written whole by init is not a file "still being copied": dated a minute
                # back, `modelmemo init && modelmemo run` renders it at once instead of waiting out
                # the drop folder's settle time (MODELMEMO_SETTLE_SECONDS, 5 s by default).
                settled = time.time() - 60
                os.utime(example, (settled, settled))
                lines.append(f"created {example} (an example requirement file)")
        templates = directory / "templates"
        if templates.exists():
            lines.append(f"kept {templates} (exists)")
        else:
            shutil.copytree(resources.templates_dir(), templates,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "__init__.py"))
            lines.append(f"created {templates} (the memo templates and brand.yaml, to rebrand)")
        readme = directory / "README.md"
        if not readme.exists():
            readme.write_text(README.format(example=EXAMPLE), encoding="utf-8")
            lines.append(f"created {readme}")
    except FileExistsError as exc:
        raise InitError(f"cannot lay out {directory}: {exc.filename} exists and is not a folder") from None
    except OSError as exc:
        raise InitError(f"cannot lay out {directory}: {exc.strerror}: {exc.filename}") from None
    lines.append(f"next: cd {directory} && modelmemo run" if directory != Path.cwd().absolute()
                 else "next: modelmemo run")
    return lines
