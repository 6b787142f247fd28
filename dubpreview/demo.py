"""The real scenes bundled in ``demo/`` (see ``demo/ATTRIBUTION.md``), for ``dubpreview demo``
and the studio's "demo scene" box."""

from __future__ import annotations

import os
from pathlib import Path

DEMO_SCENES = {
    "ami": {
        "file": "ami_meeting_tst00_en.mp4",
        "from": "en", "to": ["pt"], "translator": None, "translation": None,
        "about": "AMI Meeting Corpus, English meeting (CC BY 4.0) -> Portuguese",
    },
    "fillets": {
        "file": "fillets-ng_cabin1_cs.mp4",
        "from": "cs", "to": ["en"], "translator": None, "translation": "fillets-ng_cabin1.en.srt",
        "about": "Fish Fillets NG, Czech acted dialogue (GPL-2) -> English, the game's own human translation",
    },
}
"""The real scenes kept in ``demo/`` (see ``demo/ATTRIBUTION.md``)."""


def demo_dir() -> Path:
    """``demo/`` beside the package (``$DUBPREVIEW_DEMO`` overrides)."""
    env = os.environ.get("DUBPREVIEW_DEMO")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "demo"
