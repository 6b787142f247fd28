"""Voice profiles: who an actor sounds like, and the Kokoro voice chosen to resemble them.

A profile holds, from the actor's own lines: a GE2E speaker embedding (Wan et al. 2018, via
Resemblyzer), F0 statistics (WORLD's DIO + StoneMask, Morise et al. 2016), a gender read
from the pitch (never from the text; the user may override it), and per dub language the
chosen voice: a blend of Kokoro's shipped style vectors plus a WORLD pitch map and formant
warp (:class:`~dubpreview.voices.world.VoiceTransform`).

Choosing the voice (:func:`choose_voice`):

1. score every entry of the precomputed bank (:mod:`dubpreview.voices.bank`: 15 style
   blends x 3 formant ratios, embedded at the actor's pitch) against the actor, less a
   penalty for pitch shifts beyond :data:`FREE_SHIFT_ST` semitones: instant;
2. refine (``refine=True``): blend the best mixtures' style vectors (softmax of their
   scores), speak the calibration sentences with the blend moved to the actor's pitch,
   embed, and keep it if it beats the best bank entry (one synthesis: a few seconds).

A profile takes well under 20 s to build on a 2-core CPU (``bench/speakers.py`` measures it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dubpreview.errors import DubError
from dubpreview.voices.world import F0Stats, VoiceTransform

MALE_BELOW_HZ = 165.0
"""Median F0 under which a voice is read as male (adult male speech ~85-155 Hz, female
~165-255 Hz); the user's gender overrides it."""
TYPICAL_F0 = {"male": 120.0, "female": 210.0}
"""Pitch targets (Hz) when the user's gender contradicts the measured pitch."""
RANGE_LIMITS = (0.7, 1.4)
"""Bounds of the intonation range ratio of the pitch map."""
FREE_SHIFT_ST = 6.0
"""Pitch shifts up to this many semitones are free; beyond it each semitone costs
:data:`SHIFT_PENALTY` of cosine. A female Kokoro voice pushed down an octave onto a male actor
scored well on the encoder but its back-transcription CER rose from 5 % to 12 % (AMI dev00
in ``bench/speakers.py``): large shifts hurt intelligibility."""
SHIFT_PENALTY = 0.01
DISTINCT_PENALTY = 1.0
"""Weight of the distinctness term in :func:`choose_voice` (cosine units). On AMI dev00 (two
men at ~100 Hz, one male Kokoro pack) 1.0 moved the two dubs from 0.86 to 0.69 cosine apart;
3.0 reached 0.63 but pushed a female pack down 15 semitones and its CER to 24 %."""


@dataclass
class VoiceChoice:
    """The synthesis voice of one actor in one dub language.

    ``weights``: shipped Kokoro voice -> weight (sum 1) of the style-vector blend;
    ``transform``: the WORLD pitch map and formant warp; ``similarity``: GE2E cosine
    between the actor and this voice on the calibration sentences (an estimate);
    ``method``: ``"bank"`` or ``"blend"``; ``model_id``: the Kokoro model it was made for.
    """

    language: str
    weights: dict[str, float]
    transform: VoiceTransform
    similarity: float
    method: str
    model_id: str = ""

    @property
    def voice_id(self) -> str:
        """A name for the synthesizer and the clip cache: changes whenever the voice does."""
        from dubpreview.project.store import cache_key

        return "match-" + cache_key(w={k: round(v, 4) for k, v in sorted(self.weights.items()) if v > 1e-4},
                                    t=self.transform.to_dict(), m=self.model_id)[:12]

    def to_dict(self) -> dict[str, Any]:
        return {"language": self.language, "voice_id": self.voice_id,
                "weights": {k: round(v, 4) for k, v in self.weights.items() if v > 1e-4},
                "transform": self.transform.to_dict(), "similarity": round(self.similarity, 4),
                "method": self.method, "model_id": self.model_id}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "VoiceChoice":
        return cls(d["language"], {k: float(v) for k, v in d["weights"].items()},
                   VoiceTransform(**d["transform"]), float(d.get("similarity", 0.0)), d.get("method", "bank"),
                   d.get("model_id", ""))


@dataclass
class VoiceProfile:
    """An actor's voice as measured, and the dub voices chosen for it.

    ``embedding``: float32 ``(256,)`` L2-normalised GE2E embedding of the actor's lines;
    ``f0``: :class:`F0Stats`; ``gender``: ``"male"``/``"female"`` and ``gender_source``
    ``"audio"`` or ``"user"``; ``age``: None unless the user sets it (not estimated);
    ``voices``: dub language -> :class:`VoiceChoice`; ``seconds``: speech analysed;
    ``source``: where it was measured (file, sha256, speaker); ``build_s``: seconds taken.
    """

    id: str
    label: str
    embedding: np.ndarray
    f0: F0Stats
    gender: str
    gender_source: str = "audio"
    age: str | None = None
    voices: dict[str, VoiceChoice] = field(default_factory=dict)
    seconds: float = 0.0
    source: dict[str, Any] = field(default_factory=dict)
    build_s: float = 0.0

    @property
    def target_log_f0(self) -> float:
        """The pitch the dub voice is moved to (natural-log Hz): the actor's, unless the
        user's gender contradicts it (then a typical pitch of that gender)."""
        measured = self.f0.median_hz < MALE_BELOW_HZ
        if self.gender_source == "user" and (self.gender == "male") != measured:
            return float(np.log(TYPICAL_F0[self.gender]))
        return self.f0.log_mean

    def to_dict(self) -> dict[str, Any]:
        """JSON form without the embedding (saved beside it as ``.npy``)."""
        return {"id": self.id, "label": self.label, "f0": self.f0.to_dict(), "gender": self.gender,
                "gender_source": self.gender_source, "age": self.age,
                "voices": {k: v.to_dict() for k, v in self.voices.items()},
                "seconds": round(self.seconds, 2), "source": self.source, "build_s": round(self.build_s, 2)}

    @classmethod
    def from_dict(cls, d: dict[str, Any], embedding: np.ndarray) -> "VoiceProfile":
        return cls(d["id"], d.get("label", d["id"]), np.asarray(embedding, np.float32).reshape(256),
                   F0Stats(**d["f0"]), d.get("gender", "female"), d.get("gender_source", "audio"), d.get("age"),
                   {k: VoiceChoice.from_dict(v) for k, v in d.get("voices", {}).items()},
                   float(d.get("seconds", 0.0)), dict(d.get("source", {})), float(d.get("build_s", 0.0)))

    def set_gender(self, gender: str | None) -> None:
        """The user's override (``"male"``/``"female"``), or None to go back to the audio's.
        Voices already chosen are dropped: they were chosen for the other pitch.

        Raises:
            DubError: another value.
        """
        if gender is None:
            self.gender, self.gender_source = gender_from_f0(self.f0), "audio"
        elif gender in ("male", "female"):
            self.gender, self.gender_source = gender, "user"
        else:
            raise DubError(f"gender must be 'male' or 'female', not '{gender}'")
        self.voices = {}


def gender_from_f0(f0: F0Stats) -> str:
    """``"male"`` when the median F0 is under :data:`MALE_BELOW_HZ`, else ``"female"``."""
    return "male" if f0.median_hz < MALE_BELOW_HZ else "female"


def measure(audio16: np.ndarray, label: str = "", threads: int = 2, gender: str | None = None,
            embedding: np.ndarray | None = None, source: dict | None = None) -> VoiceProfile:
    """A profile (no voices chosen yet) of one actor from their speech.

    Args:
        audio16: the actor's lines, 16 kHz mono float32, shape ``(n,)`` (at least ~1 s).
        gender: the user's override, else read from the pitch.
        embedding: a GE2E embedding already computed (e.g. the diarization centroid).

    Raises:
        DubError: too little (voiced) speech.
    """
    from dubpreview.diarize.embed import embed_audio
    from dubpreview.project.store import cache_key
    from dubpreview.voices.world import f0_stats

    audio16 = np.asarray(audio16, np.float32)
    if audio16.ndim != 1 or audio16.size < 16000 * 0.5:
        raise DubError(f"a voice profile needs at least 0.5 s of mono speech; got {audio16.shape}")
    t0 = time.perf_counter()
    emb = embed_audio(audio16, threads) if embedding is None else np.asarray(embedding, np.float32)
    emb = emb / (np.linalg.norm(emb) + 1e-9)
    f0 = f0_stats(audio16, 16000)
    pid = "actor-" + cache_key(e=np.round(emb, 3).tolist(), f0=f0.to_dict())[:10]
    prof = VoiceProfile(pid, label or pid, emb.astype(np.float32), f0, gender_from_f0(f0),
                        seconds=audio16.size / 16000, source=dict(source or {}))
    if gender is not None:
        prof.set_gender(gender)
    prof.build_s = time.perf_counter() - t0
    return prof


def _transform(bank, m: int, profile: VoiceProfile, formant: float) -> VoiceTransform:
    lo, hi = RANGE_LIMITS
    ratio = float(np.clip(profile.f0.log_std / max(bank.source_log_std[m], 1e-3), lo, hi))
    return VoiceTransform(float(bank.source_log_mean[m]), profile.target_log_f0, ratio, float(formant))


def choose_voice(profile: VoiceProfile, language: str, refine: bool = True, synth=None, threads: int = 2,
                 temperature: float = 0.02, top: int = 4, build_missing: bool = True,
                 exclude: list[dict[str, float]] | None = None,
                 others: list[VoiceChoice] | None = None) -> VoiceChoice:
    """Choose (and store in ``profile.voices[language]``) the Kokoro voice closest to the actor.

    ``exclude``: blends (voice -> weight) already given to other speakers of the scene; they
    are not chosen again, so two characters never share a voice (unless every blend is taken).
    ``others``: voices of the scene's other speakers; a candidate loses
    :data:`DISTINCT_PENALTY` x (how much closer it is to one of them than to its own actor),
    so that two characters do not sound more alike than each sounds like its actor.

    Returns:
        the :class:`VoiceChoice`; its ``similarity`` is the GE2E cosine on the calibration
        sentences (bank estimate, or measured for a refined blend).

    Raises:
        DubError: no voice bank for ``language``.
    """
    from dubpreview.tts.kokoro import default_synthesizer
    from dubpreview.voices import bank as banks

    t0 = time.perf_counter()
    synth = synth or default_synthesizer(threads)
    bank = banks.get_bank(language, synth, threads, build_missing=build_missing)
    sc = banks.scores(bank, profile.embedding, profile.target_log_f0)  # (M, A)
    shift_st = np.abs(profile.target_log_f0 - bank.source_log_mean) * 12 / np.log(2)  # (M,)
    sc = sc - SHIFT_PENALTY * np.maximum(0.0, shift_st - FREE_SHIFT_ST)[:, None]
    if others:
        grid = banks.embeddings_at(bank, profile.target_log_f0)  # (M, A, 256)
        own = grid @ profile.embedding
        for o in others:
            e_o = banks.choice_embedding(bank, o.weights, o.transform.target_log_mean, o.transform.formant_ratio)
            sc = sc - DISTINCT_PENALTY * np.maximum(0.0, grid @ e_o - own)
    for taken in exclude or []:
        w = np.array([taken.get(v, 0.0) for v in bank.voices], np.float32)
        hit = np.abs(bank.weights - w[None, :]).max(axis=1) < 0.05
        if not hit.all() and (~np.isinf(sc[~hit])).any():
            sc[hit] = -np.inf
    m, a = np.unravel_index(int(np.argmax(sc)), sc.shape)
    best = VoiceChoice(language, dict(zip(bank.voices, bank.weights[m].tolist())),
                       _transform(bank, m, profile, banks.FORMANT_GRID[a]), float(sc[m, a]), "bank",
                       bank.model_id)
    if refine:
        per_mix = sc[:, a]
        idx = np.argsort(-per_mix)[:top]
        p = np.exp((per_mix[idx] - per_mix[idx[0]]) / temperature)
        p /= p.sum()
        w = (p[:, None] * bank.weights[idx]).sum(0)
        if np.abs(w - bank.weights[m]).max() > 0.05:
            cand = VoiceChoice(language, dict(zip(bank.voices, w.tolist())),
                               _blend_transform(bank, idx, p, profile, banks.FORMANT_GRID[a]), 0.0, "blend",
                               bank.model_id)
            cand.similarity = similarity_on_calibration(cand, profile.embedding, synth, threads)
            if cand.similarity > best.similarity:
                best = cand
    profile.voices[language] = best
    profile.build_s += time.perf_counter() - t0
    return best


def _blend_transform(bank, idx, p, profile: VoiceProfile, formant: float) -> VoiceTransform:
    lo, hi = RANGE_LIMITS
    src_mean = float((p * bank.source_log_mean[idx]).sum())
    src_std = float((p * bank.source_log_std[idx]).sum())
    ratio = float(np.clip(profile.f0.log_std / max(src_std, 1e-3), lo, hi))
    return VoiceTransform(src_mean, profile.target_log_f0, ratio, float(formant))


def similarity_on_calibration(choice: VoiceChoice, embedding: np.ndarray, synth, threads: int = 2) -> float:
    """GE2E cosine between ``embedding`` and ``choice`` speaking the bank's calibration
    sentences, computed as the bank computes its entries (WORLD at 16 kHz, 1.6 s hops).
    The measured source pitch of the blend replaces the estimate in ``choice.transform``."""
    from dubpreview.diarize.embed import embed_audio
    from dubpreview.voices import bank as banks
    from dubpreview.voices import world
    from dubpreview.voices.resample import to_16k

    pack = banks.blend(synth, list(choice.weights), np.array(list(choice.weights.values())))
    audio = to_16k(banks.speak(synth, choice.language, pack), synth.sample_rate)
    f0, sp, ap = world.analyse(audio, 16000)
    v = f0[f0 > 0]
    if v.size > 40:
        choice.transform.source_log_mean = float(np.log(v).mean())
    y = world.synthesize(f0, sp, ap, 16000, choice.transform)
    return float(embed_audio(y, threads, hop_s=1.6) @ embedding)
