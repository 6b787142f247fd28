"""What both Whisper backends share: input checks, VAD clips, language-ID audio, and
turning a backend's raw segments into clean :class:`~dubpreview.records.Segment` records.

Both backends decode only the speech regions found by :mod:`dubpreview.asr.vad` (passed
to Whisper as ``clip_timestamps``), so silent audio gives no segments (no hallucinated
text) and a pause of at least ``min_silence_s`` always ends a segment: no segment spans
two regions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dubpreview import languages
from dubpreview.asr import vad
from dubpreview.asr.base import SAMPLE_RATE
from dubpreview.errors import DubError
from dubpreview.records import Segment, Word

TASKS = ("transcribe", "translate")
LANGUAGE_ID_SECONDS = 30.0
"""Seconds of speech (regions joined) that language identification looks at: one Whisper window."""


@dataclass(frozen=True)
class VadOptions:
    """How speech regions are cut: see :func:`dubpreview.asr.vad.speech_regions` (seconds)."""

    min_silence_s: float = 0.5
    pad_s: float = 0.2
    threshold: float = 0.5


def check_audio(audio: np.ndarray) -> np.ndarray:
    """``audio`` as contiguous float32 of shape ``(n,)`` (16 kHz mono is assumed).

    Raises:
        DubError: not one-dimensional.
    """
    a = np.asarray(audio)
    if a.ndim != 1:
        raise DubError(f"transcription needs mono 16 kHz audio of shape (n,), got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float32)


def check_request(language: str | None, task: str) -> str | None:
    """The Whisper language code for ``language`` (``None`` stays ``None`` = detect).

    Raises:
        DubError: unknown code, a language Whisper does not know, or a task other than
            ``"transcribe"``/``"translate"``.
    """
    if task not in TASKS:
        raise DubError(f"unknown speech recognition task '{task}'; use one of: {', '.join(TASKS)}")
    if language is None:
        return None
    code = languages.normalize(language)
    if code not in languages.WHISPER:
        raise DubError(f"Whisper cannot recognise '{language}' ({languages.name(code)})")
    return code


def speech_clips(audio: np.ndarray, opts: VadOptions) -> list[tuple[float, float]]:
    """Speech regions of ``audio`` in seconds (see :func:`dubpreview.asr.vad.speech_regions`)."""
    return vad.speech_regions(audio, min_silence_s=opts.min_silence_s, pad_s=opts.pad_s,
                              threshold=opts.threshold)


def flat_clips(clips: list[tuple[float, float]]) -> list[float]:
    """``[start0, end0, start1, end1, ...]`` in seconds: Whisper's ``clip_timestamps``."""
    return [t for clip in clips for t in clip]


def language_id_audio(audio: np.ndarray, clips: list[tuple[float, float]],
                      seconds: float = LANGUAGE_ID_SECONDS) -> np.ndarray:
    """The first ``seconds`` of speech: the clips' samples joined, float32 ``(m,)`` at 16 kHz."""
    parts, total = [], 0
    limit = int(seconds * SAMPLE_RATE)
    for start, end in clips:
        part = audio[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]
        parts.append(part[:limit - total])
        total += len(parts[-1])
        if total >= limit:
            break
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def _clip_of(start: float, end: float, clips: list[tuple[float, float]]) -> tuple[float, float]:
    """The clip holding the middle of ``[start, end]`` (the nearest one when none does)."""
    mid = (start + end) / 2
    return min(clips, key=lambda c: 0.0 if c[0] <= mid <= c[1] else min(abs(mid - c[0]), abs(mid - c[1])))


def _clamp(t: float, lo: float, hi: float) -> float:
    return round(float(min(max(t, lo), hi)), 3)


def finish_segments(raw: list[Segment], clips: list[tuple[float, float]]) -> list[Segment]:
    """Clean a backend's segments (absolute seconds) into the pipeline's records.

    Text and word texts are stripped; segments with no text are dropped; each segment is
    clamped to the speech clip it belongs to, its words to the segment (so every word lies
    inside its segment and no segment crosses a pause); segments are sorted by start and
    numbered 0..n-1.
    """
    out: list[Segment] = []
    for seg in raw:
        text = seg.text.strip()
        if not text or not clips:
            continue
        lo, hi = _clip_of(seg.start, seg.end, clips)
        start, end = _clamp(seg.start, lo, hi), _clamp(seg.end, lo, hi)
        if seg.words:  # word alignment is finer than Whisper's segment timestamps
            start = _clamp(min(start, seg.words[0].start), lo, hi)
            end = _clamp(max(end, seg.words[-1].end), lo, hi)
        end = max(end, start)
        words = [Word(start=_clamp(w.start, start, end), end=_clamp(max(w.end, w.start), start, end),
                      text=w.text.strip(), probability=float(w.probability))
                 for w in seg.words if w.text.strip()]
        out.append(Segment(id=0, start=start, end=end, text=text, words=words))
    out.sort(key=lambda s: (s.start, s.end))
    for i, seg in enumerate(out):
        seg.id = i
    return out
