"""The transcription interface and the backend chooser.

A :class:`Transcriber` turns 16 kHz mono audio into a :class:`~dubpreview.records.Transcript`
with segment and word timestamps (seconds) and the spoken language (ISO 639-1).
Backends live one per module (``faster.py``, ``openai_whisper.py``) and are chosen
by name with :func:`get_transcriber`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from dubpreview.records import Transcript

SAMPLE_RATE = 16000
"""Whisper and Silero VAD both take 16 kHz mono float32 audio."""


class Transcriber(Protocol):
    """Speech recognition backend.

    ``name`` identifies the backend in settings and cache keys; ``model_id`` names the
    weights (for cache keys: a change of weights invalidates cached transcripts).
    """

    name: str
    model_id: str

    def transcribe(self, audio: np.ndarray, language: str | None = None,
                   task: str = "transcribe") -> Transcript:
        """Recognise speech in ``audio`` (float32, shape ``(n,)``, 16 kHz).

        ``language`` is an ISO 639-1 code or ``None`` to detect it; ``task`` is
        ``"transcribe"`` or ``"translate"`` (Whisper's speech-to-English translation).
        Segment ids are 0..n-1 in time order. Raises DubError for an unknown language.
        """
        ...
