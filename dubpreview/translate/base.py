"""The translation interface.

A :class:`Translator` maps a list of source segments to one translated string per
segment. Text backends read ``Segment.text``; the speech backend (Whisper translate)
reads the audio of each segment, so ``audio`` (16 kHz mono float32) is passed too.
Backends declare which (source, target) pairs they can do; the chooser in
``translate/select.py`` picks one per pair and lists the possible pairs when none can.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from dubpreview.records import Segment


class Translator(Protocol):
    """Machine translation backend.

    ``name`` identifies it in settings, cache keys and reports.
    """

    name: str

    def pairs(self) -> set[tuple[str, str]]:
        """The (source, target) ISO 639-1 pairs this backend can do here; ``("*", "en")``
        means any source language into English."""
        ...

    def translate(self, segments: list[Segment], source: str, target: str,
                  audio: np.ndarray | None = None) -> list[str]:
        """One translation per segment, in order. ``audio`` is the scene at 16 kHz mono
        (needed only by speech backends). Raises DubError for a pair it cannot do."""
        ...
