"""Whisper base through faster-whisper (CTranslate2, int8 on CPU): the default backend.

The weights are the registry's CTranslate2 folder (:func:`dubpreview.models.registry.whisper_base_dir`,
verified by sha256). Only the Silero VAD speech regions are decoded (``clip_timestamps``),
with word timestamps from Whisper's cross-attention alignment heads.
"""

from __future__ import annotations

import threading

import numpy as np

from dubpreview.asr import common
from dubpreview.asr.base import SAMPLE_RATE
from dubpreview.errors import BackendUnavailable
from dubpreview.models import registry
from dubpreview.records import Segment, Transcript, Word


class FasterWhisperTranscriber:
    """:class:`~dubpreview.asr.base.Transcriber` on faster-whisper.

    Args:
        cpu_threads: CTranslate2 intra-op threads (the model is loaded lazily with them).
        beam_size: 1 = greedy decoding (fast); 5 = Whisper's beam search.
        condition_on_previous_text: feed the previous clip's text as prompt (off by
            default: it lets one misrecognition or loop leak into the next lines).
        vad: how speech regions are cut (:class:`~dubpreview.asr.common.VadOptions`).
    """

    name = "faster-whisper"

    def __init__(self, cpu_threads: int = 2, beam_size: int = 1, condition_on_previous_text: bool = False,
                 vad: common.VadOptions = common.VadOptions()):
        self.cpu_threads = cpu_threads
        self.beam_size = beam_size
        self.condition_on_previous_text = condition_on_previous_text
        self.vad = vad
        self.model_id = "whisper-base-ct2-" + registry.SOURCES["whisper-base"].sha256[:12]
        self._model = None
        self._lock = threading.Lock()

    def _whisper(self):
        """The ``faster_whisper.WhisperModel``, loaded on first use.

        Raises:
            BackendUnavailable: faster-whisper is not installed.
            DubError: the registry weights are missing or corrupted.
        """
        with self._lock:
            if self._model is None:
                try:
                    from faster_whisper import WhisperModel
                except ImportError:
                    raise BackendUnavailable("the faster-whisper backend needs the 'faster-whisper' package; "
                                             "pip install faster-whisper") from None
                self._model = WhisperModel(str(registry.whisper_base_dir()), device="cpu", compute_type="int8",
                                           cpu_threads=self.cpu_threads, num_workers=1)
            return self._model

    def detect_language(self, speech: np.ndarray) -> tuple[str, float]:
        """Spoken language of ``speech`` (float32 ``(n,)``, 16 kHz; its first 30 s are used):
        ISO 639-1 code and probability in [0, 1]."""
        language, probability, _ = self._whisper().detect_language(audio=speech)
        return language, float(probability)

    def transcribe(self, audio: np.ndarray, language: str | None = None,
                   task: str = "transcribe") -> Transcript:
        """Recognise speech in ``audio`` (float32 ``(n,)``, 16 kHz mono).

        ``language``: ISO 639-1 code, or ``None`` to detect it on the first 30 s of speech.
        ``task``: ``"transcribe"`` or ``"translate"`` (to English). Segment and word times
        are seconds from the start of ``audio``. Words are filled for ``"transcribe"`` only
        (English words of a translation have no position in the source audio).

        Raises:
            DubError: unknown language or task, bad audio shape, missing weights.
            BackendUnavailable: faster-whisper is not installed.
        """
        audio = common.check_audio(audio)
        language = common.check_request(language, task)
        duration = len(audio) / SAMPLE_RATE
        clips = common.speech_clips(audio, self.vad)
        if not clips:
            return Transcript(language=language or "und", language_probability=1.0 if language else 0.0,
                              segments=[], duration=duration)
        probability = 1.0
        if language is None:
            language, probability = self.detect_language(common.language_id_audio(audio, clips))
        segments, _info = self._whisper().transcribe(
            audio, language=language, task=task, beam_size=self.beam_size, word_timestamps=task == "transcribe",
            clip_timestamps=common.flat_clips(clips), vad_filter=False,
            condition_on_previous_text=self.condition_on_previous_text)
        raw = [Segment(id=0, start=s.start, end=s.end, text=s.text,
                       words=[Word(w.start, w.end, w.word, w.probability) for w in (s.words or [])])
               for s in segments]
        return Transcript(language=language, language_probability=probability,
                          segments=common.finish_segments(raw, clips), duration=duration)
