"""Benchmark of the review loop through the studio's API; prints a table.

For each demo scene, a fresh ``dubpreview app`` server is started in its own process
(loopback only) and driven with ``gradio_client`` as a reviewer would: ``/run`` (cold: the
models load in that run), ``/render`` with no edit (warm), a timing edit of one line
(``/edit_line`` with an offset of +200 ms) then ``/render``, and a translation edit of one
line then ``/render``. Each render's seconds are the client's wall time (queue, callback,
files published, not fetched: a page fetches only what it plays) and the pipeline's own
seconds (its stage log); the table gives the ratio of each warm render to the cold run, and how many clips
the last synthesis computed (from ``/status``). Target (issue 3): a warm re-render of a
60 s scene after a one-line timing edit in under 2 s on a 2-core machine.

    python bench/review.py [--scenes ami,fillets] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
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


def last_render(client) -> tuple[float, int]:
    """The last render's pipeline seconds (sum of its stage log) and the clips its
    synthesis stages computed (from ``/status``)."""
    log = client.predict(api_name="/status")["stage_log"]
    return (sum(float(e.get("seconds") or 0) for e in log),
            sum(int(e.get("computed") or 0) for e in log if e["stage"].startswith("synthesize")))


def bench_scene(scene: str, tmp: Path) -> dict:
    from gradio_client import Client, handle_file

    from dubpreview.cli import DEMO_SCENES, demo_dir
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
        line = rows[len(rows) // 2]
        times = {}
        t0 = time.perf_counter()
        c.predict(lang, api_name="/render")
        times["render, no edit"] = (time.perf_counter() - t0, *last_render(c))
        c.predict(line[0], lang, None, float(line[7] or 0) + 200, None, None, None, api_name="/edit_line")
        t0 = time.perf_counter()
        c.predict(lang, api_name="/render")
        times["render after a timing edit"] = (time.perf_counter() - t0, *last_render(c))
        words = str(line[5]).split()
        edited = " ".join(words[:-1]) + "." if len(words) > 2 else str(line[5]) + " Sim."
        c.predict(line[0], lang, edited, None, None, None, None, api_name="/edit_line")
        t0 = time.perf_counter()
        c.predict(lang, api_name="/render")
        times["render after a translation edit"] = (time.perf_counter() - t0, *last_render(c))
        return {"scene": scene, "duration": probe(src).duration, "lines": len(rows), "cold": cold,
                "warm": {k: {"seconds": s, "pipeline": p, "ratio": s / cold, "clips": n}
                         for k, (s, p, n) in times.items()}}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", default="ami,fillets")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for scene in args.scenes.split(","):
            results.append(bench_scene(scene.strip(), Path(tmp)))
    print(f"{'scene':<9} {'length':>7} {'lines':>5} {'step':<34} {'seconds':>8} {'pipeline':>8} {'x cold':>7} "
          f"{'clips':>5}")
    for r in results:
        print(f"{r['scene']:<9} {r['duration']:6.1f}s {r['lines']:>5} {'run (cold, models load)':<34} {r['cold']:8.2f} "
              f"{'':>8} {1.0:7.3f} {'':>5}")
        for step, m in r["warm"].items():
            print(f"{'':<9} {'':>7} {'':>5} {step:<34} {m['seconds']:8.2f} {m['pipeline']:8.2f} {m['ratio']:7.3f} "
                  f"{m['clips']:>5}")
    print("\nseconds: the client's wall time until the page's new state arrived (queue, callback, files "
          "published; the files themselves not fetched); pipeline: the render's stages alone.")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
