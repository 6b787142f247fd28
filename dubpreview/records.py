"""Typed records that travel between the pipeline's stages.

Every time is in seconds (float) from the start of the scene, every sample rate in Hz.
Records are plain dataclasses so that they round-trip through ``project.json`` with
:func:`to_dict` / ``from_dict`` and never travel as loose dicts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np


@dataclass
class Word:
    """One recognised word: ``start``/``end`` in seconds, ``probability`` in [0, 1]."""

    start: float
    end: float
    text: str
    probability: float = 1.0


@dataclass
class Flag:
    """Why a line is doubtful (see :mod:`dubpreview.integrity.flags` for the reasons).

    ``reason`` one of the reasons there; ``language`` the target language it concerns
    (None: the source line itself); ``detail`` a short human sentence (what was dropped,
    repaired or measured).
    """

    reason: str
    language: str | None = None
    detail: str = ""


@dataclass
class Segment:
    """One line of dialogue (an utterance) and everything the dub knows about it.

    Attributes:
        id: stable index of the line in the scene (0-based).
        start, end: the source utterance, seconds from scene start.
        text: the source transcript.
        words: word timestamps from ASR (may be empty for imported cues).
        speaker: speaker id (``"S0"`` until diarization assigns one).
        translation: target language code (ISO 639-1) -> translated text.
        offset_ms: user override, shifts the dub line (milliseconds, may be negative).
        speed: user override of the synthesis speed (None = automatic).
        voice: user override of the synthesis voice (None = the speaker's voice).
        muted: user override, the line is not dubbed.
        edited: target languages whose translation the user edited (kept over automatic ones).
        alternatives: target language -> translation candidates considered for length
            (``{"text", "score", "estimate_s"}``), shown so the user can pick or undo.
        shortened: target languages where a shorter candidate replaced the first choice.
        avg_logprob: Whisper's mean token log-probability of the line's window (None for
            imported cues); below -1.0 the line is flagged as low confidence.
        no_speech_prob: Whisper's probability that the window held no speech.
        flags: why the line is doubtful (:class:`Flag`), shown to the reviewer; a line with
            a holding flag in a language is not spoken in it (:mod:`dubpreview.integrity.flags`).
    """

    id: int
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    speaker: str = "S0"
    translation: dict[str, str] = field(default_factory=dict)
    offset_ms: float = 0.0
    speed: float | None = None
    voice: str | None = None
    muted: bool = False
    edited: list[str] = field(default_factory=list)
    alternatives: dict[str, list[dict]] = field(default_factory=dict)
    shortened: list[str] = field(default_factory=list)
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    flags: list[Flag] = field(default_factory=list)

    @property
    def duration(self) -> float:
        """Length of the source utterance in seconds."""
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Segment":
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        d["words"] = [Word(**w) for w in d.get("words", [])]
        d["flags"] = [Flag(**f) for f in d.get("flags", [])]
        return cls(**d)


@dataclass
class Transcript:
    """What a :class:`~dubpreview.asr.base.Transcriber` returns.

    ``language`` is the ISO 639-1 code spoken (detected or given),
    ``language_probability`` the detector's confidence in [0, 1] (1.0 when given),
    ``duration`` the audio length in seconds.
    """

    language: str
    language_probability: float
    segments: list[Segment]
    duration: float


@dataclass
class Audio:
    """Mono or multichannel PCM in memory.

    ``samples`` is float32 in [-1, 1], shape ``(n,)`` for mono or ``(n, channels)``;
    ``sample_rate`` in Hz.
    """

    samples: np.ndarray
    sample_rate: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / float(self.sample_rate)

    def mono(self) -> np.ndarray:
        """The samples averaged to one channel, shape ``(n,)`` float32."""
        s = self.samples
        return (s.mean(axis=1) if s.ndim == 2 else s).astype(np.float32)

    def slice(self, start: float, end: float) -> "Audio":
        """The part between ``start`` and ``end`` seconds (clamped to the audio)."""
        a = max(0, int(round(start * self.sample_rate)))
        b = min(len(self.samples), int(round(end * self.sample_rate)))
        return Audio(self.samples[a:max(a, b)], self.sample_rate)


@dataclass
class Clip:
    """One synthesized dub line.

    ``path`` is the cached WAV (mono, ``sample_rate`` Hz); ``duration`` its length in
    seconds; ``speed`` the native synthesis speed it was made at (1.0 = natural).
    """

    segment_id: int
    path: str
    sample_rate: int
    duration: float
    speed: float
    voice: str
    text: str


@dataclass
class Placement:
    """Where a dub line goes in the programme.

    ``start`` in seconds; ``speed`` the speed-up as heard (natural length over
    ``duration``; 1.0 = natural); ``duration`` the clip's length; ``slot`` the time available from the source start (own
    utterance plus the borrowed silence up to the next line, minus the guard gap);
    ``overflow`` how far the line runs past its window (seconds, >= 0: the next line
    starts that much late); ``lateness`` how much later than its source start (plus
    offset) it starts; ``overlap`` seconds it overlaps the previous line (only a user
    offset can cause one); ``desired_start`` the source start plus the user's offset.
    """

    segment_id: int
    start: float
    speed: float
    duration: float
    slot: float
    overflow: float
    lateness: float = 0.0
    overlap: float = 0.0
    desired_start: float = 0.0

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass
class TimingReport:
    """Per-line placements and totals; written as ``timing.json``.

    Totals: ``speed_p50``/``speed_p95``/``speed_max`` over dubbed lines, ``share_above_1_2``
    (fraction of lines above 1.2x), ``overflow_total`` and ``overflow_max`` in seconds,
    ``lines_overflowing`` (count), and the IWSLT 2023 dubbing-track duration metrics
    ``m1`` = 1 - mean(|hyp - ref| / ref) and ``m2`` = mean(min(hyp, ref) / max(hyp, ref))
    with ref = source utterance duration, hyp = dub line duration. ``clips`` (paths relative to
    the project folder), ``naturals`` (seconds at speed 1.0) and ``synthesis_speeds`` (the TTS's
    own speed parameter) are filled by the pipeline, one per placement.
    """

    placements: list[Placement]
    totals: dict[str, float]
    clips: list[str] = field(default_factory=list)
    naturals: list[float] = field(default_factory=list)
    synthesis_speeds: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``lines`` (each placement with its ``end``, and where known the clip's
        path and its natural length in seconds) and ``totals``."""
        lines = []
        for i, p in enumerate(self.placements):
            line = dict(asdict(p), end=round(p.end, 4))
            if i < len(self.clips):
                line["clip"] = self.clips[i]
            if i < len(self.naturals):
                line["natural"] = round(self.naturals[i], 4)
            if i < len(self.synthesis_speeds):
                line["synthesis_speed"] = self.synthesis_speeds[i]
            lines.append(line)
        return {"lines": lines, "totals": self.totals}


def mono_float32(audio, purpose: str) -> np.ndarray:
    """``audio`` as float32 of shape ``(n,)`` (no copy when it already is one).

    Raises:
        DubError: ``<purpose> needs mono audio of shape (n,), got shape ...``.
    """
    from dubpreview.errors import DubError

    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise DubError(f"{purpose} needs mono audio of shape (n,), got shape {audio.shape}")
    return audio.astype(np.float32, copy=False)
