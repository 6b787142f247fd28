"""Speakers and voice matching, measured on real recordings; prints tables.

1. Diarization error rate (NIST md-eval definition, :mod:`dubpreview.diarize.der`) on the
   AMI meeting clips (RTTM references) and the two Fish Fillets NG levels (the script's line
   spans as reference: they include each recording's silence padding, which counts as missed
   speech), with the number of speakers found and given.
2. Voice similarity per actor, original lines vs the dub of those lines, default preset voice
   vs matched voice:
   - fillets-ng: profiles from level ``cabin1``; dubbed lines (the game's English translations)
     of ``cabin1`` (in-sample) and of ``cabin2`` (held out: other recordings and texts);
   - AMI dev00: each speaker's profile from the first half of their speech (RTTM turns without
     overlap), the held-out second half transcribed (Whisper base), translated to Portuguese
     (Bergamot) and dubbed.
   Measures: GE2E cosine (the encoder the matcher uses) and an encoder-free one, the cosine of
   the speakers' mean MFCC vectors (c1-c19 of a 40-band log-mel, 25 ms / 10 ms, each recording's
   mean removed by the per-speaker average only: a long-term timbre descriptor that the matcher
   never looks at), plus the F0 gap in semitones.
3. Distinctness: cosine between the two actors' matched dubs vs each dub to its own actor.
4. Intelligibility: back-transcription CER (Whisper base, language given) default vs matched.
5. Cost: seconds to build a profile (measure + bank choice, and with the refining synthesis);
   seconds the speaker stages add to the 30 s AMI demo dub (en->pt), warm models, cold caches.

    python bench/speakers.py [--skip-pipeline]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "data"


def audio16(path: Path) -> np.ndarray:
    from dubpreview.media.extract import load_audio

    return load_audio(path, sample_rate=16000, channels=1).samples


def cut(audio: np.ndarray, spans) -> np.ndarray:
    return np.concatenate([audio[int(a * 16000):int(b * 16000)] for a, b in spans])


def mfcc_mean(audio: np.ndarray) -> np.ndarray:
    """Mean of c1..c19 over frames above -40 dB of the loudest (speech only)."""
    from scipy.fft import dct

    from dubpreview.diarize.embed import mel_frames

    mel = mel_frames(audio)
    energy = mel.sum(axis=1)
    keep = energy > energy.max() * 1e-4
    c = dct(np.log(mel[keep] + 1e-10), type=2, norm="ortho", axis=1)[:, 1:20]
    return c.mean(axis=0)


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def semitones(a: np.ndarray, b: np.ndarray) -> float:
    from dubpreview.voices.world import f0_stats

    return abs(12 * np.log2(f0_stats(a, 16000).median_hz / f0_stats(b, 16000).median_hz))


# ---- 1. DER ---------------------------------------------------------------------------

def der_table() -> list[str]:
    from dubpreview.diarize import der, diarize, read_rttm

    rows = ["| clip | speakers (ref) | n given | found | DER | DER collar 0.5 s | missed | false alarm | confusion | seconds |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    clips = []
    for name in ("tst00", "dev00"):
        base = DATA / f"pypi_pyannote-audio_tests_ami-meeting_{name}_en"
        clips.append((f"AMI {name}", base.with_suffix(".wav"), read_rttm(base.with_suffix(".rttm"))))
    for level in ("cabin1", "cabin2"):
        base = DATA / f"fillets-ng_cs_dialogue_{level}"
        script = json.loads(base.with_suffix(".json").read_text(encoding="utf-8"))["segments"]
        clips.append((f"fillets-ng {level}", base.with_suffix(".wav"),
                      [(s["start"], s["end"], s["speaker"]) for s in script]))
    for name, wav, ref in clips:
        a = audio16(wav)
        n_ref = len({t[2] for t in ref})
        for n in (None, n_ref):
            t0 = time.perf_counter()
            d = diarize(a, n_speakers=n)
            sec = time.perf_counter() - t0
            r0, r5 = der(ref, d.turns), der(ref, d.turns, collar=0.5)
            rows.append(f"| {name} | {n_ref} | {n or 'auto'} | {len(d.speakers)} | {r0.der:.3f} | {r5.der:.3f} | "
                        f"{r5.missed / r5.total:.3f} | {r5.false_alarm / r5.total:.3f} | "
                        f"{r5.confusion / r5.total:.3f} | {sec:.2f} |")
            print(rows[-1], flush=True)
    return rows


# ---- 2-5. voices ----------------------------------------------------------------------

class Voicer:
    def __init__(self):
        from dubpreview.tts.kokoro import default_synthesizer
        from dubpreview.voices.synth import MatchedSynthesizer

        self.synth = MatchedSynthesizer(default_synthesizer())

    def speak(self, texts: list[str], lang: str, voice: str) -> np.ndarray:
        from dubpreview.voices.resample import to_16k

        gap = np.zeros(int(0.2 * 16000), np.float32)
        parts = []
        for t in texts:
            parts += [to_16k(self.synth.synthesize(t, lang, voice), self.synth.sample_rate), gap]
        return np.concatenate(parts)


def back_cer(asr, audio: np.ndarray, texts: list[str], lang: str) -> float:
    import jiwer

    norm = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()])
    heard = " ".join(s.text for s in asr.transcribe(audio, language=lang).segments)
    return jiwer.cer(norm(" ".join(texts)), norm(heard))


def voice_rows(case: str, actors: dict, lang: str, voicer: Voicer, asr, refine: bool) -> tuple[list[str], dict]:
    """actors: name -> (profile audio, eval original audio, eval texts)."""
    from dubpreview.diarize.embed import embed_audio
    from dubpreview.tts.voices import default_voice
    from dubpreview.voices.profile import choose_voice, measure

    rows, dubs, taken = [], {}, []
    # as in the pipeline: the actor with the most speech chooses first, the others exclude its blend
    for actor, (prof_audio, orig, texts) in sorted(actors.items(), key=lambda kv: -len(kv[1][0])):
        t0 = time.perf_counter()
        prof = measure(prof_audio, label=actor)
        t_measure = time.perf_counter() - t0
        choice = choose_voice(prof, lang, refine=refine, exclude=[c.weights for c in taken], others=taken)
        taken.append(choice)
        t_build = time.perf_counter() - t0
        vid = voicer.synth.register(choice)
        d_def = voicer.speak(texts, lang, default_voice(lang))
        d_mat = voicer.speak(texts, lang, vid)
        e_orig, e_def, e_mat = embed_audio(orig), embed_audio(d_def), embed_audio(d_mat)
        m_orig = mfcc_mean(orig)
        cer_d, cer_m = back_cer(asr, d_def, texts, lang), back_cer(asr, d_mat, texts, lang)
        w = ", ".join(f"{k} {v:.2f}" for k, v in choice.weights.items() if v > 0.01)
        rows.append(f"| {case} | {actor} | {prof.gender} {prof.f0.median_hz:.0f} Hz | {w}; x{choice.transform.formant_ratio:.2f} formants "
                    f"({choice.method}) | {e_def @ e_orig:.3f} | **{e_mat @ e_orig:.3f}** | "
                    f"{cos(mfcc_mean(d_def), m_orig):.3f} | **{cos(mfcc_mean(d_mat), m_orig):.3f}** | "
                    f"{semitones(d_def, orig):.1f} / {semitones(d_mat, orig):.1f} | {100 * cer_d:.1f} / {100 * cer_m:.1f} | "
                    f"{t_measure:.1f} + {t_build - t_measure:.1f} |")
        print(rows[-1], flush=True)
        dubs[actor] = (e_mat, e_orig)
    return rows, dubs


def distinct_row(case: str, dubs: dict) -> str:
    names = list(dubs)
    if len(names) < 2:
        return ""
    (ma, ra), (mb, rb) = dubs[names[0]], dubs[names[1]]
    return (f"| {case} | {ma @ mb:.3f} | {ma @ ra:.3f} | {mb @ rb:.3f} | "
            f"{'yes' if ma @ mb < min(ma @ ra, mb @ rb) else 'NO'} |")


def fillets_actors(level_profile: str, level_eval: str) -> dict:
    out = {}
    p = DATA / f"fillets-ng_cs_dialogue_{level_profile}"
    e = DATA / f"fillets-ng_cs_dialogue_{level_eval}"
    ps = json.loads(p.with_suffix(".json").read_text(encoding="utf-8"))["segments"]
    es = json.loads(e.with_suffix(".json").read_text(encoding="utf-8"))["segments"]
    pa, ea = audio16(p.with_suffix(".wav")), audio16(e.with_suffix(".wav"))
    for actor in ("big_fish", "small_fish"):
        lines = [s for s in es if s["speaker"] == actor][:4]
        out[actor] = (cut(pa, [(s["start"], s["end"]) for s in ps if s["speaker"] == actor]),
                      cut(ea, [(s["start"], s["end"]) for s in lines]), [s["text"]["en"] for s in lines])
    return out


def ami_actors(asr) -> dict:
    """dev00: each speaker's non-overlapped turns; first half -> profile, second half -> eval."""
    from dubpreview.diarize import read_rttm
    from dubpreview.records import Segment
    from dubpreview.translate.bergamot import BergamotTranslator

    base = DATA / "pypi_pyannote-audio_tests_ami-meeting_dev00_en"
    a = audio16(base.with_suffix(".wav"))
    ref = read_rttm(base.with_suffix(".rttm"))
    out = {}
    for spk in sorted({t[2] for t in ref}):
        first, second = solo_halves(ref, spk)
        orig = cut(a, second)
        text = " ".join(seg.text.strip() for seg in asr.transcribe(orig, language="en").segments)
        pt = BergamotTranslator().translate([Segment(0, 0, 1, text)], "en", "pt")[0]
        out[spk] = (cut(a, first), orig, [pt])
    return out


def solo_halves(ref: list[tuple[float, float, str]], speaker: str) -> tuple[list, list]:
    """The RTTM turns of ``speaker`` less every part where anyone else speaks (pieces over
    0.3 s), split into the first and the second half of that speech time: two span lists."""
    spans = []
    for s, e, lab in ref:
        if lab != speaker:
            continue
        pieces = [(s, e)]
        for s2, e2, l2 in ref:
            if l2 != speaker:
                pieces = [q for p in pieces for q in ((p[0], min(p[1], s2)), (max(p[0], e2), p[1])) if q[1] - q[0] > 0.3]
        spans += pieces
    total = sum(e - s for s, e in spans)
    acc, first, second = 0.0, [], []
    for s, e in spans:
        (first if acc < total / 2 else second).append((s, e))
        acc += e - s
    return first, second


def pipeline_cost() -> list[str]:
    from dubpreview.demo import DEMO_SCENES, demo_dir
    from dubpreview.pipeline import dub
    from dubpreview.settings import DubSettings

    spec = DEMO_SCENES["ami"]
    src = demo_dir() / spec["file"]
    rows = []
    times = {}
    for label, kw in (("warm-up (off)", dict(diarize=False, voice_match=False)),
                      ("speakers off", dict(diarize=False, voice_match=False)),
                      ("diarize only", dict(diarize=True, voice_match=False)),
                      ("diarize + voice match", dict(diarize=True, voice_match=True))):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            res = dub(src, DubSettings(targets=spec["to"], source_language=spec["from"], **kw),
                      output=Path(tmp) / "out.mp4", project_dir=Path(tmp) / "proj")
            times[label] = time.perf_counter() - t0
            stages = {e["stage"]: e["seconds"] for e in res.stage_log}
            extra = sum(v for k, v in stages.items() if k.startswith(("diarize", "voice profile")))
            synth = sum(v for k, v in stages.items() if k.startswith("synthesize"))
            n_spk = len({s.speaker for s in res.segments})
            rows.append(f"| {label} | {times[label]:.1f} | {extra:.1f} | {synth:.1f} | {n_spk} |")
            print(rows[-1], flush=True)
    rows.append(f"| added by diarize + voice match (vs off, warm models) | "
                f"{times['diarize + voice match'] - times['speakers off']:+.1f} | | | |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-pipeline", action="store_true")
    ap.add_argument("--skip-der", action="store_true")
    ap.add_argument("--refine", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--cases", default="fillets,ami", help="voice cases to run: fillets, ami")
    args = ap.parse_args()

    from dubpreview.pipeline.analyze import transcriber_for
    from dubpreview.settings import DubSettings

    out = []
    if not args.skip_der:
        out += ["## Diarization", *der_table(), ""]
    asr = transcriber_for(DubSettings(targets=["en"]))
    voicer = Voicer()
    head = ["| case | actor | audio says | matched voice | GE2E default | GE2E matched | MFCC default | MFCC matched | "
            "F0 gap st default / matched | CER % default / matched | profile s (measure + choose) |",
            "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    rows, dist = [], ["| case | matched A vs matched B | A dub vs A | B dub vs B | distinct |", "|---|---:|---:|---:|---|"]
    cases = []
    if "fillets" in args.cases:
        cases += [("fillets cabin1 (in-sample) en", fillets_actors("cabin1", "cabin1"), "en"),
                  ("fillets cabin2 (held out) en", fillets_actors("cabin1", "cabin2"), "en")]
    if "ami" in args.cases:
        cases.append(("AMI dev00 (held-out half) pt", ami_actors(asr), "pt"))
    for case, actors, lang in cases:
        r, dubs = voice_rows(case, actors, lang, voicer, asr, args.refine)
        rows += r
        dist.append(distinct_row(case, dubs))
    out += ["## Voice similarity (original vs dub of the same lines)", *head, *rows, "", "## Distinctness", *dist, ""]
    if not args.skip_pipeline:
        out += ["## Cost in the pipeline (AMI demo 30 s, en->pt)", "| run | total s | speaker stages s | synthesize s | speakers |",
                "|---|---:|---:|---:|---:|", *pipeline_cost()]
    print("\n" + "\n".join(out))


if __name__ == "__main__":
    main()
