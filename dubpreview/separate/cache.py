"""Separation as a pipeline stage: the scene's audio in its own layout, stems cached in the project.

The stems are cached under ``cache/separate/`` of the project, named by the hash of the
source file, the method asked for, the method run and :data:`~dubpreview.separate.VERSION`,
so a warm re-render (a translation or timing edit) never separates again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dubpreview.separate import VERSION, choose, get_separator
from dubpreview.separate.base import Stems, to_stereo


@dataclass
class SceneStems:
    """The stage's result: ``stems`` (see :class:`~dubpreview.separate.base.Stems`),
    ``original`` the stereo downmix ``(n, 2)`` float32 at the stems' rate, ``bed_speech``
    the bed's Silero speech probability per 32 ms window (None when not separated), and
    ``cached`` whether the stems came from the project cache."""

    stems: Stems
    original: np.ndarray
    bed_speech: np.ndarray | None
    cached: bool


def load_scene_audio(src: str | Path, info, rate: int, stream_index: int | None = None) -> np.ndarray:
    """The scene's audio stream ``stream_index`` (container index; None = the first) at
    ``rate`` Hz in its own layout: float32 ``(n, 1)`` mono, ``(n, 2)`` stereo, or ``(n, 6)``
    5.1 for 6 or more channels (7.1 is folded to 5.1 by ffmpeg, the centre kept apart);
    3-5 channels are downmixed to stereo."""
    from dubpreview.media.extract import load_audio

    channels = info.audio_stream(stream_index).channels or 2
    want = 1 if channels == 1 else 6 if channels >= 6 else 2
    samples = load_audio(src, sample_rate=rate, channels=want, stream_index=stream_index).samples
    return samples[:, None] if samples.ndim == 1 else samples


def bed_speech_probabilities(bed: np.ndarray, rate: int) -> np.ndarray:
    """Silero VAD speech probability per 32 ms window (16 kHz) of the bed's downmix."""
    from scipy.signal import resample_poly

    from dubpreview.asr.vad import speech_probabilities

    g = np.gcd(rate, 16000)
    mono = np.clip(resample_poly(bed.mean(axis=1), 16000 // g, rate // g), -1, 1).astype(np.float32)
    return speech_probabilities(mono)


def separate_scene(project, scene: np.ndarray, rate: int, requested: str, threads: int = 1) -> SceneStems:
    """Separate ``scene`` (float32 ``(n, channels)`` at ``rate`` Hz) with the method
    :func:`~dubpreview.separate.choose` picks for ``requested``, through the project cache.

    ``project`` is a :class:`~dubpreview.project.store.Project`. Raises DubError for an
    unknown method.
    """
    from dubpreview.project.store import cache_key

    original = to_stereo(scene)
    method, notes = choose(requested, scene.shape[1])
    if method == "none":
        silent = np.zeros(original.shape, np.float32)  # calloc: untouched pages take no memory
        return SceneStems(Stems(silent, original, rate, "none", notes), original, None, False)
    key = cache_key(source=project.audio_id, requested=requested, method=method,
                    channels=scene.shape[1], rate=rate, version=VERSION)
    meta = project.get_json("separate", key)
    bed = project.get_audio("separate", f"{key}-bed") if meta else None
    if meta and bed is not None and bed[1] == rate and len(bed[0]) == len(original):
        cached_bed = bed[0].astype(np.float32, copy=False)
        stems = Stems(np.subtract(original, cached_bed, dtype=np.float32), cached_bed, rate,
                      meta["method"], list(meta["notes"]))
        return SceneStems(stems, original, np.asarray(meta["bed_speech"], dtype=np.float32), True)
    stems = get_separator(method, threads).separate(scene, rate)
    stems.notes = notes + stems.notes
    stems.dialogue = None  # freed: remade below exactly as a cached run derives it
    probs = bed_speech_probabilities(stems.bed, rate)
    project.put_audio("separate", f"{key}-bed", stems.bed, rate)
    # the dialogue exactly as a cached run derives it, so a re-render mixes the same samples
    stems.dialogue = np.subtract(original, stems.bed, dtype=np.float32)
    project.put_json("separate", key, {"method": stems.method, "notes": stems.notes,
                                       "bed_speech": [round(float(p), 4) for p in probs]})
    return SceneStems(stems, original, probs, False)
