"""Benchmark of the whole dub on the demo scenes; prints a table.

For each demo scene: cold runs (``--cold-runs``, 3 by default: each a fresh process and a
fresh project, every model loaded and every stage computed; the median is the number to
quote, and its run's stages are tabled), then a warm re-run on the last project (cached
transcript, translation and clips). Reports seconds per stage, total wall time, speed as scene seconds per processing
second (">1x" is faster than real time), and peak RSS. Then ASR alone, faster-whisper versus
openai-whisper on the same audio, each in its own fresh process.

Each measurement runs in a child process so that peak RSS (``VmHWM``) and model loading
are its own. Timings on a shared machine are noisy: compare the ratios within one run.

    python bench/run.py [--scenes ami,fillets] [--threads 2] [--cold-runs 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dubpreview.util.memory import peak_rss_mb  # noqa: E402


def child_dub(scene: str, project: str, output: str, threads: int) -> dict:
    from dubpreview.demo import DEMO_SCENES, demo_dir
    from dubpreview.pipeline import dub
    from dubpreview.settings import DubSettings

    spec = DEMO_SCENES[scene]
    t0 = time.perf_counter()
    translation = str(demo_dir() / spec["translation"]) if spec["translation"] else None
    result = dub(demo_dir() / spec["file"], DubSettings(targets=spec["to"], source_language=spec["from"],
                                                        translator=spec["translator"], translation_file=translation,
                                                        threads=threads),
                 output=output, project_dir=project)
    wall = time.perf_counter() - t0
    return {"wall": wall, "stages": result.stage_log, "lines": len(result.segments),
            "timing": {k: v["totals"] for k, v in result.timing.items()}}


def child_asr(scene: str, backend: str, threads: int) -> dict:
    from dubpreview.demo import DEMO_SCENES, demo_dir
    from dubpreview.media.extract import load_audio
    from dubpreview.pipeline.analyze import transcriber_for
    from dubpreview.settings import DubSettings

    spec = DEMO_SCENES[scene]
    audio = load_audio(demo_dir() / spec["file"], sample_rate=16000, channels=1).samples
    t0 = time.perf_counter()
    tr = transcriber_for(DubSettings(targets=["en"], asr=backend, threads=threads))
    tr.transcribe(audio[:16000], language=spec["from"])  # load the model and warm up
    load = time.perf_counter() - t0
    t1 = time.perf_counter()
    out = tr.transcribe(audio, language=spec["from"])
    return {"load": load, "transcribe": time.perf_counter() - t1, "audio_s": len(audio) / 16000,
            "segments": len(out.segments), "text": " ".join(s.text for s in out.segments)[:200]}


def run_child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"bench child {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def stage_seconds(stages: list[dict]) -> dict[str, float]:
    out: dict[str, float] = {}
    for e in stages:
        name = e["stage"].split(" (")[0]
        out[name] = out.get(name, 0.0) + e["seconds"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", default="ami,fillets")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cold-runs", type=int, default=3, help="cold runs per scene (the median is reported)")
    ap.add_argument("--json", default=None, help="also write the raw numbers here")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        res = child_dub(rest[0], rest[1], rest[2], int(rest[3])) if kind == "dub" else \
            child_asr(rest[0], rest[1], int(rest[2]))
        res["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(res))
        return

    from dubpreview.demo import DEMO_SCENES, demo_dir
    from dubpreview.media.probe import probe

    raw: dict = {}
    for scene in args.scenes.split(","):
        duration = probe(demo_dir() / DEMO_SCENES[scene]["file"], scan=False).duration
        colds = []
        for _ in range(max(1, args.cold_runs)):
            with tempfile.TemporaryDirectory() as tmp:
                project, output = f"{tmp}/project", f"{tmp}/preview.mp4"
                colds.append(run_child("dub", scene, project, output, str(args.threads)))
                if len(colds) == max(1, args.cold_runs):
                    warm = run_child("dub", scene, project, output, str(args.threads))
        cold = sorted(colds, key=lambda r: r["wall"])[(len(colds) - 1) // 2]  # the median run
        asr = {b: run_child("asr", scene, b, str(args.threads)) for b in ("faster-whisper", "openai-whisper")}
        raw[scene] = {"duration": duration, "cold": cold, "cold_walls": [r["wall"] for r in colds], "warm": warm,
                      "asr": asr}

        print(f"\n## {scene}: {DEMO_SCENES[scene]['about']} — {duration:.1f} s, {cold['lines']} lines")
        c, w = stage_seconds(cold["stages"]), stage_seconds(warm["stages"])
        print(f"| stage | cold s | warm s |\n|---|---:|---:|")
        for name in c:
            print(f"| {name} | {c[name]:.2f} | {w.get(name, 0.0):.2f} |")
        for label, r in ((f"cold (median of {len(colds)})", cold), ("warm", warm)):
            print(f"| **total {label}** (wall of dub(), model loading included) | {r['wall']:.2f} s | "
                  f"{duration / r['wall']:.2f}x real time, peak RSS {r['peak_rss_mb']:.0f} MB |")
        walls = ", ".join(f"{r['wall']:.1f}" for r in colds)
        print(f"\ncold runs (wall of dub()): {walls} s")
        print("\n| ASR backend | model load s | transcribe s | x real time | peak RSS MB | segments |\n|---|---:|---:|---:|---:|---:|")
        for b, r in asr.items():
            print(f"| {b} | {r['load']:.2f} | {r['transcribe']:.2f} | {r['audio_s'] / r['transcribe']:.2f} | "
                  f"{r['peak_rss_mb']:.0f} | {r['segments']} |")
        fw, ow = asr["faster-whisper"]["transcribe"], asr["openai-whisper"]["transcribe"]
        print(f"\nopenai-whisper / faster-whisper transcription time: {ow / fw:.2f}")
        for lang, t in cold["timing"].items():
            if t.get("lines"):
                print(f"timing {lang}: speed p50 {t['speed_p50']:.2f}, p95 {t['speed_p95']:.2f}, max {t['speed_max']:.2f}, "
                      f"{t['lines_overflowing']}/{t['lines']} lines overflow (max {t['overflow_max']:.2f} s), "
                      f"M1 {t['m1']:.3f}, M2 {t['m2']:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=2))


if __name__ == "__main__":
    main()
