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


def _stems_key(project, requested: str, method: str, channels: int, rate: int) -> str:
    from dubpreview.project.store import cache_key

    return cache_key(source=project.audio_id, requested=requested, method=method,
                     channels=channels, rate=rate, version=VERSION)


def separate_scene(project, scene: np.ndarray, rate: int, requested: str, threads: int = 1,
                   keep_dialogue: bool = True) -> SceneStems:
    """Separate ``scene`` (float32 ``(n, channels)`` at ``rate`` Hz) with the method
    :func:`~dubpreview.separate.choose` picks for ``requested``, through the project cache.
    ``keep_dialogue=False``: ``stems.dialogue`` is left None (one whole-scene array less).

    ``project`` is a :class:`~dubpreview.project.store.Project`. Raises DubError for an
    unknown method.
    """
    original = to_stereo(scene)
    method, notes = choose(requested, scene.shape[1])
    if method == "none":
        silent = np.zeros(original.shape, np.float32)  # calloc: untouched pages take no memory
        return SceneStems(Stems(silent, original, rate, "none", notes), original, None, False)
    key = _stems_key(project, requested, method, scene.shape[1], rate)
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
    stems.dialogue = np.subtract(original, stems.bed, dtype=np.float32) if keep_dialogue else None
    project.put_json("separate", key, {"method": stems.method, "notes": stems.notes,
                                       "bed_speech": [round(float(p), 4) for p in probs]})
    return SceneStems(stems, original, probs, False)


def scene_audio_file(project, src: str | Path, info, rate: int, stream_index: int | None = None) -> Path:
    """The scene's audio stream ``stream_index`` at ``rate`` Hz in its own layout (as
    :func:`load_scene_audio`), as a 32-bit float WAV cached in the project
    (``cache/scene/``, checked by hash): decoded once a block at a time
    (:func:`~dubpreview.media.extract.decode_to_wav`), then read a block at a time by the
    render (:class:`~dubpreview.media.wav.WavReader`). It costs 0.37 MB of disk per second
    of stereo."""
    from dubpreview.media.extract import decode_to_wav
    from dubpreview.project.store import cache_key

    channels = info.audio_stream(stream_index).channels or 2
    want = 1 if channels == 1 else 6 if channels >= 6 else 2
    key = cache_key(source=project.audio_id, stream=stream_index, rate=rate, channels=want, version=1)
    path = project.audio_path("scene", key)
    if path is None:
        path = project.put_audio_file("scene", key, lambda tmp: decode_to_wav(src, tmp, rate, want, stream_index))
    return path


@dataclass
class SceneFiles:
    """The separation stage's result as files, for a render that streams them: ``scene`` the
    cached scene audio (own layout), ``bed`` the music-and-effects WAV (the scene itself when
    nothing was separated), ``method``/``notes`` as in :class:`~dubpreview.separate.base.Stems`,
    ``bed_speech`` the bed's speech probability per 32 ms window (None when not separated),
    ``cached`` whether the stems came from the project cache."""

    scene: Path
    bed: Path
    method: str
    notes: list[str]
    bed_speech: np.ndarray | None
    cached: bool

    @property
    def separated(self) -> bool:
        """True when the bed is a real music-and-effects estimate (not the full mix)."""
        return self.method != "none"

    def original(self):
        """A reader of the scene's stereo downmix (:func:`~dubpreview.separate.base.to_stereo`)."""
        from dubpreview.media.wav import WavReader

        return WavReader(self.scene, transform=to_stereo, channels=2)

    def bed_reader(self):
        """A reader of the stereo bed (the downmix of the scene when not separated)."""
        from dubpreview.media.wav import WavReader

        return WavReader(self.bed) if self.separated else self.original()


def separate_scene_file(project, scene: Path, rate: int, requested: str, threads: int = 1) -> SceneFiles:
    """:func:`separate_scene` of the cached scene audio ``scene`` (a WAV at ``rate`` Hz, see
    :func:`scene_audio_file`), giving files. A cached bed is only checked (by hash and
    length), never loaded; otherwise the separator's :meth:`~dubpreview.separate.base.Separator.bed_blocks`
    writes the bed into the cache piece by piece (spleeter holds one chunk; the centre cut
    still separates the whole scene at once). The bed's speech probabilities come from its
    16 kHz downmix, gathered piece by piece (each piece resampled on its own). The entry is
    the same one :func:`separate_scene` reads. Raises DubError for an unknown method."""
    import soundfile as sf

    info = sf.info(str(scene))
    method, notes = choose(requested, info.channels)
    if method == "none":
        return SceneFiles(scene, scene, "none", notes, None, False)
    key = _stems_key(project, requested, method, info.channels, rate)
    meta = project.get_json("separate", key)
    bed = project.audio_path("separate", f"{key}-bed") if meta else None
    if bed is not None:
        b = sf.info(str(bed))
        if b.samplerate == rate and b.frames == info.frames:
            return SceneFiles(scene, bed, meta["method"], list(meta["notes"]),
                              np.asarray(meta["bed_speech"], dtype=np.float32), True)
    from scipy.signal import resample_poly

    from dubpreview.asr.vad import speech_probabilities
    from dubpreview.media.wav import WavReader

    separator = get_separator(method, threads)
    notes = list(notes)
    g = np.gcd(rate, 16000)
    mono: list[np.ndarray] = []  # the bed's downmix at 16 kHz for the VAD: 64 kB per second of scene

    def pieces(reader):
        for piece in separator.bed_blocks(reader, rate, notes):
            mono.append(np.clip(resample_poly(piece.mean(axis=1), 16000 // g, rate // g), -1, 1).astype(np.float32))
            yield piece

    with WavReader(scene) as reader:  # the bed written as it is separated, a piece at a time
        bed = project.put_audio_blocks("separate", f"{key}-bed", pieces(reader), rate, 2)
    probs = speech_probabilities(np.concatenate(mono))
    mono.clear()
    project.put_json("separate", key, {"method": method, "notes": notes,
                                       "bed_speech": [round(float(p), 4) for p in probs]})
    return SceneFiles(scene, bed, method, notes, probs, False)
