"""Named points where a test can kill the process with SIGKILL, to prove a crash loses nothing.

Set MODELMEMO_FAILPOINT to a point's name ("after-validate", "before-email",
"before-rename support-chatbot.pdf", ...), optionally with "@N" to die on the N-th time the
point is reached. Unset (always, outside tests), a failpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_hits: dict[str, int] = {}


def failpoint(name: str) -> None:
    spec = os.environ.get("MODELMEMO_FAILPOINT")
    if not spec:
        return
    target, _, nth = spec.partition("@")
    if target != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
