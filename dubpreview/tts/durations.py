"""A line's spoken length at any TTS speed, known before (or without) synthesizing it. Pure, no model.

Kokoro-82M (StyleTTS 2) decides every phoneme's length before it makes a sample: its
duration predictor gives each input token a length in frames at speed 1.0, the model divides
by ``speed``, rounds, and clamps at one frame (``kokoro/model.py``, ``KModel.forward_with_tokens``:
``torch.round(duration / speed).clamp(min=1)``); each frame is :data:`FRAME_SAMPLES` samples
at 24 kHz. So the untrimmed clip's length at every speed follows exactly from one run of the
predictor (:func:`dubpreview.models.registry.kokoro_durations_path` cuts it out of the ONNX
graph; 9 of 9 clips matched to the sample). :class:`KokoroLength` adds what
:func:`~dubpreview.tts.kokoro.trim_silence` takes off, by a linear fit (:data:`TRIM_FIT`).

A backend without a predictor gets :class:`PowerLawLength`: its natural clip's length scaled
by ``speed ** -exponent``.

Both are *length models*: ``seconds(speed)`` in seconds, and :meth:`scaled` returns the model
corrected by a measured clip (its real length over the predicted one), which is how the
second synthesis of a line lands where the first one missed (:mod:`dubpreview.timing.fit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FRAME_SAMPLES = 600
"""Samples per predicted frame at 24 kHz (hop 300, upsampled twice): 25 ms."""
FRAME_S = FRAME_SAMPLES / 24000

SILENT = frozenset(';:,.!?¡¿—…"«»“” ')
"""Kokoro input symbols that make no sound of their own (punctuation and space)."""

TRIM_FIT = (0.978, 0.0, 0.430, 0.111)
"""Trimmed length ~= ``a * core + b * last + c * tail`` frames ``+ d`` seconds, where ``core`` is
the frames from the first sounding token up to (not including) the last sounding one, ``last``
that token's frames and ``tail`` the frames of the silent tokens after it (the end pad
included; the leading pad and punctuation are cut whole). Non-negative least squares
(``scipy.optimize.nnls``, so that a faster line is never predicted longer; it gives the last
phoneme no weight: its length is mostly the decay the trim cuts) over 208 clips
(8 voices: pf_dora, pm_alex, am_michael, af_bella, em_alex, ff_siwis, bm_george, af_heart;
8 Portuguese and 5 English lines; speeds 1.0 and 1.2), residual 0.051 s sd, 0.139 s at most
(``python bench/voices.py durations`` measures it again)."""


@dataclass(frozen=True)
class KokoroLength:
    """The length model of one line from Kokoro's duration predictor.

    ``chunks``: per synthesized piece (a line over 510 tokens is split,
    :meth:`~dubpreview.tts.kokoro.KokoroSynthesizer.synthesize`), the float frame counts at
    speed 1.0 of every token, pads included, and the index of its first and last sounding
    token; ``gap_s``: the pause put between pieces; ``scale``: a measured correction
    (1.0 = as predicted).
    """

    chunks: tuple[tuple[tuple[float, ...], int, int], ...]
    gap_s: float = 0.2
    scale: float = 1.0

    @classmethod
    def from_durations(cls, pieces: list[tuple[np.ndarray, list[str]]], gap_s: float = 0.2) -> "KokoroLength":
        """From each piece's predicted durations (float ``(n_tokens + 2,)``, pads included)
        and its symbols (the ``n_tokens`` phoneme characters, pads excluded)."""
        chunks = []
        for durations, symbols in pieces:
            sounding = [i + 1 for i, s in enumerate(symbols) if s not in SILENT]
            first, last = (sounding[0], sounding[-1]) if sounding else (1, max(1, len(symbols)))
            chunks.append((tuple(float(d) for d in np.ravel(durations)), first, last))
        return cls(tuple(chunks), gap_s)

    def untrimmed_frames(self, speed: float) -> int:
        """Frames of the clip before the silence trim at ``speed`` (exact: Kokoro's own rule)."""
        return int(sum(_frames(d, speed).sum() for d, _, _ in self.chunks))

    def seconds(self, speed: float = 1.0) -> float:
        """The trimmed clip's length in seconds at TTS ``speed`` (times :attr:`scale`)."""
        a, b, c, d = TRIM_FIT
        total = 0.0
        for durations, first, last in self.chunks:
            f = _frames(durations, speed)
            total += (a * f[first:last].sum() + b * f[last] + c * f[last + 1:].sum()) * FRAME_S + d
        total += self.gap_s * max(0, len(self.chunks) - 1)
        return max(0.0, total) * self.scale

    def scaled(self, factor: float) -> "KokoroLength":
        """This model with its lengths multiplied by ``factor``."""
        return KokoroLength(self.chunks, self.gap_s, self.scale * factor)

    def to_dict(self) -> dict:
        return {"chunks": [[list(d), first, last] for d, first, last in self.chunks], "gap_s": self.gap_s}

    @classmethod
    def from_dict(cls, d: dict) -> "KokoroLength":
        return cls(tuple((tuple(c[0]), int(c[1]), int(c[2])) for c in d["chunks"]), float(d.get("gap_s", 0.2)))


@dataclass(frozen=True)
class PowerLawLength:
    """The length model of a backend without a duration predictor: ``natural_s`` (the clip at
    speed 1.0, measured) times ``speed ** -exponent``."""

    natural_s: float
    exponent: float = 1.0
    scale: float = field(default=1.0)

    def seconds(self, speed: float = 1.0) -> float:
        return self.natural_s * speed ** -self.exponent * self.scale

    def scaled(self, factor: float) -> "PowerLawLength":
        return PowerLawLength(self.natural_s, self.exponent, self.scale * factor)


def _frames(durations, speed: float) -> np.ndarray:
    """Kokoro's frames per token at ``speed``: ``max(1, round(d / speed))`` (round half to even,
    as ``torch.round``), computed in float32 as the model does."""
    d = np.asarray(durations, dtype=np.float32) / np.float32(speed)
    return np.maximum(1.0, np.round(d)).astype(np.float64)
