"""What both Whisper backends share: input checks, VAD clips, language-ID audio, and
turning a backend's raw segments into clean :class:`~dubpreview.records.Segment` records.

Both backends decode only the speech regions found by :mod:`dubpreview.asr.vad` (passed
to Whisper as ``clip_timestamps``), so silent audio gives no segments (no hallucinated
text) and a pause of at least ``min_silence_s`` always ends a segment: no segment spans
two regions. Speech translation (with the guards on) decodes the clips joined across short
pauses (:func:`~dubpreview.asr.clips.context_windows`), so that each line is translated with its neighbours.
"""

from __future__ import annotations

import importlib
import threading
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace

import numpy as np

from dubpreview import languages
from dubpreview.asr import vad
from dubpreview.asr.base import SAMPLE_RATE
from dubpreview.asr.clips import DECODE_WINDOW_S, context_windows, decode_windows, language_id_audio
from dubpreview.errors import BackendUnavailable, DubError
from dubpreview.records import Segment, Transcript, Word

TASKS = ("transcribe", "translate")
TRANSLATE_TEMPERATURE = 0.0
"""With the guards off, speech translation decodes at temperature 0 only (the behaviour
before the guards: no fallback, so a loop at temperature 0 stays a loop)."""
FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
"""openai/whisper ``transcribe()``'s temperature schedule: a window whose text compresses
above 2.4 or whose mean log-probability is below -1 is decoded again at the next one."""
TRANSLATE_LOG_PROB_THRESHOLD = None
"""Whisper's mean log-probability test is off for speech translation: Whisper base's
translations of fillets-ng Czech score below -1.0 in most windows, so the test re-decoded
nearly every window through the temperature schedule, 2-4x the time, and the sampled text
scored no better (``bench/content_results.md``, "context windows": map 37.4 -> 37.8 and
cabin1 34.7 -> 34.2 chrF with the test off, 40 -> 19 s and 71 -> 19 s). The compression-ratio
test (loops) and the no-speech test stay on."""
SEED = 0
"""Seed set before every decode (CTranslate2 / torch), so that the sampling of the
temperature fallback gives the same text run after run (without it the same scene
translated differently from run to run: chrF 15.0 and 16.3)."""


@dataclass(frozen=True)
class DecodeOptions:
    """How Whisper decodes (both backends; names as in openai/whisper ``transcribe()``).

    ``beam_size`` 1 = greedy. ``temperatures``: the fallback schedule (one value = none);
    ``compression_ratio_threshold`` / ``log_prob_threshold`` / ``no_speech_threshold``:
    Whisper's own tests of a decoded window (2.4, -1.0, 0.6 are its defaults);
    ``no_repeat_ngram_size`` and ``repetition_penalty``: CTranslate2 decoding constraints
    (faster-whisper only; openai-whisper has no such option and ignores them);
    ``hallucination_silence_threshold``: skip silent stretches of this many seconds around
    a suspected hallucination (openai/whisper PR #1838; needs word timestamps);
    ``max_new_tokens``: longest text one window may decode to (faster-whisper
    ``max_new_tokens``, openai-whisper ``sample_len``; None = the model's 224), which bounds
    what a loop costs (:func:`region_token_budget`).
    """

    beam_size: int = 5
    temperatures: tuple[float, ...] = FALLBACK_TEMPERATURES
    compression_ratio_threshold: float | None = 2.4
    log_prob_threshold: float | None = -1.0
    no_speech_threshold: float | None = 0.6
    no_repeat_ngram_size: int = 0
    repetition_penalty: float = 1.0
    hallucination_silence_threshold: float | None = None
    max_new_tokens: int | None = None

    def for_task(self, task: str, guards: bool) -> "DecodeOptions":
        """The options of one call: with the guards off, translation keeps to temperature 0
        (:data:`TRANSLATE_TEMPERATURE`); with them on, transcription skips silences of 2 s
        around suspected hallucinations, and translation falls back on the compression ratio
        (loops) but not on the mean log-probability (:data:`TRANSLATE_LOG_PROB_THRESHOLD`)."""
        if not guards:
            return replace(self, temperatures=(TRANSLATE_TEMPERATURE,)) if task == "translate" else self
        if task == "transcribe" and self.hallucination_silence_threshold is None:
            return replace(self, hallucination_silence_threshold=HALLUCINATION_SILENCE_S)
        if task == "translate":
            return replace(self, log_prob_threshold=TRANSLATE_LOG_PROB_THRESHOLD)
        return self

    def strict(self) -> "DecodeOptions":
        """The options of a re-decode after a loop or a gap: beam 5, Whisper's fallback,
        no 3-gram twice and a repetition penalty of 1.1 (CTranslate2), and no skipping of a
        window as "no speech" (the VAD said there is speech there)."""
        return replace(self, beam_size=max(self.beam_size, 5), temperatures=FALLBACK_TEMPERATURES,
                       no_repeat_ngram_size=3, repetition_penalty=1.1, no_speech_threshold=None)


REGION_TOKENS_PER_S = 20.0
"""Whisper tokens a second of audio that a re-decoded region may produce: the rate ceiling's
fast speech (:data:`dubpreview.integrity.rate.FAST_CHARS_PER_S`, 20 characters a second)
at two characters a token (Czech and Portuguese words split into more tokens than English
ones), before :data:`REGION_TOKENS_EXTRA`."""
REGION_TOKENS_EXTRA = 16
"""Tokens a re-decoded region may use beyond its share of speech (timestamps, punctuation)."""


def region_token_budget(seconds: float) -> int:
    """The ``max_new_tokens`` of a re-decode of ``seconds`` of audio. Measured on the demo
    scene: a 2.3 s gap whose beam search fell back through the temperatures took 9.5 s
    with the model's own limit; a loop that cannot end is cut here instead."""
    return int(np.ceil(max(0.0, seconds) * REGION_TOKENS_PER_S)) + REGION_TOKENS_EXTRA


WINDOW_TOKENS = 224
"""Most tokens one 30 s window may decode to in a first pass: openai-whisper's default
``sample_len`` (half the text context of 448)."""


def clip_token_budget(seconds: float) -> int:
    """The ``max_new_tokens`` of a first-pass decode of a speech clip of ``seconds``:
    :func:`region_token_budget` of its length, at most :data:`WINDOW_TOKENS` (a clip longer
    than a window gets a window's worth per window)."""
    return min(WINDOW_TOKENS, region_token_budget(seconds))


HALLUCINATION_SILENCE_S = 2.0
"""``hallucination_silence_threshold`` with the guards on (the value openai/whisper's
PR #1838 suggests)."""


@dataclass(frozen=True)
class VadOptions:
    """How speech regions are cut: see :func:`dubpreview.asr.vad.speech_regions` (seconds)."""

    min_silence_s: float = 0.5
    pad_s: float = 0.2
    threshold: float = 0.5


def check_audio(audio: np.ndarray) -> np.ndarray:
    """``audio`` as contiguous float32 of shape ``(n,)`` (16 kHz mono is assumed).

    Raises:
        DubError: not one-dimensional.
    """
    a = np.asarray(audio)
    if a.ndim != 1:
        raise DubError(f"transcription needs mono 16 kHz audio of shape (n,), got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float32)


def check_request(language: str | None, task: str) -> str | None:
    """The Whisper language code for ``language`` (``None`` stays ``None`` = detect).

    Raises:
        DubError: unknown code, a language Whisper does not know, or a task other than
            ``"transcribe"``/``"translate"``.
    """
    if task not in TASKS:
        raise DubError(f"unknown speech recognition task '{task}'; use one of: {', '.join(TASKS)}")
    if language is None:
        return None
    code = languages.normalize(language)
    if code not in languages.WHISPER:
        raise DubError(f"Whisper cannot recognise '{language}' ({languages.name(code)})")
    return code


def speech_clips(audio: np.ndarray, opts: VadOptions) -> list[tuple[float, float]]:
    """Speech regions of ``audio`` in seconds (see :func:`dubpreview.asr.vad.speech_regions`)."""
    return vad.speech_regions(audio, min_silence_s=opts.min_silence_s, pad_s=opts.pad_s,
                              threshold=opts.threshold)


def _clip_of(start: float, end: float, clips: list[tuple[float, float]]) -> tuple[float, float]:
    """The clip holding the middle of ``[start, end]`` (the nearest one when none does)."""
    mid = (start + end) / 2
    return min(clips, key=lambda c: 0.0 if c[0] <= mid <= c[1] else min(abs(mid - c[0]), abs(mid - c[1])))


def _clamp(t: float, lo: float, hi: float) -> float:
    return round(float(min(max(t, lo), hi)), 3)


GUARDS_VERSION = 3
"""Bumped when the guards change what a transcript holds (it is part of the cache key)."""

def _shifted(seg: Segment, dt: float) -> Segment:
    return replace(seg, start=seg.start + dt, end=seg.end + dt,
                   words=[replace(w, start=w.start + dt, end=w.end + dt) for w in seg.words])


def finish_segments(raw: list[Segment], clips: list[tuple[float, float]]) -> list[Segment]:
    """Clean a backend's segments (absolute seconds) into the pipeline's records.

    Text and word texts are stripped; segments with no text are dropped; each segment is
    clamped to the speech clip it belongs to, its words to the segment (so every word lies
    inside its segment and no segment crosses a pause); segments are sorted by start and
    numbered 0..n-1.
    """
    out: list[Segment] = []
    for seg in raw:
        text = seg.text.strip()
        if not text or not clips:
            continue
        lo, hi = _clip_of(seg.start, seg.end, clips)
        start, end = _clamp(seg.start, lo, hi), _clamp(seg.end, lo, hi)
        if seg.words:  # word alignment is finer than Whisper's segment timestamps
            start = _clamp(min(start, seg.words[0].start), lo, hi)
            end = _clamp(max(end, seg.words[-1].end), lo, hi)
        end = max(end, start)
        words = [Word(start=_clamp(w.start, start, end), end=_clamp(max(w.end, w.start), start, end),
                      text=w.text.strip(), probability=float(w.probability))
                 for w in seg.words if w.text.strip()]
        out.append(Segment(id=0, start=start, end=end, text=text, words=words,
                           avg_logprob=seg.avg_logprob, no_speech_prob=seg.no_speech_prob))
    out.sort(key=lambda s: (s.start, s.end))
    for i, seg in enumerate(out):
        seg.id = i
    return out


class ClipWhisperTranscriber(ABC):
    """A Whisper :class:`~dubpreview.asr.base.Transcriber` that decodes only the VAD speech clips.

    :meth:`transcribe` is the one template both backends run; a backend sets ``name``,
    ``package`` (its pip package) and ``model_id``, and implements :meth:`_load`,
    :meth:`detect_language` and :meth:`_decode` (and :meth:`_compute` where it needs more
    than a plain call). The model is loaded lazily, once, under a lock (:meth:`_whisper`).

    Args:
        beam_size: 1 = greedy decoding; larger = beam search.
        condition_on_previous_text: feed the previous clip's text as prompt.
        vad: how speech regions are cut (:class:`VadOptions`).
        guards: Whisper's temperature fallback for translation too, and skipping of
            silences around suspected hallucinations (:meth:`DecodeOptions.for_task`).
        fallback: Whisper's temperature fallback (:data:`FALLBACK_TEMPERATURES`) on the first
            pass; off = temperature 0 only, deterministic (a re-decode by the guards always
            falls back, :meth:`DecodeOptions.strict`).
    """

    name: str
    package: str
    model_id: str

    def __init__(self, beam_size: int, condition_on_previous_text: bool, vad: VadOptions, guards: bool = True,
                 fallback: bool = True):
        self.beam_size = beam_size
        self.guards = guards
        self.fallback = fallback
        self.options = DecodeOptions(beam_size=beam_size,
                                     temperatures=FALLBACK_TEMPERATURES if fallback else (0.0,))
        self.condition_on_previous_text = condition_on_previous_text
        self.vad = vad
        self._model = None
        self._lock = threading.Lock()

    def _import(self, module: str):
        """``module`` imported.

        Raises:
            BackendUnavailable: it is not installed (names :attr:`package` to pip install).
        """
        try:
            return importlib.import_module(module)
        except ImportError:
            raise BackendUnavailable(f"the {self.name} backend needs the '{self.package}' package; "
                                     f"pip install {self.package}") from None

    @abstractmethod
    def _load(self):
        """The backend's model, built (called once, under the lock, by :meth:`_whisper`)."""

    def _whisper(self):
        """The backend's model, loaded on first use (see :meth:`_load` for what it raises)."""
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    @abstractmethod
    def detect_language(self, speech: np.ndarray) -> tuple[str, float]:
        """Spoken language of ``speech`` (float32 ``(n,)``, 16 kHz; its first 30 s are used):
        ISO 639-1 code and probability in [0, 1]."""

    @property
    def options_id(self) -> str:
        """The decoding options in a cache key: a change of beam or guards is a new transcript."""
        return (f"beam{self.beam_size}-guards{int(self.guards)}-v{GUARDS_VERSION if self.guards else 0}"
                + ("" if self.fallback else "-t0"))

    @abstractmethod
    def _decode(self, audio: np.ndarray, language: str, task: str,
                clips: list[tuple[float, float]], options: DecodeOptions) -> list[Segment]:
        """The backend's raw segments (absolute seconds) of ``clips`` (seconds) of ``audio``,
        decoded with ``options``, for :func:`finish_segments`. Each segment carries
        Whisper's ``avg_logprob`` and ``no_speech_prob``."""

    def _decode_budgeted(self, audio: np.ndarray, language: str, task: str, clips: list[tuple[float, float]],
                         options: DecodeOptions) -> list[Segment]:
        """Each clip decoded on its own slice of ``audio`` with ``max_new_tokens`` =
        :func:`clip_token_budget` of its length, raw segments in absolute seconds. Whisper's
        own limit is per window, whatever its speech (faster-whisper: 448 tokens less the
        prompt), so a loop in a short clip ran to it before the compression-ratio test could
        start the fallback: on the demo scene's first clip ("yeah, yeah, ..."), transcription
        took 12.0 s with Whisper's limit and 8.0 s with 128 tokens, with the same words. Only
        the clip's slice is decoded (features of that slice only), so the cost does not grow
        with the scene's length."""
        return [seg for start, end in clips
                for seg in self._decode_slice(audio, language, task, [(start, end)],
                                              replace(options, max_new_tokens=clip_token_budget(end - start)))]

    def _decode_slice(self, audio: np.ndarray, language: str, task: str, clips: list[tuple[float, float]],
                      options: DecodeOptions) -> list[Segment]:
        """:meth:`_decode` of ``clips`` (seconds, sorted) on the slice of ``audio`` from the
        first clip's start to the last one's end only, raw segments shifted back to absolute
        seconds."""
        a = int(clips[0][0] * SAMPLE_RATE)
        b = min(len(audio), int(np.ceil(clips[-1][1] * SAMPLE_RATE)) + 1)
        lo = a / SAMPLE_RATE
        part = self._decode(audio[a:b], language, task, [(cs - lo, ce - lo) for cs, ce in clips], options)
        return [_shifted(seg, lo) for seg in part]

    def decode_region(self, audio: np.ndarray, start: float, end: float, language: str,
                      task: str = "transcribe", strict: bool = True) -> list[Segment]:
        """Decode ``[start, end]`` seconds of ``audio`` (float32 ``(n,)``, 16 kHz) on its own,
        as its own window, ``language`` forced: the re-decode of a loop or of speech the
        first pass left out. ``strict`` uses :meth:`DecodeOptions.strict`. The text is capped
        at :func:`region_token_budget` tokens, and a low mean log-probability does not start
        the temperature fallback here (a loop's compression ratio still does): the region is
        short and the VAD hears speech in it, so a doubtful text is flagged ``low confidence``
        by the guard instead of sampled again. On the demo scene's five re-decodes the
        fallback gave the same words and took 21.7 s instead of 10.9 s. Returns clean
        segments (absolute seconds, see :func:`finish_segments`), ids from 0."""
        audio = check_audio(audio)
        lo = max(0.0, start)
        hi = min(len(audio) / SAMPLE_RATE, end)
        if hi - lo < 0.1:
            return []
        options = self.options.for_task(task, self.guards)
        options = options.strict() if strict else options
        options = replace(options, max_new_tokens=region_token_budget(hi - lo), log_prob_threshold=None)
        with self._compute():
            raw = self._decode(audio, language, task, [(lo, hi)], options)
        return finish_segments(raw, [(lo, hi)])

    def _compute(self) -> AbstractContextManager:
        """The context that language detection and decoding run in (none by default)."""
        return nullcontext()

    def transcribe(self, audio: np.ndarray, language: str | None = None,
                   task: str = "transcribe") -> Transcript:
        """Recognise speech in ``audio`` (float32 ``(n,)``, 16 kHz mono).

        ``language``: ISO 639-1 code, or ``None`` to detect it on the first 30 s of speech.
        ``task``: ``"transcribe"`` or ``"translate"`` (to English). Segment and word times
        are seconds from the start of ``audio``. Words are filled for ``"transcribe"`` only
        (English words of a translation have no position in the source audio).

        Raises:
            DubError: unknown language or task, bad audio shape, missing or corrupted weights.
            BackendUnavailable: the backend's package (:attr:`package`) is not installed.
        """
        audio = check_audio(audio)
        language = check_request(language, task)
        duration = len(audio) / SAMPLE_RATE
        clips = speech_clips(audio, self.vad)
        if not clips:
            return Transcript(language=language or "und", language_probability=1.0 if language else 0.0,
                              segments=[], duration=duration)
        with self._compute():
            probability = 1.0
            if language is None:
                language, probability = self.detect_language(language_id_audio(audio, clips))
            options = self.options.for_task(task, self.guards)
            if task == "translate" and self.guards:  # in context (clips.CONTEXT_GAP_S)
                clips = context_windows(clips)
            if self.guards and options.max_new_tokens is None:  # each clip its own token budget
                raw = self._decode_budgeted(audio, language, task, clips, options)
            elif duration <= DECODE_WINDOW_S:
                raw = self._decode(audio, language, task, clips, options)
            else:  # long scene: bounded feature memory, see DECODE_WINDOW_S
                raw = [seg for _lo, _hi, group in decode_windows(clips)
                       for seg in self._decode_slice(audio, language, task, group, options)]
        return Transcript(language=language, language_probability=probability,
                          segments=finish_segments(raw, clips), duration=duration)
