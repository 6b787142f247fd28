"""Speech-to-English translation with Whisper's ``translate`` task.

Whisper translates the *audio* of each line into English directly (any of its
languages -> en), so no text MT model is needed for that direction. Each segment's
audio slice, with :data:`PAD_S` seconds either side, is run through a
:class:`~dubpreview.asr.base.Transcriber` with ``task="translate"``.
"""

from __future__ import annotations

import numpy as np

from dubpreview import languages
from dubpreview.asr.base import SAMPLE_RATE, Transcriber
from dubpreview.errors import BackendUnavailable, DubError
from dubpreview.integrity.words import join_words
from dubpreview.records import Segment

PAD_S = 0.15
"""Seconds of context added before and after each line's audio."""


class WhisperSpeechTranslator:
    """:class:`~dubpreview.translate.base.Translator` from speech, into English only.

    Args:
        transcriber: the Whisper backend to run (e.g. ``get_transcriber("faster-whisper")``).
        pad_s: seconds of audio added on each side of a segment.
    """

    name = "whisper-translate"

    def __init__(self, transcriber: Transcriber, pad_s: float = PAD_S):
        self.transcriber = transcriber
        self.pad_s = pad_s

    def pairs(self) -> set[tuple[str, str]]:
        """``{("*", "en")}``: any language Whisper knows, into English."""
        return {("*", "en")}

    def translate(self, segments: list[Segment], source: str, target: str,
                  audio: np.ndarray | None = None) -> list[str]:
        """English text for each segment, from its audio.

        Args:
            segments: the lines; their ``start``/``end`` (seconds) select the audio.
            source: ISO 639-1 code of the spoken language (``"*"`` or ``"auto"`` to detect per line).
            target: must be ``"en"``.
            audio: the scene, float32 ``(n,)`` at 16 kHz mono.

        Returns:
            One string per segment, in order; ``""`` where Whisper heard no speech.

        Raises:
            BackendUnavailable: ``target`` is not English.
            DubError: no audio given, or an unknown language code.
        """
        if languages.normalize(target) != "en":
            raise BackendUnavailable(f"Whisper speech translation only translates into English (en), "
                                     f"not into '{target}'")
        if audio is None:
            raise DubError("speech translation needs the scene's audio (16 kHz mono)")
        language = None if source in ("*", "auto", "") else languages.normalize(source)
        audio = np.asarray(audio, dtype=np.float32)
        return [self._one(audio, seg, language) for seg in segments]

    def _one(self, audio: np.ndarray, seg: Segment, language: str | None) -> str:
        a = max(0, int((seg.start - self.pad_s) * SAMPLE_RATE))
        b = min(len(audio), int((seg.end + self.pad_s) * SAMPLE_RATE))
        if b <= a:
            return ""
        result = self.transcriber.transcribe(audio[a:b], language=language, task="translate")
        return join_words([s.text for s in result.segments])

    def retranslate(self, seg: Segment, source: str, audio: np.ndarray) -> str:
        """A second translation of one line whose first one looped or overran: its audio
        decoded again on its own with the strict options
        (:meth:`~dubpreview.asr.common.ClipWhisperTranscriber.decode_region`); ``""`` when
        the backend cannot decode a region."""
        decode = getattr(self.transcriber, "decode_region", None)
        if decode is None:
            return ""
        found = decode(np.asarray(audio, dtype=np.float32), seg.start - self.pad_s, seg.end + self.pad_s,
                       languages.normalize(source), task="translate")
        return join_words([s.text for s in found])
