"""The separation interface: a scene's audio in, a dialogue stem and a music-and-effects bed out.

Every :class:`Separator` takes the scene's audio in its own channel layout (mono, stereo or
5.1, float32 at any rate) and returns :class:`Stems`: a stereo dialogue estimate and a stereo
bed (music and effects) at the same rate and exactly the same length, with
``dialogue + bed == stereo downmix of the input`` (up to float rounding), so nothing is lost
or added by splitting. The stereo downmix of every layout is :func:`to_stereo`.

Chunked processing (:func:`process_chunked`) keeps memory bounded on long scenes: each chunk
is separated on its own and neighbouring chunks are cross-faded over their overlap.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from dubpreview.errors import DubError

CENTRE_GAIN = 10 ** (-3 / 20)
"""-3 dB (0.7071): the ITU-R BS.775 downmix coefficient of the centre and surround channels."""


@dataclass
class Stems:
    """The result of separation.

    ``dialogue`` and ``bed``: float32, shape ``(n, 2)``, at ``rate`` Hz, the same length as
    the input; ``method``: the separator that actually ran (``"spleeter"``, ``"centre"``,
    ``"none"``); ``notes``: one-line messages for the user (a fallback, a layout).
    """

    dialogue: np.ndarray
    bed: np.ndarray
    rate: int
    method: str
    notes: list[str] = field(default_factory=list)

    @property
    def separated(self) -> bool:
        """True when the bed is a real music-and-effects estimate (not the full mix)."""
        return self.method != "none"


def as_channels(audio: np.ndarray) -> np.ndarray:
    """``audio`` as float32 of shape ``(n, channels)`` (a mono ``(n,)`` becomes ``(n, 1)``).

    Raises:
        DubError: the array is empty, not 1-D/2-D, or has 3-5 or more than 8 channels.
    """
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] == 0:
        raise DubError(f"separation needs audio of shape (n,) or (n, channels), got shape {np.shape(audio)}")
    if a.shape[1] not in (1, 2, 6, 8):
        raise DubError(f"separation reads mono, stereo, 5.1 or 7.1 audio, not {a.shape[1]} channels")
    return a


def to_stereo(audio: np.ndarray) -> np.ndarray:
    """The stereo downmix, shape ``(n, 2)`` float32, of mono, stereo, 5.1 or 7.1 audio.

    Mono is copied to both sides; 5.1 (FFmpeg order FL FR FC LFE SL SR) and 7.1 (FL FR FC
    LFE BL BR SL SR) use the ITU-R BS.775 matrix L = FL + 0.707 FC + 0.707 (surrounds on the
    left), LFE dropped, scaled by ``1 / (1 + 2 * 0.707)`` so it cannot clip (as FFmpeg's
    swresample normalises its matrix).
    """
    a = as_channels(audio)
    if a.shape[1] == 1:
        return np.repeat(a, 2, axis=1)
    if a.shape[1] == 2:
        return a
    return surround_bed(a) + centre_dialogue(a)


def _norm() -> float:
    return 1.0 / (1.0 + 2 * CENTRE_GAIN)


def surround_bed(a: np.ndarray) -> np.ndarray:
    """The stereo downmix of a 5.1/7.1 input without its centre channel, shape ``(n, 2)``."""
    left = a[:, 0] + CENTRE_GAIN * a[:, 4::2].sum(axis=1)
    right = a[:, 1] + CENTRE_GAIN * a[:, 5::2].sum(axis=1)
    return (np.stack([left, right], axis=1) * _norm()).astype(np.float32)


def centre_dialogue(a: np.ndarray) -> np.ndarray:
    """The centre channel of a 5.1/7.1 input as it sits in the stereo downmix, shape ``(n, 2)``."""
    c = a[:, 2] * (CENTRE_GAIN * _norm())
    return np.stack([c, c], axis=1).astype(np.float32)


class Separator(ABC):
    """One way to split a scene into dialogue and music-and-effects.

    Subclasses set ``name`` and implement :meth:`separate`. They are stateless apart from
    lazily loaded models, so one instance may serve many scenes.
    """

    name: str = ""

    @abstractmethod
    def separate(self, audio: np.ndarray, rate: int) -> Stems:
        """Split ``audio`` (float32, shape ``(n,)`` or ``(n, channels)`` with 1, 2, 6 or 8
        channels, at ``rate`` Hz) into :class:`Stems` of the same length and rate."""

    def supports(self, channels: int) -> str | None:
        """None when this separator can handle ``channels``; else why not, in one sentence."""
        return None

    def bed_blocks(self, reader, rate: int, notes: list[str]) -> Iterator[np.ndarray]:
        """The stereo bed of the audio ``reader`` holds (``read(lo, hi)``, ``frames``, in its
        own layout, at ``rate`` Hz), yielded in consecutive float32 ``(m, 2)`` pieces that
        together cover the scene; the user notes go into ``notes``. This default separates
        the whole scene at once (:meth:`separate`); a separator that works chunk by chunk
        overrides it so that only a chunk is held (:class:`~dubpreview.separate.spleeter.SpleeterSeparator`)."""
        stems = self.separate(reader.read(0, reader.frames), rate)
        notes.extend(stems.notes)
        bed = stems.bed
        del stems
        for s in range(0, len(bed), 1 << 20):
            yield bed[s:s + (1 << 20)]


class NoSeparator(Separator):
    """No separation: the bed is the whole original mix and the dialogue stem is silent.

    The mix then ducks the original under each dub line (the behaviour before separation).
    """

    name = "none"

    def separate(self, audio: np.ndarray, rate: int) -> Stems:
        """Stems of ``audio`` (float32 ``(n,)`` or ``(n, c)`` at ``rate`` Hz): the stereo
        downmix as the bed, silence as the dialogue."""
        stereo = to_stereo(audio)
        return Stems(np.zeros_like(stereo), stereo.copy(), rate, self.name)


def process_chunked(audio: np.ndarray, chunk: int, overlap: int,
                    fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply ``fn`` to overlapping chunks of ``audio`` (float32 ``(n, c)``) and cross-fade
    the results: :func:`process_stream` gathered into one float32 ``(n, c_out)`` array."""
    out: np.ndarray | None = None
    pos = 0
    for piece in process_stream(lambda a, b: audio[a:b], len(audio), chunk, overlap, fn):
        if out is None:
            out = np.empty((len(audio), piece.shape[1]), dtype=np.float32)
        out[pos: pos + len(piece)] = piece
        pos += len(piece)
    return out


def process_stream(read: Callable[[int, int], np.ndarray], n: int, chunk: int, overlap: int,
                   fn: Callable[[np.ndarray], np.ndarray]) -> Iterator[np.ndarray]:
    """Apply ``fn`` to overlapping chunks of the ``n`` samples ``read(lo, hi)`` gives and
    cross-fade the results, yielding the output in consecutive pieces as each is final.

    Args:
        read: samples ``[lo, hi)`` as float32 ``(hi - lo, c)``.
        n: samples in all.
        chunk: samples per chunk (> ``2 * overlap``).
        overlap: samples shared by neighbouring chunks; the outputs are joined with
            complementary raised-cosine fades over this span (gains sum to one).
        fn: maps a chunk of shape ``(m, c)`` to an array of shape ``(m, c_out)``.
    Yields:
        float32 pieces ``(m, c_out)`` covering ``0..n`` in order. Memory: one chunk's work
        and one overlap carried to the next chunk.
    """
    if n <= chunk:
        yield np.asarray(fn(read(0, n)), dtype=np.float32)
        return
    if chunk <= 2 * overlap:
        raise ValueError(f"chunk ({chunk}) must exceed twice the overlap ({overlap})")
    step = chunk - overlap
    fade_in = (0.5 - 0.5 * np.cos(np.pi * (np.arange(overlap) + 0.5) / overlap)).astype(np.float32)
    carry: np.ndarray | None = None  # the previous chunk's faded output over this chunk's first samples
    start = 0
    while True:
        end = min(n, start + chunk)
        est = np.asarray(fn(read(start, end)), dtype=np.float32)
        w = np.ones(end - start, dtype=np.float32)
        if start > 0:
            w[:overlap] = fade_in
        if end < n:
            w[-overlap:] = fade_in[::-1]
        est = est * w[:, None]
        if carry is not None:
            est[:overlap] += carry
        if end == n:
            yield est
            return
        yield est[: len(est) - overlap]
        carry = est[len(est) - overlap:]
        start += step
