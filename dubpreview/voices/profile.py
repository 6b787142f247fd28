"""Voice profiles: who an actor sounds like, and the Kokoro voice chosen to resemble them.

A profile holds, from the actor's own lines: a GE2E speaker embedding (Wan et al. 2018, via
Resemblyzer), F0 statistics (WORLD's DIO + StoneMask, Morise et al. 2016), a gender read
from the pitch (never from the text; the user may override it), and per dub language the
chosen voice: a blend of Kokoro's shipped style vectors plus a WORLD pitch map and formant
warp (:class:`~dubpreview.voices.world.VoiceTransform`).

Choosing the voice (:func:`choose_voice`), the rule:

1. **candidates**: the bank's voices (:mod:`dubpreview.voices.bank`) of the actor's gender
   only, never the other (a blend of both genders is never a candidate); the dub
   language's own voices first: a voice of another language is a candidate only where
   ``voices/presets.json`` ``cross_language`` lists it for that language (its read-back CER
   there is close to the native voices', ``bench/voices.py``) and it pays
   :data:`NON_NATIVE_PENALTY`;
2. **score**: the GE2E cosine of each candidate with the actor, as it speaks (``plain``)
   and moved by WORLD to the actor's pitch at three formant ratios, less a penalty for
   pitch shifts beyond :data:`FREE_SHIFT_ST` semitones and, for each other character of
   the scene, :data:`DISTINCT_PENALTY` x how much closer it is to that character's voice
   than to its own actor; voices other characters have are excluded while any other
   candidate is left; instant;
3. **held-out check** (``profile.halves``: embeddings of the two halves of the actor's
   speech): the choice is made on each half and scored on the other against the
   gender-matched default voice (``voices/presets.json``); unless it beats the default on
   both, the actor gets the gender-matched default (``method="default"``; the next free
   candidate when another character has it);
4. **refine** (``refine=True``): blend the best candidates' style vectors (softmax of their
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
HALF_MIN_S = 2.0
"""Each half of an actor's speech must last this long (seconds) for the held-out check."""
RANGE_LIMITS = (0.7, 1.4)
"""Bounds of the intonation range ratio of the pitch map."""
FREE_SHIFT_ST = 6.0
"""Pitch shifts up to this many semitones are free; beyond it each semitone costs
:data:`SHIFT_PENALTY` of cosine. A female Kokoro voice pushed down an octave onto a male actor
scored well on the encoder but its back-transcription CER rose from 5 % to 12 % (AMI dev00
in ``bench/speakers.py``): large shifts hurt intelligibility."""
SHIFT_PENALTY = 0.01
NON_NATIVE_PENALTY = 0.05
"""Cosine a voice of another language gives up against the dub language's own voices (its
accent: espeak phonemes read with another language's prosody); see ``bench/voices.py``."""
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
    halves: np.ndarray | None = None
    """``(2, 256)`` GE2E embeddings of the first and second half of the actor's speech (for
    the held-out check of :func:`choose_voice`), None when too short or not measured."""

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
                "seconds": round(self.seconds, 2), "source": self.source, "build_s": round(self.build_s, 2),
                "halves": None if self.halves is None else np.round(self.halves, 5).tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any], embedding: np.ndarray) -> "VoiceProfile":
        return cls(d["id"], d.get("label", d["id"]), np.asarray(embedding, np.float32).reshape(256),
                   F0Stats(**d["f0"]), d.get("gender", "female"), d.get("gender_source", "audio"), d.get("age"),
                   {k: VoiceChoice.from_dict(v) for k, v in d.get("voices", {}).items()},
                   float(d.get("seconds", 0.0)), dict(d.get("source", {})), float(d.get("build_s", 0.0)),
                   None if d.get("halves") is None else np.asarray(d["halves"], np.float32).reshape(2, 256))

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
    half = audio16.size // 2
    halves = None
    if half >= HALF_MIN_S * 16000:
        halves = np.stack([embed_audio(audio16[:half], threads), embed_audio(audio16[half:], threads)])
        halves /= np.linalg.norm(halves, axis=1, keepdims=True) + 1e-9
    prof = VoiceProfile(pid, label or pid, emb.astype(np.float32), f0, gender_from_f0(f0),
                        seconds=audio16.size / 16000, source=dict(source or {}), halves=halves)
    if gender is not None:
        prof.set_gender(gender)
    prof.build_s = time.perf_counter() - t0
    return prof


def _transform(bank, m: int, profile: VoiceProfile, formant: float) -> VoiceTransform:
    lo, hi = RANGE_LIMITS
    ratio = float(np.clip(profile.f0.log_std / max(bank.source_log_std[m], 1e-3), lo, hi))
    return VoiceTransform(float(bank.source_log_mean[m]), profile.target_log_f0, ratio, float(formant))


def candidates(bank, gender: str, language: str) -> tuple[np.ndarray, np.ndarray]:
    """Which mixtures of ``bank`` may voice an actor of ``gender`` in dub ``language``, and
    the penalty each pays (cosine): ``(ok (M,) bool, penalty (M,) float)``; rule 1 of the
    module docstring. A five-voice bank (no npm) has no voice of any dub language: there
    every mixture of the gender is a candidate, unpenalised."""
    from dubpreview.tts.voices import cross_language
    from dubpreview.voices import bank as banks

    M = len(bank.weights)
    genders = [banks.mixture_gender(bank, m) for m in range(M)]
    ok = np.array([g == gender for g in genders])
    pen = np.zeros(M)
    if bank.language == banks.CATALOGUE:
        allowed = set(cross_language(language))
        for m in range(M):
            if banks.mixture_language(bank, m) != language:
                names = {v for v, w in zip(bank.voices, bank.weights[m]) if w > 1e-4}
                ok[m] &= names <= allowed
                pen[m] = NON_NATIVE_PENALTY
        if not ok.any():  # no measured voice of that gender for the language: any of the gender
            ok = np.array([g == gender for g in genders])
    if not ok.any():
        ok[:] = True
    return ok, pen


def _unit(x: np.ndarray) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-9)


def _grid(bank, log_f0: float) -> np.ndarray:
    """Each mixture's embedding as it speaks (column 0) and moved to ``log_f0`` at each
    formant ratio (columns 1..A): ``(M, A + 1, 256)``."""
    from dubpreview.voices import bank as banks

    return np.concatenate([_unit(bank.plain)[:, None, :], banks.embeddings_at(bank, log_f0)], axis=1)


def _entry(bank, choice: VoiceChoice) -> np.ndarray:
    """The bank's estimate of ``choice``'s GE2E embedding ``(256,)``."""
    from dubpreview.voices import bank as banks

    if choice.transform.is_identity:
        w = np.array([choice.weights.get(v, 0.0) for v in bank.voices], np.float32)
        m = int(np.argmin(np.abs(bank.weights - w[None, :]).sum(axis=1)))
        return _unit(bank.plain[m])
    return banks.choice_embedding(bank, choice.weights, choice.transform.target_log_mean,
                                  choice.transform.formant_ratio)


def _table(bank, embedding: np.ndarray, profile: VoiceProfile, penalty: np.ndarray,
           others: list[VoiceChoice]) -> tuple[np.ndarray, np.ndarray]:
    """Scores ``(M, A + 1)`` of every mixture and column of :func:`_grid` for an actor
    ``embedding`` (rule 2), and the grid itself."""
    grid = _grid(bank, profile.target_log_f0)
    own = grid @ embedding
    shift_st = np.abs(profile.target_log_f0 - bank.source_log_mean) * 12 / np.log(2)  # (M,)
    sc = own - penalty[:, None]
    sc[:, 1:] -= SHIFT_PENALTY * np.maximum(0.0, shift_st - FREE_SHIFT_ST)[:, None]
    for o in others:
        sc = sc - DISTINCT_PENALTY * np.maximum(0.0, grid @ _entry(bank, o) - own)
    return sc, grid


def _make(bank, language: str, m: int, col: int, profile: VoiceProfile, score: float, method: str) -> VoiceChoice:
    from dubpreview.voices import bank as banks

    weights = {v: float(w) for v, w in zip(bank.voices, bank.weights[m]) if w > 1e-4}
    if col == 0:
        src = float(bank.source_log_mean[m])
        transform = VoiceTransform(src, src, 1.0, 1.0)
    else:
        transform = _transform(bank, m, profile, banks.FORMANT_GRID[col - 1])
    return VoiceChoice(language, weights, transform, float(score), method, bank.model_id)


def choose_voice(profile: VoiceProfile, language: str, refine: bool = True, synth=None, threads: int = 2,
                 temperature: float = 0.02, top: int = 4, build_missing: bool = True,
                 exclude: list[dict[str, float]] | None = None,
                 others: list[VoiceChoice] | None = None) -> VoiceChoice:
    """Choose (and store in ``profile.voices[language]``) the Kokoro voice for the actor, by
    the rule of the module docstring.

    ``exclude``: blends (voice -> weight) already given to other speakers of the scene; they
    are not chosen again, so two characters never share a voice (unless every candidate is
    taken). ``others``: voices of the scene's other speakers (the distinctness term).

    Returns:
        the :class:`VoiceChoice`; its ``similarity`` is the GE2E cosine estimate on the
        calibration sentences (bank), or measured for a refined blend; ``method`` is
        ``"bank"``, ``"blend"`` or ``"default"`` (the held-out check kept the default).

    Raises:
        DubError: no voice bank for ``language``.
    """
    from dubpreview.tts.kokoro import default_synthesizer
    from dubpreview.tts.voices import default_voice
    from dubpreview.voices import bank as banks

    t0 = time.perf_counter()
    synth = synth or default_synthesizer(threads)
    bank = banks.get_bank(language, synth, threads, build_missing=build_missing)
    ok, penalty = candidates(bank, profile.gender, language)
    free = ok.copy()
    for taken in exclude or []:
        w = np.array([taken.get(v, 0.0) for v in bank.voices], np.float32)
        free &= ~(np.abs(bank.weights - w[None, :]).max(axis=1) < 0.05)
    if free.any():
        ok = free

    def pick(embedding: np.ndarray) -> tuple[int, int, float, np.ndarray]:
        sc, grid = _table(bank, embedding, profile, penalty, others or [])
        sc[~ok] = -np.inf
        m, col = np.unravel_index(int(np.argmax(sc)), sc.shape)
        return int(m), int(col), float(sc[m, col]), grid

    m, col, score, grid = pick(profile.embedding)
    best = _make(bank, language, m, col, profile, score, "bank")
    default = default_voice(language, profile.gender)
    if profile.halves is not None and default in bank.voices:
        d = int(np.argmax(bank.weights[:, bank.voices.index(default)] > 0.999))  # the default alone
        plain = _unit(bank.plain)
        generalises = True
        for h in (0, 1):
            mh, ch, _, gh = pick(profile.halves[h])
            generalises &= bool(gh[mh, ch] @ profile.halves[1 - h] >= plain[d] @ profile.halves[1 - h])
        if not generalises:
            if not ok[d]:  # another character has the default: the best free voice as it speaks
                sc, _ = _table(bank, profile.embedding, profile, penalty, others or [])
                sc[~ok] = -np.inf
                d = int(np.argmax(sc[:, 0]))
            best = _make(bank, language, d, 0, profile, float(plain[d] @ profile.embedding), "default")
            refine = False
    if refine and col > 0:
        sc, _ = _table(bank, profile.embedding, profile, penalty, others or [])
        sc[~ok] = -np.inf
        per_mix = sc[:, col]
        idx = [i for i in np.argsort(-per_mix)[:top] if np.isfinite(per_mix[i])]
        p = np.exp((per_mix[idx] - per_mix[idx[0]]) / temperature)
        p /= p.sum()
        w = (p[:, None] * bank.weights[idx]).sum(0)
        if np.abs(w - bank.weights[m]).max() > 0.05:
            cand = VoiceChoice(language, {v: float(x) for v, x in zip(bank.voices, w) if x > 1e-4},
                               _blend_transform(bank, np.array(idx), p, profile, banks.FORMANT_GRID[col - 1]),
                               0.0, "blend", bank.model_id)
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
