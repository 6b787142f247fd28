"""Speaker embeddings with Resemblyzer's GE2E encoder.

Model: the d-vector LSTM of Wan et al., "Generalized End-to-End Loss for Speaker
Verification" (GE2E, ICASSP 2018), as trained and shipped by Resemblyzer 0.1.4
(``resemblyzer/pretrained.pt`` inside the PyPI wheel, Apache-2.0): 40-channel log-mel
frames (25 ms window, 10 ms hop, 16 kHz) -> 3 x 256 LSTM -> 256-dim L2-normalised
embedding. Same-speaker embeddings score a cosine of about 0.85-0.93 on this machine's
test clips, different real speakers 0.53-0.85 (see ``../shared/models.md``).

The encoder is loaded once per process, lazily; torch runs with the thread count asked.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass

import numpy as np

from dubpreview.errors import BackendUnavailable, DubError
from dubpreview.records import mono_float32

SAMPLE_RATE = 16000
"""The encoder's input rate in Hz."""
FRAME_S = 0.01
"""Mel hop in seconds."""
EMBED_DIM = 256

_encoder = None
_lock = threading.Lock()


def encoder(threads: int = 2):
    """The process-wide Resemblyzer ``VoiceEncoder`` on the CPU.

    Raises:
        BackendUnavailable: resemblyzer (or torch) is not installed.
    """
    global _encoder
    with _lock:
        if _encoder is None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # webrtcvad's pkg_resources notice
                    import torch
                    from resemblyzer import VoiceEncoder
            except ImportError:
                raise BackendUnavailable("speaker embeddings need the 'resemblyzer' package; "
                                         "pip install resemblyzer 'setuptools<81'") from None
            if torch.get_num_threads() != threads:
                torch.set_num_threads(max(1, threads))
            _encoder = VoiceEncoder(device="cpu", verbose=False)
        return _encoder


def normalize_volume(audio: np.ndarray, target_dbfs: float = -30.0) -> np.ndarray:
    """Scale ``audio`` (float32, shape ``(n,)``) to ``target_dbfs`` RMS, as Resemblyzer's
    ``preprocess_wav`` does before the encoder; silence is returned unchanged."""
    energy = sum(float(np.square(audio[s:s + (1 << 20)], dtype=np.float64).sum()) for s in range(0, audio.size, 1 << 20))
    rms = float(np.sqrt(energy / audio.size)) if audio.size else 0.0
    if rms < 1e-6:
        return audio
    return (audio * (10 ** (target_dbfs / 20) / rms)).astype(np.float32)


_MEL_FB: np.ndarray | None = None


MEL_CHUNK = 16384
"""Frames (164 s) whose FFTs are computed at once in :func:`mel_frames`: the float64 work of
a whole hour at once was 2.2 GB (the diarization stage's peak on the hour scene)."""


def mel_frames(audio: np.ndarray) -> np.ndarray:
    """Mel power frames the encoder reads: shape ``(n_frames, 40)`` float32, one per 10 ms of
    16 kHz ``audio`` (shape ``(n,)``), after volume normalisation.

    The same numbers as Resemblyzer's ``wav_to_mel_spectrogram`` (librosa's
    ``melspectrogram``: 25 ms Hann window, centred frames zero-padded, Slaney mel
    filters, power 2), computed with numpy: librosa's own path costs several seconds of
    JIT warm-up per process.
    """
    global _MEL_FB
    audio = mono_float32(audio, "speaker embeddings")
    if audio.size < 400:
        return np.zeros((0, 40), np.float32)
    if _MEL_FB is None:
        import librosa.filters

        _MEL_FB = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=400, n_mels=40).astype(np.float64)
    n_fft, hop = 400, 160
    x = np.pad(normalize_volume(audio).astype(np.float32, copy=False), (n_fft // 2, n_fft // 2))
    n = 1 + (len(x) - n_fft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop][:n]
    window = np.hanning(n_fft + 1)[:-1]
    out = np.empty((n, 40), np.float32)
    for f in range(0, n, MEL_CHUNK):  # float64 work a chunk of frames at a time (each frame is its own)
        power = np.abs(np.fft.rfft(frames[f:f + MEL_CHUNK].astype(np.float64) * window, axis=1)) ** 2
        out[f:f + MEL_CHUNK] = power @ _MEL_FB.T
    return out


def embed_mels(mels: np.ndarray, threads: int = 2) -> np.ndarray:
    """Embeddings of a batch of equal-length mel windows.

    Args:
        mels: float32, shape ``(batch, frames, 40)``.

    Returns:
        float32, shape ``(batch, 256)``, each row L2-normalised.
    """
    import torch

    if len(mels) == 0:
        return np.zeros((0, EMBED_DIM), np.float32)
    enc = encoder(threads)
    with torch.no_grad():
        out = enc(torch.from_numpy(np.ascontiguousarray(mels, dtype=np.float32))).cpu().numpy()
    return out.astype(np.float32)


def embed_audio(audio: np.ndarray, threads: int = 2, hop_s: float = 0.8) -> np.ndarray:
    """One utterance-level embedding of 16 kHz mono ``audio`` (shape ``(n,)``): the
    L2-normalised mean of 1.6 s partial embeddings every ``hop_s`` seconds (GE2E's
    inference recipe uses 0.8 s; the voice bank uses 1.6 s, half the work).

    Returns:
        float32, shape ``(256,)``.

    Raises:
        DubError: the audio is not 1-D or shorter than 0.1 s.
    """
    mel = mel_frames(audio)
    if len(mel) < 10:
        raise DubError("a speaker embedding needs at least 0.1 s of audio")
    win, hop = 160, max(1, int(round(hop_s / FRAME_S)))
    if len(mel) <= win:
        parts = mel[None]
    else:
        starts = list(range(0, len(mel) - win + 1, hop))
        if starts[-1] + win < len(mel):
            starts.append(len(mel) - win)
        parts = np.stack([mel[s:s + win] for s in starts])
    e = embed_mels(parts, threads).mean(axis=0)
    return (e / (np.linalg.norm(e) + 1e-9)).astype(np.float32)


@dataclass
class Windows:
    """Embeddings of overlapping windows over the speech of a scene.

    ``starts``/``ends``: window spans in seconds, shape ``(n,)``; ``embeddings``: float32
    ``(n, 256)``, L2-normalised; ``regions``: the speech regions (seconds) they cover.
    """

    starts: np.ndarray
    ends: np.ndarray
    embeddings: np.ndarray
    regions: list[tuple[float, float]]

    @property
    def centers(self) -> np.ndarray:
        """Window midpoints in seconds, shape ``(n,)``."""
        return (self.starts + self.ends) / 2


def embed_windows(audio: np.ndarray, regions: list[tuple[float, float]], window_s: float = 1.5,
                  hop_s: float = 0.25, threads: int = 2) -> Windows:
    """Embed sliding windows of ``window_s`` seconds every ``hop_s`` seconds inside each
    speech region of 16 kHz mono ``audio``. A region shorter than a window gets one window
    centred on it (it then sees a little of the audio around it).

    Returns:
        :class:`Windows` (empty arrays when there is no speech).
    """
    audio = mono_float32(audio, "speaker embeddings")
    mel = mel_frames(audio)
    total = len(mel)
    win, hop = int(round(window_s / FRAME_S)), max(1, int(round(hop_s / FRAME_S)))
    starts: list[int] = []
    for a, b in regions:
        fa, fb = int(a / FRAME_S), min(total, int(np.ceil(b / FRAME_S)))
        if fb - fa <= win:
            c = (fa + fb) // 2
            starts.append(int(min(max(0, c - win // 2), max(0, total - win))))
            continue
        s = list(range(fa, fb - win + 1, hop))
        if s[-1] + win < fb:
            s.append(fb - win)
        starts += s
    if total < win or not starts:
        if total >= 20 and regions:  # very short audio: one window of what there is
            e = embed_mels(mel[None], threads)
            return Windows(np.array([0.0]), np.array([total * FRAME_S]), e, list(regions))
        return Windows(np.zeros(0), np.zeros(0), np.zeros((0, EMBED_DIM), np.float32), list(regions))
    embs = []
    for i in range(0, len(starts), 64):
        batch = np.stack([mel[s:s + win] for s in starts[i:i + 64]])
        embs.append(embed_mels(batch, threads))
    st = np.array(starts, dtype=np.float64) * FRAME_S
    return Windows(st, st + win * FRAME_S, np.concatenate(embs), list(regions))
