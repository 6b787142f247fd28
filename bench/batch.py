"""Batch throughput: the three-clip batch serially, in a process pool and on a local Ray.

    python bench/batch.py [--modes serial,pool,ray] [--keep DIR]

The batch is the one of tests/test_batch.py: three real clips (7 s of Czech acted dialogue
cut from the Fish Fillets NG scene, a 6 s English LibriVox reading, a 15 s Spanish MLS
reading), each into English and Portuguese (two of them through English as a pivot).
Every mode starts from empty project folders (the models are on disk already; each mode's
processes load them once). Prints a table: wall seconds, scene-seconds dubbed per wall
second (throughput), its ratio to serial, and whether the mode's files equal serial's.

- serial: ``--serial --threads 2`` (one process, 2 threads per model: the whole machine);
- pool: ``--workers N --threads 1`` (N = CPU count processes of one thread each);
- ray: ``--ray --workers N --threads 1`` (a local Ray with N CPUs, tasks per stage group).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
SCENES = [("fish.mp4", "cs", "fish"), ("austen.wav", "en", "austen"), ("mls.opus", "es", "mls")]
PRODUCTS = ("mix.en.wav", "mix.pt.wav", "dub.en.wav", "dub.pt.wav", "subtitles.en.srt", "subtitles.pt.srt")


def make_clips(folder: Path) -> Path:
    """The three clips and a CSV manifest in ``folder``; returns the manifest."""
    from dubpreview.media.ffmpeg import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-ss", "9.4", "-t", "7", "-i",
                    DATA / "example_fillets-ng_cs_dialogue_640x360_h264_aac.mp4", "-c:v", "libx264",
                    "-preset", "ultrafast", "-c:a", "aac", folder / "fish.mp4"], check=True)
    shutil.copy(DATA / "deb_pocketsphinx-testdata_librivox_en_austen-0920.wav", folder / "austen.wav")
    shutil.copy(DATA / "pypi_mfa_mls_es_13697_11991_000000.opus", folder / "mls.opus")
    manifest = folder / "batch.csv"
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["input", "to", "output", "from"])
        for file, lang, name in SCENES:
            w.writerow([file, "en,pt", name, lang])
    return manifest


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for _, _, name in SCENES:
        for product in PRODUCTS:
            h.update((folder / name / product).read_bytes())
    return h.hexdigest()[:16]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", default="serial,pool,ray")
    ap.add_argument("--keep", default=None, help="keep the clips and outputs in this folder")
    args = ap.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dubpreview-bench-batch-"))
    work.mkdir(parents=True, exist_ok=True)
    manifest = make_clips(work)
    cpus = os.cpu_count() or 1
    flags = {"serial": ["--serial", "--threads", "2"], "pool": ["--workers", str(cpus), "--threads", "1"],
             "ray": ["--ray", "--workers", str(cpus), "--threads", "1"]}
    results = {}
    for mode in args.modes.split(","):
        out = work / mode
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "dubpreview.cli", "batch", str(manifest), "--output-dir",
                               str(out), *flags[mode]], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            sys.exit(f"{mode} failed:\n{proc.stderr[-2000:]}")
        totals = json.loads((out / "batch-summary.json").read_text(encoding="utf-8"))["totals"]
        results[mode] = {"wall_s": wall, "batch_s": totals["wall_s"], "scene_s": totals["scene_seconds_dubbed"],
                         "throughput": totals["scene_seconds_dubbed"] / wall, "digest": digest(out)}
        print(f"{mode}: {wall:.1f} s", file=sys.stderr, flush=True)
    base = results.get("serial") or next(iter(results.values()))
    print(f"\nthree-clip batch, {cpus} CPUs ({sum(1 for _ in SCENES)} scenes x 2 languages, "
          f"{base['scene_s']:.1f} scene-seconds)\n")
    print(f"| mode | wall s (command) | scene-s per wall-s | vs {'serial' if 'serial' in results else 'first'} | "
          "files equal |")
    print("|---|---:|---:|---:|---|")
    for mode, r in results.items():
        print(f"| {mode} ({' '.join(flags[mode])}) | {r['wall_s']:.1f} | {r['throughput']:.3f} | {r['throughput'] / base['throughput']:.2f}x "
              f"| {'yes' if r['digest'] == base['digest'] else 'NO'} |")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
