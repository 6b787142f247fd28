"""The synthesized lines of a project: each clip cached under the one key of what makes its
audio (:func:`clip_key`: text, language, voice, TTS speed, model), and each line's length
model (how long it is at any speed) cached beside them.

A render asks :class:`Clips` for a line at a speed: a clip already made is read back, a new
one is synthesized once and cached. :meth:`Clips.cached` looks without synthesizing, which
is how a render keeps a line's earlier clip where it still fits (a timing edit synthesizes
nothing while the lines stay within their speeds: :mod:`dubpreview.pipeline.synthesize`).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from dubpreview.project.store import Project, cache_key

SPEED_DIGITS = 4
"""A TTS speed is part of a clip's key rounded to this many decimals (the planner's speeds
are on a 0.01 grid: :attr:`~dubpreview.settings.TimingSettings.speed_step`)."""


def clip_key(text: str, lang: str, voice: str, speed: float, model_id: str, stretched: bool = False) -> str:
    """The cache key of one synthesized line: exactly what changes its audio (the text, the
    dub language, the voice id, the TTS speed rounded to :data:`SPEED_DIGITS`, the model)
    and, for a backend without a speed control, that the clip was time-stretched (ffmpeg
    ``atempo``) from the natural one."""
    parts = dict(text=text, lang=lang, voice=voice, speed=round(speed, SPEED_DIGITS), model=model_id)
    if stretched:
        parts["stretch"] = "atempo"
    return cache_key(**parts)


class Clips:
    """The clips and length models of ``project`` made by ``synth`` (a
    :class:`~dubpreview.tts.base.Synthesizer`), safe to use from synthesis worker threads.
    ``counts`` says how many clips were ``computed`` (synthesized) and ``cached`` (read back)."""

    def __init__(self, project: Project, synth):
        self.project, self.synth = project, synth
        self.counts = {"computed": 0, "cached": 0}
        self._lock = threading.Lock()

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def _stretched(self, speed: float) -> bool:
        return not getattr(self.synth, "native_speed", True) and speed != 1.0

    def path(self, text: str, lang: str, voice: str, speed: float) -> Path:
        """Where the clip of this line at ``speed`` is (or would be) cached."""
        key = clip_key(text, lang, voice, speed, self.synth.model_id, self._stretched(speed))
        return self.project.cache_path("clips", key, "wav")

    def cached(self, text: str, lang: str, voice: str, speed: float) -> tuple[np.ndarray, Path] | None:
        """The clip at ``speed`` when it was made before (float32 mono samples at the
        synthesizer's rate, and its path), else None; never synthesizes."""
        key = clip_key(text, lang, voice, speed, self.synth.model_id, self._stretched(speed))
        hit = self.project.get_audio("clips", key)
        if hit is None:
            return None
        self._count("cached")
        return hit[0], self.project.cache_path("clips", key, "wav")

    def at(self, text: str, lang: str, voice: str, speed: float) -> tuple[np.ndarray, Path]:
        """The clip at ``speed``: read back, or synthesized (natively at that speed; a backend
        without a speed control gets its natural clip time-stretched with atempo) and cached."""
        hit = self.cached(text, lang, voice, speed)
        if hit is not None:
            return hit
        stretched = self._stretched(speed)
        if stretched:
            from dubpreview.timing.stretch import time_stretch

            natural, _ = self.at(text, lang, voice, 1.0)
            samples = time_stretch(natural, self.synth.sample_rate, speed)
        else:
            self._count("computed")
            samples = self.synth.synthesize(text, lang, voice, speed)
        key = clip_key(text, lang, voice, speed, self.synth.model_id, stretched)
        return samples, self.project.put_audio("clips", key, samples, self.synth.sample_rate)

    def length_model(self, text: str, lang: str, voice: str):
        """How long the line will be at any TTS speed (:mod:`dubpreview.tts.durations`): the
        backend's duration predictor where it has one (``length_model``; cached in the
        project, no audio made), else its natural clip synthesized (cached) and measured."""
        from dubpreview.tts.durations import KokoroLength, PowerLawLength

        predict = getattr(self.synth, "length_model", None)
        if predict is not None:
            key = cache_key(text=text, lang=lang, voice=voice, model=self.synth.model_id, predictor=1)
            hit = self.project.get_json("durations", key)
            if hit is not None:
                return KokoroLength.from_dict(hit)
            model = predict(text, lang, voice)
            if model is not None:
                self.project.put_json("durations", key, model.to_dict())
                return model
        samples, _ = self.at(text, lang, voice, 1.0)
        return PowerLawLength(len(samples) / self.synth.sample_rate, getattr(self.synth, "speed_exponent", 1.0))
