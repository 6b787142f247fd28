"""The speech synthesis interface.

A :class:`Synthesizer` speaks one line of text in a target language with a named
voice at a native speaking rate. Backends live one per module (``kokoro.py``).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Synthesizer(Protocol):
    """Text-to-speech backend.

    ``name`` and ``model_id`` identify it in settings and cache keys; ``sample_rate``
    is the rate (Hz) of the audio it returns.
    """

    name: str
    model_id: str
    sample_rate: int

    def voices(self) -> list[str]:
        """Names of the voices this backend can speak with."""
        ...

    def languages(self) -> set[str]:
        """ISO 639-1 codes this backend can speak."""
        ...

    def units(self, text: str, language: str) -> int:
        """Length of ``text`` in the model's input units (e.g. phonemes), for estimating
        a line's spoken duration before synthesizing it."""
        ...

    def synthesize(self, text: str, language: str, voice: str, speed: float = 1.0) -> np.ndarray:
        """Speak ``text``; returns float32 mono samples in [-1, 1] at :attr:`sample_rate`.

        ``speed`` is the backend's native rate factor (1.0 = natural, 1.2 = 20 % faster).
        Raises DubError for an unsupported language or voice.
        """
        ...
