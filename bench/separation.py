"""Benchmark of dialogue separation and the broadcast mix; prints tables.

1. **Known mix** (``dubpreview/separate/testmix.py``: real speech in the centre over real game
   music and effects, true stems kept) at three dialogue-to-bed levels: per method, the SDR of
   the M&E estimate against the true M&E (dB), its correlation, and the speech left in the bed
   (mean Silero VAD probability inside the spoken lines; the mix itself and the true bed are
   listed for scale).
2. **Demo scenes** (real recordings, no true stems): the same VAD measure inside the speech
   regions Silero finds in the original, and the cold cost of separation (fresh process:
   imports, model load, separation) as the pipeline pays it.
3. **Mix**: real Spanish speech (MLS) as dub lines over the known mix's lines, mixed per
   method: loudness error per line (LU) of the dub line against the original line measured
   on the dialogue stem (and on the true dialogue), the programme's integrated loudness
   (LUFS) and true peak (dBTP) against the -23 LUFS / -1 dBTP target.
4. **Cost**: time and peak RSS of separation on 60 s and 10 min of audio (the known mix
   looped), each in its own process so ``VmHWM`` is its own.

Targets (issue 6): spleeter SDR >= 10 dB, VAD in the bed <= 0.1, per-line error within
+-2 LU, programme within +-1 LU of target, 60 s separated in under 25 s, a 10-minute scene
under 2.5 GB peak RSS. Timings on a shared machine are noisy.

    python bench/separation.py [--threads 1] [--skip-long] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dubpreview.util.memory import peak_rss_mb  # noqa: E402
DATA = ROOT / "tests" / "data"
RATE = 48000
METHODS = ("spleeter", "centre", "none")
LEVELS = (0.0, 6.0, 10.0)


def child_cost(method: str, seconds: float, threads: int) -> dict:
    """Separate ``seconds`` of the looped known mix with ``method``; time and peak RSS."""
    from dubpreview.separate import get_separator
    from dubpreview.separate.testmix import build_test_mix

    known = build_test_mix(DATA)
    n = int(seconds * RATE)
    audio = np.resize(known.mix, (n, 2)).astype(np.float32) if n > len(known.mix) else known.mix[:n]
    del known
    base = peak_rss_mb()
    t0, c0 = time.perf_counter(), _cpu()
    stems = get_separator(method, threads).separate(audio, RATE)
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    assert stems.bed.shape == audio.shape
    return {"wall": wall, "cpu": cpu, "rss_mb": peak_rss_mb(),
            "rss_before_mb": base}


def _cpu() -> float:
    """CPU seconds (user + system, all threads) of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child_scene(scene: str, method: str, threads: int) -> dict:
    """Cold separation of a demo scene as the pipeline runs it, and the VAD measure."""
    t0 = time.perf_counter()
    from dubpreview.demo import DEMO_SCENES, demo_dir
    from dubpreview.media.probe import probe
    from dubpreview.separate import separate
    from dubpreview.separate.cache import load_scene_audio

    path = demo_dir() / DEMO_SCENES[scene]["file"]
    audio = load_scene_audio(path, probe(path), RATE)
    t1 = time.perf_counter()
    stems = separate(audio, RATE, method, threads)
    t2, cpu = time.perf_counter(), _cpu()
    from dubpreview.asr.vad import speech_regions
    from dubpreview.media.extract import load_audio
    from dubpreview.separate.testmix import speech_probability_in

    regions = speech_regions(load_audio(path, sample_rate=16000).samples)
    return {"method": stems.method, "notes": stems.notes, "duration": len(audio) / RATE,
            "channels": audio.shape[1], "cold_wall": t2 - t0, "separate_wall": t2 - t1, "cold_cpu": cpu,
            "vad_original": speech_probability_in(stems.bed + stems.dialogue, RATE, regions),
            "vad_bed": speech_probability_in(stems.bed, RATE, regions),
            "speech_s": sum(e - s for s, e in regions)}


def run_child(kind: str, *args) -> dict:
    cmd = [sys.executable, __file__, "--child", json.dumps([kind, *args])]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def quality(threads: int) -> list[dict]:
    from dubpreview.separate import get_separator
    from dubpreview.separate.testmix import build_test_mix, sdr_db, speech_probability_in

    rows = []
    for level in LEVELS:
        known = build_test_mix(DATA, speech_to_bed_db=level)
        rows.append({"level": level, "method": "(mix itself)", "sdr": sdr_db(known.bed, known.mix),
                     "corr": float(np.corrcoef(known.mix.ravel(), known.bed.ravel())[0, 1]),
                     "vad": speech_probability_in(known.mix, RATE, known.regions)})
        rows.append({"level": level, "method": "(true bed)", "sdr": float("inf"), "corr": 1.0,
                     "vad": speech_probability_in(known.bed, RATE, known.regions)})
        for method in METHODS:
            stems = get_separator(method, threads).separate(known.mix, RATE)
            rows.append({"level": level, "method": method, "sdr": sdr_db(known.bed, stems.bed),
                         "corr": float(np.corrcoef(stems.bed.ravel(), known.bed.ravel())[0, 1]),
                         "vad": speech_probability_in(stems.bed, RATE, known.regions)})
    return rows


def mixing(threads: int) -> list[dict]:
    from dubpreview.media.extract import load_audio
    from dubpreview.mix.duck import MixedLine, MixSettings, dub_stem, loudness_db
    from dubpreview.mix.programme import integrated_loudness, mix_programme, true_peak_db
    from dubpreview.separate import get_separator
    from dubpreview.separate.cache import bed_speech_probabilities
    from dubpreview.separate.testmix import build_test_mix

    known = build_test_mix(DATA)
    es = load_audio(DATA / "pypi_mfa_mls_es_13697_11991_000000.opus", sample_rate=24000).samples * 0.3
    cuts = [(0.3, 6.0), (6.0, 10.5), (10.5, 14.5)]
    lines = [MixedLine(s, es[int(a * 24000):int(b * 24000)], 24000, s, e)
             for (s, e), (a, b) in zip(known.regions, cuts)]
    s0 = known.regions[1][0]
    lines.append(MixedLine(s0 + 5.0, es[48000:55200], 24000, s0 + 5.0, s0 + 5.3))  # 0.3 s: RMS fallback
    true_ref = known.dialogue.mean(axis=1)
    rows = []
    for method in METHODS:
        stems = get_separator(method, threads).separate(known.mix, RATE)
        settings = MixSettings()
        ref = (stems.dialogue if stems.separated else known.mix).mean(axis=1)
        stem = dub_stem(lines, ref, len(known.mix) / RATE, settings)
        errs, errs_true = [], []
        for ln in lines:
            a = int(ln.start * RATE)
            b = a + int(round(len(ln.samples) * RATE / ln.rate))
            got = loudness_db(stem[a:b], RATE)
            span = slice(int(ln.ref_start * RATE), int(ln.ref_end * RATE))
            errs.append(got - loudness_db(ref[span], RATE))
            errs_true.append(got - loudness_db(true_ref[span], RATE))
        probs = bed_speech_probabilities(stems.bed, RATE) if stems.separated else None
        spans = [(ln.start, ln.start + len(ln.samples) / ln.rate) for ln in lines]
        programme, report = mix_programme(stems.bed, stem, spans, settings, stems.separated, probs)
        rows.append({"method": method, "line_err": errs, "line_err_true": errs_true,
                     "lufs": integrated_loudness(programme), "true_peak": true_peak_db(programme),
                     "limited": report.limited})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch threads for spleeter (default 1)")
    ap.add_argument("--skip-long", action="store_true", help="skip the 10-minute runs")
    ap.add_argument("--json", default=None, help="also write the numbers to this file")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = json.loads(args.child)
        result = {"cost": child_cost, "scene": child_scene}[kind](*rest)
        print(json.dumps(result))
        return
    out: dict = {}
    print("## Known mix: real speech (centre) over real music + effects, true stems kept\n")
    print("| dialogue over bed | method | SDR of M&E (dB) | corr with true M&E | VAD prob in bed |")
    print("|---:|---|---:|---:|---:|")
    out["quality"] = quality(args.threads)
    for r in out["quality"]:
        print(f"| {r['level']:+.0f} dB | {r['method']} | {r['sdr']:.2f} | {r['corr']:.3f} | {r['vad']:.3f} |")
    print("\n## Demo scenes (real recordings): speech left in the bed, cold separation cost\n")
    print("| scene | length | method run | VAD prob original | VAD prob bed | cold wall (s) | separate wall (s) "
          "| cold CPU (s) |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    out["scenes"] = []
    for scene in ("ami", "fillets"):
        for method in ("auto", "centre", "none"):
            r = run_child("scene", scene, method, args.threads)
            r.update(scene=scene, requested=method)
            out["scenes"].append(r)
            print(f"| {scene} | {r['duration']:.1f} s | {method} -> {r['method']} | {r['vad_original']:.3f} | "
                  f"{r['vad_bed']:.3f} | {r['cold_wall']:.1f} | {r['separate_wall']:.1f} | {r['cold_cpu']:.1f} |")
    print("\n## Mix on the known mix (Spanish MLS speech as the dub lines; target -23 LUFS, -1 dBTP)\n")
    print("| method | per-line error vs dialogue stem (LU) | vs true dialogue (LU) | programme LUFS | true peak dBTP |")
    print("|---|---|---|---:|---:|")
    out["mix"] = mixing(args.threads)
    for r in out["mix"]:
        fmt = lambda xs: " ".join(f"{x:+.2f}" for x in xs)  # noqa: E731
        print(f"| {r['method']} | {fmt(r['line_err'])} | {fmt(r['line_err_true'])} | {r['lufs']:.2f} | "
              f"{r['true_peak']:.2f} |")
    print("\n## Separation cost (known mix looped; own process each)\n")
    print("| method | audio | wall (s) | CPU (s) | x real time (wall) | peak RSS (MB) |")
    print("|---|---:|---:|---:|---:|---:|")
    out["cost"] = []
    for method in ("spleeter", "centre"):
        for seconds in (60.0,) + (() if args.skip_long else (600.0,)):
            r = run_child("cost", method, seconds, args.threads)
            r.update(method=method, seconds=seconds)
            out["cost"].append(r)
            print(f"| {method} | {seconds:.0f} s | {r['wall']:.1f} | {r['cpu']:.1f} | {seconds / r['wall']:.1f} | "
                  f"{r['rss_mb']:.0f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
