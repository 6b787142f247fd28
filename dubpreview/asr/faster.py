"""Whisper base through faster-whisper (CTranslate2, int8 on CPU): the default backend.

The weights are the registry's CTranslate2 folder (:func:`dubpreview.models.registry.whisper_base_dir`,
verified by sha256). Only the Silero VAD speech regions are decoded (``clip_timestamps``),
with word timestamps from Whisper's cross-attention alignment heads.
"""

from __future__ import annotations

import numpy as np

from dubpreview.asr import common
from dubpreview.asr.clips import flat_clips
from dubpreview.models import registry
from dubpreview.records import Segment, Word


class FasterWhisperTranscriber(common.ClipWhisperTranscriber):
    """:class:`~dubpreview.asr.base.Transcriber` on faster-whisper.

    Args:
        cpu_threads: CTranslate2 intra-op threads (the model is loaded lazily with them).
        beam_size: 1 = greedy decoding; 5 = Whisper's beam search (the default: on 142 s of
            speech it cost 39 s against greedy's 37 s, ``shared/models.md``; the content
            bench, ``bench/content_results.md``, compares the words).
        condition_on_previous_text: feed the previous clip's text as prompt (off by
            default: it lets one misrecognition or loop leak into the next lines).
        vad: how speech regions are cut (:class:`~dubpreview.asr.common.VadOptions`).
        guards: see :class:`~dubpreview.asr.common.ClipWhisperTranscriber`.
    """

    name = "faster-whisper"
    package = "faster-whisper"

    def __init__(self, cpu_threads: int = 2, beam_size: int = 5, condition_on_previous_text: bool = False,
                 vad: common.VadOptions = common.VadOptions(), guards: bool = True, fallback: bool = True):
        super().__init__(beam_size, condition_on_previous_text, vad, guards, fallback)
        self.cpu_threads = cpu_threads
        self.model_id = "whisper-base-ct2-" + registry.SOURCES["whisper-base"].sha256[:12]

    def _load(self):
        """The ``faster_whisper.WhisperModel`` (int8, CPU, ``cpu_threads``).

        Raises:
            BackendUnavailable: faster-whisper is not installed.
            DubError: the registry weights are missing or corrupted.
        """
        faster_whisper = self._import("faster_whisper")
        return faster_whisper.WhisperModel(str(registry.whisper_base_dir()), device="cpu", compute_type="int8",
                                           cpu_threads=self.cpu_threads, num_workers=1)

    def detect_language(self, speech: np.ndarray) -> tuple[str, float]:
        """Spoken language of ``speech`` (float32 ``(n,)``, 16 kHz; its first 30 s are used):
        ISO 639-1 code and probability in [0, 1]."""
        language, probability, _ = self._whisper().detect_language(audio=speech)
        return language, float(probability)

    def _decode(self, audio: np.ndarray, language: str, task: str, clips: list[tuple[float, float]],
                options: common.DecodeOptions) -> list[Segment]:
        import ctranslate2

        flat = flat_clips(clips, len(audio))
        if not flat:  # nothing of a whole mel frame left to decode
            return []
        ctranslate2.set_random_seed(common.SEED)  # the fallback's sampling, reproducible
        segments, _info = self._whisper().transcribe(
            audio, language=language, task=task, beam_size=options.beam_size, word_timestamps=task == "transcribe",
            clip_timestamps=flat, vad_filter=False,
            condition_on_previous_text=self.condition_on_previous_text,
            temperature=list(options.temperatures), compression_ratio_threshold=options.compression_ratio_threshold,
            log_prob_threshold=options.log_prob_threshold, no_speech_threshold=options.no_speech_threshold,
            no_repeat_ngram_size=options.no_repeat_ngram_size, repetition_penalty=options.repetition_penalty,
            max_new_tokens=options.max_new_tokens,
            hallucination_silence_threshold=options.hallucination_silence_threshold if task == "transcribe" else None)
        return [Segment(id=0, start=s.start, end=s.end, text=s.text,
                        words=[Word(w.start, w.end, w.word, w.probability) for w in (s.words or [])],
                        avg_logprob=float(s.avg_logprob), no_speech_prob=float(s.no_speech_prob))
                for s in segments]
