"""Choose a speech recognition backend by name: ``get_transcriber("faster-whisper")``.

Backends are created once per (name, options) per process and then shared, so each
model is loaded once. The default is faster-whisper (int8 CTranslate2, the fastest on CPU);
openai-whisper is the PyTorch reference implementation of the same weights.
"""

from __future__ import annotations

import importlib.util
import inspect
import threading
from typing import Any, Callable

from dubpreview.asr.base import Transcriber
from dubpreview.errors import BackendUnavailable, DubError

DEFAULT = "faster-whisper"


def _faster() -> Callable[..., Transcriber]:
    from dubpreview.asr.faster import FasterWhisperTranscriber

    return FasterWhisperTranscriber


def _openai() -> Callable[..., Transcriber]:
    from dubpreview.asr.openai_whisper import OpenAIWhisperTranscriber

    return OpenAIWhisperTranscriber


BACKENDS: dict[str, tuple[str, str, Callable[[], Callable[..., Transcriber]]]] = {
    "faster-whisper": ("faster_whisper", "faster-whisper", _faster),
    "openai-whisper": ("whisper", "openai-whisper", _openai),
}
"""name -> (import name, pip package, factory returning the backend class)."""

_instances: dict[tuple, Transcriber] = {}
_lock = threading.Lock()


def names() -> list[str]:
    """The valid backend names, default first."""
    return list(BACKENDS)


def get_transcriber(name: str = DEFAULT, **opts: Any) -> Transcriber:
    """The shared backend ``name`` built with ``opts`` (e.g. ``cpu_threads=2`` for
    faster-whisper, ``threads=2`` for openai-whisper, ``beam_size=1`` for both).

    Raises:
        DubError: unknown name (the message lists the valid ones) or unknown option.
        BackendUnavailable: the backend's package is not installed (says which to pip install).
    """
    if name not in BACKENDS:
        raise DubError(f"unknown speech recognition backend '{name}'; choose one of: {', '.join(BACKENDS)}")
    module, pip_name, factory = BACKENDS[name]
    if importlib.util.find_spec(module) is None:
        raise BackendUnavailable(f"the {name} backend needs the '{pip_name}' package; pip install {pip_name}")
    key = (name, tuple(sorted(opts.items())))
    with _lock:
        if key not in _instances:
            cls = factory()
            accepted = [p for p in inspect.signature(cls).parameters]
            unknown = sorted(set(opts) - set(accepted))
            if unknown:
                raise DubError(f"unknown option(s) {', '.join(unknown)} for {name}; "
                               f"it accepts: {', '.join(accepted)}")
            _instances[key] = cls(**opts)
        return _instances[key]
