"""Speaker diarization: who speaks when, and which speaker says each line.

``diarize(audio)`` embeds sliding windows over the speech (:mod:`.embed`, GE2E d-vectors),
clusters them into speakers (:mod:`.cluster`) and returns turns; ``assign_speakers``
gives each ASR segment its speaker and splits a segment that spans a speaker change at a
word boundary. :mod:`.der` scores turns against a reference (diarization error rate).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dubpreview.diarize.der import DERResult, Turn, der, read_rttm  # noqa: F401
from dubpreview.errors import DubError
from dubpreview.integrity.words import text_of
from dubpreview.records import Segment, Word


@dataclass
class Diarization:
    """The speakers of a scene.

    Attributes:
        turns: ``(start_s, end_s, speaker)`` sorted by start, speakers ``"S0"``, ``"S1"``...
            in order of first appearance.
        centroids: speaker -> L2-normalised GE2E embedding, float32 ``(256,)``.
        seconds: speaker -> seconds of speech.
        window_centers: seconds, ``(n,)``; window_embeddings: float32 ``(n, 256)``
            (kept in memory only, to split segments at speaker changes).
    """

    turns: list[Turn]
    centroids: dict[str, np.ndarray]
    seconds: dict[str, float]
    window_centers: np.ndarray = field(default_factory=lambda: np.zeros(0))
    window_embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, 256), np.float32))

    @property
    def speakers(self) -> list[str]:
        return list(self.centroids)

    def to_dict(self) -> dict:
        """JSON form (turns, centroids as lists, seconds, window centres and embeddings
        rounded to 4 decimals so a cached diarization can split segments again)."""
        return {"turns": [[round(a, 3), round(b, 3), s] for a, b, s in self.turns],
                "centroids": {k: np.round(v, 5).tolist() for k, v in self.centroids.items()},
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                "window_centers": np.round(self.window_centers, 3).tolist(),
                "window_embeddings": np.round(self.window_embeddings, 4).tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Diarization":
        emb = np.asarray(d.get("window_embeddings") or np.zeros((0, 256)), np.float32).reshape(-1, 256)
        return cls([(float(a), float(b), str(s)) for a, b, s in d["turns"]],
                   {k: np.asarray(v, np.float32) for k, v in d["centroids"].items()},
                   {k: float(v) for k, v in d["seconds"].items()},
                   np.asarray(d.get("window_centers") or [], np.float64), emb)

    def speaker_at(self, start: float, end: float) -> str | None:
        """The speaker of the span ``[start, end]`` s: the one whose windows there are
        closest on average to its centroid (None when no window lies near)."""
        if not self.centroids or len(self.window_centers) == 0:
            return None
        c = self.window_centers
        m = (c >= start - 0.25) & (c <= end + 0.25)
        if not m.any():
            j = int(np.argmin(np.abs(c - (start + end) / 2)))
            if abs(c[j] - (start + end) / 2) > 1.5:
                return None
            m = np.zeros(len(c), bool)
            m[j] = True
        v = self.window_embeddings[m].mean(0)
        names = list(self.centroids)
        sims = np.stack([self.centroids[k] for k in names]) @ v
        return names[int(np.argmax(sims))]


def _units(regions: list[tuple[float, float]], unit_s: float) -> list[tuple[float, float]]:
    out = []
    for a, b in regions:
        n = max(1, int(np.ceil((b - a) / unit_s - 1e-9)))
        e = np.linspace(a, b, n + 1)
        out += [(float(x), float(y)) for x, y in zip(e[:-1], e[1:])]
    return out


def diarize(audio: np.ndarray, regions: list[tuple[float, float]] | None = None,
            n_speakers: int | None = None, max_speakers: int = 8, unit_s: float = 2.0,
            threads: int = 2) -> Diarization:
    """Who speaks when in 16 kHz mono ``audio`` (float32, shape ``(n,)``).

    Args:
        regions: speech regions in seconds (default: Silero VAD with 0.3 s pauses).
        n_speakers: the number of speakers if the user knows it (else estimated).
        unit_s: longest stretch of speech clustered as one unit (seconds).

    Returns:
        :class:`Diarization` (no turns for silence).

    Raises:
        DubError: audio not 1-D, or ``n_speakers`` below 1.
    """
    from dubpreview.diarize.cluster import cluster_units
    from dubpreview.diarize.embed import embed_windows

    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise DubError(f"diarization needs mono audio of shape (n,), got shape {audio.shape}")
    if n_speakers is not None and n_speakers < 1:
        raise DubError(f"the number of speakers must be at least 1, not {n_speakers}")
    if regions is None:
        from dubpreview.asr.vad import speech_regions
        regions = speech_regions(audio.astype(np.float32), min_silence_s=0.3, pad_s=0.1)
    win = embed_windows(audio, regions, window_s=1.5, hop_s=0.25, threads=threads)
    if len(win.embeddings) == 0:
        return Diarization([], {}, {})
    units = _units(regions, unit_s)
    c = win.centers
    emb, keep = [], []
    for i, (a, b) in enumerate(units):
        m = (c >= a) & (c < b)
        if not m.any():
            j = int(np.argmin(np.abs(c - (a + b) / 2)))
            m = np.zeros(len(c), bool)
            m[j] = True
        v = win.embeddings[m].mean(0)
        emb.append(v / (np.linalg.norm(v) + 1e-9))
        keep.append(i)
    units = [units[i] for i in keep]
    dur = np.array([b - a for a, b in units])
    labels, cents = cluster_units(np.stack(emb), dur, n_speakers=n_speakers, max_speakers=max_speakers)
    names = [f"S{j}" for j in range(len(cents))]
    turns: list[Turn] = []
    for (a, b), lab in zip(units, labels):
        s = names[lab]
        if turns and turns[-1][2] == s and abs(turns[-1][1] - a) < 1e-6:
            turns[-1] = (turns[-1][0], b, s)
        else:
            turns.append((a, b, s))
    seconds = {s: float(dur[labels == j].sum()) for j, s in enumerate(names)}
    return Diarization(turns, dict(zip(names, cents)), seconds, c, win.embeddings)


def _split_words(words: list[Word], speakers: list[str], min_run_s: float, min_words: int) -> list[tuple[int, int, str]]:
    """Runs ``(first, last_exclusive, speaker)`` of words, short runs folded into a neighbour."""
    runs = []
    for i, s in enumerate(speakers):
        if runs and runs[-1][2] == s:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1, s])
    changed = True
    while changed and len(runs) > 1:
        changed = False
        for k, (a, b, s) in enumerate(runs):
            short = (words[b - 1].end - words[a].start) < min_run_s or (b - a) < min_words
            if short:
                # fold into the longer neighbour
                left = runs[k - 1] if k > 0 else None
                right = runs[k + 1] if k + 1 < len(runs) else None
                tgt = max([r for r in (left, right) if r], key=lambda r: words[r[1] - 1].end - words[r[0]].start)
                tgt[0], tgt[1] = min(tgt[0], a), max(tgt[1], b)
                runs.pop(k)
                merged = []
                for r in runs:
                    if merged and merged[-1][2] == r[2]:
                        merged[-1][1] = r[1]
                    else:
                        merged.append(r)
                runs = merged
                changed = True
                break
    return [tuple(r) for r in runs]


def assign_speakers(segments: list[Segment], diar: Diarization, split: bool = True,
                    min_run_s: float = 0.8, min_words: int = 2) -> list[Segment]:
    """Give every segment a speaker; split segments that span a speaker change.

    Each word gets the speaker of the windows around it (:meth:`Diarization.speaker_at`);
    runs of one speaker shorter than ``min_run_s`` seconds or ``min_words`` words are
    folded into a neighbour (one stray window should not split a line). A segment whose
    words still change speaker is cut at those word boundaries; the parts keep their words
    and text and the segments are renumbered 0, 1, ... in time order.

    Returns:
        New segments (the input list is not modified); unchanged speakers stay ``"S0"``
        when the diarization found no speech.
    """
    out: list[Segment] = []
    for seg in segments:
        whole = diar.speaker_at(seg.start, seg.end) or seg.speaker
        if not split or len(seg.words) < 2 * min_words:
            out.append(Segment.from_dict({**seg.to_dict(), "speaker": whole}))
            continue
        spk = [diar.speaker_at(w.start, w.end) or whole for w in seg.words]
        runs = _split_words(seg.words, spk, min_run_s, min_words)
        if len(runs) == 1:
            out.append(Segment.from_dict({**seg.to_dict(), "speaker": runs[0][2]}))
            continue
        for a, b, s in runs:
            ws = seg.words[a:b]
            d = seg.to_dict()
            d.update(start=seg.start if a == 0 else ws[0].start, end=seg.end if b == len(seg.words) else ws[-1].end,
                     text=text_of(ws), words=[vars(w) for w in ws], speaker=s,
                     translation={})
            out.append(Segment.from_dict(d))
    for i, seg in enumerate(out):
        seg.id = i
    return out
