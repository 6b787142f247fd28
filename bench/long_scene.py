"""Long scenes: wall time and peak memory of a whole dub as the scene grows; prints a table.

    python bench/long_scene.py [--minutes 1,10,60] [--keep DIR]

Each scene is the AMI demo meeting (30 s, English, real speech; ``demo/ATTRIBUTION.md``)
looped to the length asked (``ffmpeg -stream_loop``, the video copied, the audio re-encoded
to AAC so that it decodes to the full length), dubbed en->pt by ``dubpreview dub`` in its own
process from an empty project folder. The looped lines repeat, so transcription, speakers
and separation see the whole length while translation and synthesis mostly hit the cache
after the first loop: the scene measures the stages that hold whole-scene audio, which are
what bound the memory of a long scene.

Per scene: wall seconds, real-time factor (wall / scene seconds), the process's peak RSS
(``getrusage(RUSAGE_CHILDREN)``: this small driver's own peak is far below it), and from
``runs.jsonl`` the stage after which the peak last rose (each stage logs the peak so far).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEMO = ROOT / "demo" / "ami_meeting_tst00_en.mp4"


def make_scene(minutes: float, folder: Path) -> Path:
    """The demo looped to ``minutes``; returns its path."""
    from dubpreview.media.ffmpeg import ffmpeg_exe

    out = folder / f"ami_looped_{minutes:g}min.mp4"
    loops = int(minutes * 60 / 30) + 1
    # video copied; audio re-encoded: copied AAC loses its priming samples at every seam
    # (1.2 s over 10 minutes), which would leave the decoded audio shorter than the video
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-stream_loop", str(loops), "-i", DEMO,
                    "-t", str(minutes * 60), "-c:v", "copy", "-c:a", "aac", "-b:a", "128k", out], check=True)
    return out


def run_scene(scene: Path, folder: Path) -> dict:
    """Dub ``scene`` in a child process; wall seconds, peak RSS (MiB), stage peaks."""
    out = folder / (scene.stem + ".dub-pt.mp4")
    project = folder / (scene.stem + ".dubpreview")
    cmd = [sys.executable, "-m", "dubpreview.cli", "dub", str(scene), "--to", "pt", "--from", "en",
           "-o", str(out), "--project", str(project)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1], "wall": wall}
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # max over children so far
    stages = [json.loads(line) for line in (project / "runs.jsonl").read_text().splitlines()]
    top, rose_after = 0, ""
    for st in stages:
        if st.get("peak_rss_mb", 0) > top:
            top, rose_after = st["peak_rss_mb"], st["stage"]
    slowest = sorted(stages, key=lambda st: -st["seconds"])[:3]
    return {"wall": wall, "peak_mb": peak, "stage_peak_mb": top, "rose_after": rose_after,
            "slowest": ", ".join(f"{st['stage']} {st['seconds']:.0f} s" for st in slowest)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", default="1,10", help="scene lengths in minutes, comma-separated (60 for an hour)")
    ap.add_argument("--keep", default=None, help="keep the scenes and projects in this folder")
    args = ap.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dubpreview-long-"))
    folder.mkdir(parents=True, exist_ok=True)
    print("| scene | wall s | real-time factor | peak RSS MB | peak reached by | slowest stages |")
    print("|---|---:|---:|---:|---|---|")
    try:
        for minutes in (float(m) for m in args.minutes.split(",")):
            scene = make_scene(minutes, folder)
            r = run_scene(scene, folder)
            if "error" in r:
                print(f"| {minutes:g} min | {r['wall']:.0f} | | | failed: {r['error']} | |", flush=True)
                continue
            print(f"| {minutes:g} min | {r['wall']:.0f} | {r['wall'] / (minutes * 60):.2f} | {r['peak_mb']:.0f} | "
                  f"{r['rose_after']} | {r['slowest']} |", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
