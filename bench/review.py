"""Benchmark of the review loop through the studio's API; prints a table.

For each demo scene, a fresh ``dubpreview app`` server is started in its own process
(loopback only) and driven with ``gradio_client`` as a reviewer would: ``/run`` (cold: the
models load in that run), ``/render`` with no edit (warm), a timing edit of one line
(``/edit_line`` with an offset of +/-200 ms) then ``/render``, and a translation edit of one
line then ``/render``, each ``--repeats`` times on lines spread over the scene. Each render's seconds are the client's wall time (queue, callback,
files published, not fetched: a page fetches only what it plays) and the pipeline's own
seconds (its stage log); the table gives medians, the wall time less the synthesis stages, and
how many clips each render synthesized (from ``/status``). Targets (issue 16): after a timing
edit <= 1 s median and no clip synthesized; after a translation edit <= 1 s plus that line's
own synthesis.

    python bench/review.py [--scenes ami,fillets] [--repeats 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(projects: Path) -> tuple[subprocess.Popen, str]:
    """``dubpreview app`` in a child process; returns it and its URL once it answers."""
    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "dubpreview", "app", "--port", str(port), "--projects", str(projects)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the app did not start: {proc.stderr.read()[-2000:]}")
        try:
            if httpx.get(url + "gradio_api/info", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("the app did not answer within 120 s")


def last_render(client) -> tuple[float, float, int]:
    """The last render's pipeline seconds (sum of its stage log), its synthesis seconds and the
    clips its synthesis stages computed (from ``/status``, the newest run's stages only)."""
    log = client.predict(api_name="/status")["stage_log"]
    synth = [e for e in log if e["stage"].startswith("synthesize")]
    return (sum(float(e.get("seconds") or 0) for e in log), sum(float(e.get("seconds") or 0) for e in synth),
            sum(int(e.get("computed") or 0) for e in synth))


def timed_render(client, lang: str) -> dict:
    """One ``/render``: client wall seconds, pipeline seconds, synthesis seconds, clips."""
    t0 = time.perf_counter()
    client.predict(lang, api_name="/render")
    wall = time.perf_counter() - t0
    pipeline, synth, clips = last_render(client)
    return {"seconds": wall, "pipeline": pipeline, "synthesis": synth, "clips": clips}


def shortened(text: str) -> str:
    """A translation edit a reviewer makes: the last word dropped (or one added)."""
    words = str(text).split()
    return " ".join(words[:-1]).rstrip(",;:") + "." if len(words) > 2 else str(text) + " Sim."


def bench_scene(scene: str, tmp: Path, repeats: int) -> dict:
    from gradio_client import Client, handle_file

    from dubpreview.demo import DEMO_SCENES, demo_dir
    from dubpreview.media.probe import probe

    spec = DEMO_SCENES[scene]
    src = demo_dir() / spec["file"]
    translation = handle_file(str(demo_dir() / spec["translation"])) if spec["translation"] else None
    proc, url = start_server(tmp / f"projects-{scene}")
    try:
        c = Client(url, verbose=False, download_files=False)  # as a page: the files are not fetched
        t0 = time.perf_counter()
        out = c.predict(handle_file(str(src)), False, spec["from"], spec["to"], translation, api_name="/run")
        cold = time.perf_counter() - t0
        lang = spec["to"][0]
        rows = out[3]["data"]
        picks = [rows[(i * len(rows)) // repeats + len(rows) // (2 * repeats)] for i in range(repeats)]
        steps: dict[str, list[dict]] = {"render, no edit": [], "render after a timing edit": [],
                                        "render after a translation edit": []}
        for _ in range(repeats):
            steps["render, no edit"].append(timed_render(c, lang))
        for k, line in enumerate(picks):  # +200 ms, then back: each edit moves one line
            c.predict(line[0], lang, None, float(line[7] or 0) + (200 if k % 2 == 0 else -200), None, None, None,
                      api_name="/edit_line")
            steps["render after a timing edit"].append(timed_render(c, lang))
        for line in picks:
            c.predict(line[0], lang, shortened(line[5]), None, None, None, None, api_name="/edit_line")
            steps["render after a translation edit"].append(timed_render(c, lang))
        return {"scene": scene, "duration": probe(src).duration, "lines": len(rows), "cold": cold, "warm": steps}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", default="ami,fillets")
    ap.add_argument("--repeats", type=int, default=5, help="edits (and plain renders) of each kind per scene")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for scene in args.scenes.split(","):
            results.append(bench_scene(scene.strip(), Path(tmp), args.repeats))
    print(f"{'scene':<9} {'length':>7} {'lines':>5} {'step':<34} {'median s':>8} {'max s':>6} {'pipeline':>8} "
          f"{'w/o synth':>9} {'clips':>9}")
    for r in results:
        print(f"{r['scene']:<9} {r['duration']:6.1f}s {r['lines']:>5} {'run (cold, models load)':<34} {r['cold']:8.2f}")
        for step, runs in r["warm"].items():
            wall = [m["seconds"] for m in runs]
            clips = [m["clips"] for m in runs]
            print(f"{'':<9} {'':>7} {'':>5} {step:<34} {statistics.median(wall):8.2f} {max(wall):6.2f} "
                  f"{statistics.median(m['pipeline'] for m in runs):8.2f} "
                  f"{statistics.median(m['seconds'] - m['synthesis'] for m in runs):9.2f} "
                  f"{statistics.median(clips):4.0f} ({min(clips)}-{max(clips)})")
    print(f"\nmedian/max s: the client's wall time of /render over {args.repeats} edits (queue, callback, files "
          "published, not fetched); pipeline: the render's stages alone; w/o synth: the wall time less the "
          "synthesis stages (the edited line's own synthesis); clips: synthesized per render, median (range). "
          "Targets (issue 16): timing edit <= 1 s median with 0 clips; translation edit <= 1 s w/o synth.")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
