"""Speech-to-English translation with Whisper's ``translate`` task.

Whisper translates the *audio* of each line into English directly (any of its
languages -> en), so no text MT model is needed for that direction.

With the source language known, the whole scene is translated in one call over its VAD
speech clips joined across short pauses into context windows
(:func:`~dubpreview.asr.clips.context_windows`), and each piece of English goes to the
line holding most of its time (:func:`assign_pieces`). A line that no piece falls in
(none at all, or a piece spread evenly over two lines) is translated on its own: its audio
slice, with :data:`PAD_S` seconds either side, run through the
:class:`~dubpreview.asr.base.Transcriber` with ``task="translate"``.

Measured on four fillets-ng scenes (map, cabin1, cannons, elevator1; ``bench/content_results.md``,
"context windows"), Whisper base, beam 5: the scene translated clip by clip scored chrF
32.5/30.6/28.0/26.5 against the game's human English, in context windows 37.8/34.2/27.4/27.8;
the lines' text after matching, 29.2/32.3/25.2/26.9 with pieces given only to a line holding
80 % of their time (Whisper's translation timestamps are coarse, so most lines were
translated alone, out of context), 38.0/34.2/27.4/27.8 with the majority rule
(:data:`PIECE_INSIDE`). The whole scene decoded greedily without VAD scored 35.8/34.9/29.2/28.2.
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
PIECE_PAD_S = 0.3
"""Seconds a line's span is widened by when pieces of the scene pass are matched to it."""
PIECE_INSIDE = 0.5
"""Share of a piece's time that must lie in one (widened) line for the piece to go to it:
a majority. Whisper's timestamps in translation fall on a coarse grid (often 1-2 s), so a
piece rarely lies 80 % inside its line (see the module docstring for what that cost)."""


def assign_pieces(lines: list[tuple[float, float]], pieces: list[tuple[float, float, str]],
                  pad_s: float = PIECE_PAD_S, inside: float = PIECE_INSIDE) -> list[str | None]:
    """The text of the scene pass for each line, or None where the line must be translated
    on its own.

    ``lines``: (start, end) seconds, in time order; ``pieces``: (start, end, text) of the
    scene pass. A piece goes to the line holding at least ``inside`` of its time (the line's
    span widened by ``pad_s`` each side), so to one line only; a line gets its pieces joined
    in order. A piece that no line holds that well leaves every line it touches to be
    translated on its own (rather than give its words to the wrong line), as does a line that
    receives nothing. Pure.
    """
    if not lines:
        return []
    got: list[list[str]] = [[] for _ in lines]
    alone: set[int] = set()
    for start, end, text in pieces:
        if not text.strip():
            continue
        length = max(end - start, 1e-3)
        overlap = [max(0.0, min(end, le + pad_s) - max(start, ls - pad_s)) for ls, le in lines]
        best = int(np.argmax(overlap))
        if overlap[best] >= inside * length:
            got[best].append(text)
        else:
            alone.update(i for i, o in enumerate(overlap) if o > 0)
    return [None if i in alone or not texts else join_words(texts) for i, texts in enumerate(got)]


def _language(source: str) -> str | None:
    """The ISO 639-1 code of ``source``, or None for ``"*"``/``"auto"``/``""`` (detect per line)."""
    return None if source in ("*", "auto", "") else languages.normalize(source)


class WhisperSpeechTranslator:
    """:class:`~dubpreview.translate.base.Translator` from speech, into English only.

    Args:
        transcriber: the Whisper backend to run (e.g. ``get_transcriber("faster-whisper")``).
        pad_s: seconds of audio added on each side of a segment.
    """

    name = "whisper-translate"
    rule = "scene-pass-2"
    """How the translations are made (in the translation cache key: a new rule, new translations)."""

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
        language = _language(source)
        audio = np.asarray(audio, dtype=np.float32)
        scene: list[str | None] = [None] * len(segments)
        if language is not None and segments:  # one pass over the scene (module docstring)
            result = self.transcriber.transcribe(audio, language=language, task="translate")
            order = sorted(range(len(segments)), key=lambda i: (segments[i].start, segments[i].end))
            texts = assign_pieces([(segments[i].start, segments[i].end) for i in order],
                                  [(p.start, p.end, p.text) for p in result.segments])
            for i, text in zip(order, texts):
                scene[i] = text
        return [text if text is not None else self._one(audio, seg, language)
                for seg, text in zip(segments, scene)]

    def _one(self, audio: np.ndarray, seg: Segment, language: str | None) -> str:
        a = max(0, int((seg.start - self.pad_s) * SAMPLE_RATE))
        b = min(len(audio), int((seg.end + self.pad_s) * SAMPLE_RATE))
        if b <= a:
            return ""
        result = self.transcriber.transcribe(audio[a:b], language=language, task="translate")
        return join_words([s.text for s in result.segments])

    def retranslate(self, seg: Segment, source: str, audio: np.ndarray) -> str:
        """A second translation of one line whose first one looped, overran or was a known
        hallucination: first the line's own slice translated alone (the scene pass's piece
        may have been the trouble), kept if it has no known phrase and no loop; else its
        audio decoded again on its own with the strict options
        (:meth:`~dubpreview.asr.common.ClipWhisperTranscriber.decode_region`); ``""`` when
        the backend cannot decode a region."""
        from dubpreview.integrity import phrases, repetition

        audio = np.asarray(audio, dtype=np.float32)
        language = _language(source)
        alone = self._one(audio, seg, language)
        if alone.strip() and not phrases.find(alone, []) and not repetition.is_degenerate(alone):
            return alone
        decode = getattr(self.transcriber, "decode_region", None)
        if decode is None:
            return ""
        found = decode(np.asarray(audio, dtype=np.float32), seg.start - self.pad_s, seg.end + self.pad_s,
                       languages.normalize(source), task="translate")
        return join_words([s.text for s in found])
