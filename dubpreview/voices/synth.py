"""A synthesizer that speaks with matched voices as well as the named ones.

:class:`MatchedSynthesizer` wraps a :class:`~dubpreview.tts.kokoro.KokoroSynthesizer`:
a voice id of a registered :class:`~dubpreview.voices.profile.VoiceChoice` (``match-…``)
speaks with that choice's style-vector blend and then goes through its WORLD pitch map
and formant warp (same length, so timing is unchanged); any other voice name goes to the
wrapped synthesizer as before. Everything else (``units``, ``languages``, ``model_id``,
``speed_exponent``, …) is the wrapped synthesizer's.
"""

from __future__ import annotations

import numpy as np

from dubpreview.voices.profile import VoiceChoice


class MatchedSynthesizer:
    """Synthesizer with matched voices; see the module docstring."""

    def __init__(self, base, choices: list[VoiceChoice] | None = None):
        self.base = base
        self.choices: dict[str, VoiceChoice] = {}
        for c in choices or []:
            self.register(c)

    def register(self, choice: VoiceChoice) -> str:
        """Make ``choice`` speakable; returns its voice id."""
        from dubpreview.voices.bank import blend

        vid = choice.voice_id
        if vid not in self.choices:
            self.base.add_voice(vid, blend(self.base, list(choice.weights), np.array(list(choice.weights.values()))))
            self.choices[vid] = choice
        return vid

    def __getattr__(self, name):  # name, sample_rate, model_id, units, languages, ...
        return getattr(self.base, name)

    def synthesize(self, text: str, language: str, voice: str, speed: float = 1.0) -> np.ndarray:
        """Speak ``text``: float32 mono at the base's rate (24 kHz for Kokoro)."""
        samples = self.base.synthesize(text, language, voice, speed)
        choice = self.choices.get(voice)
        if choice is None or samples.size == 0:
            return samples
        from dubpreview.voices import world

        return world.apply(samples, self.base.sample_rate, choice.transform)

    def synthesize_many(self, jobs: list[tuple[str, str, str, float]]) -> list[np.ndarray]:
        """:meth:`synthesize` for each ``(text, language, voice, speed)``, the base's
        ``workers`` at a time, in order (WORLD included: the base's own would skip it)."""
        from dubpreview.tts.kokoro import parallel_map

        return parallel_map(lambda job: self.synthesize(*job), jobs, getattr(self.base, "workers", 1))
