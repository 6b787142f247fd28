"""The shared studio under load: 8 signed-in clients at once (gradio_client, 127.0.0.1 only).

The server runs as its own process (``dubpreview app``, one heavy job at a time), so its
peak memory is its own (VmHWM). Each client uploads a real 6 s clip of the AMI meeting
scene, runs it (en -> pt), edits a line and renders; a ninth uploads a file over the limit,
a tenth signs in with a wrong password. Then every user tries the others' project files.

Marked ``stress`` (minutes; not in the default test command): ``make stress``.
"""

from __future__ import annotations

import concurrent.futures
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

ROOT = Path(__file__).parents[1]
SCENE = ROOT / "demo" / "ami_meeting_tst00_en.mp4"
CLIENTS = 8
LIMIT_MB = 5
PEAK_RSS_BOUND_MB = 4000  # one heavy job's models (about 1.5 GB, bench/run.py) plus Gradio, never one per client

pytestmark = pytest.mark.stress


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm(pid: int, field: str) -> int:
    """A memory field of /proc/PID/status in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    return 0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from dubpreview.media.ffmpeg import ffmpeg_exe

    tmp = tmp_path_factory.mktemp("load")
    users = {f"user{i}": f"pw-{i}-secret" for i in range(CLIENTS)}
    (tmp / "users.txt").write_text("".join(f"{u}:{p}\n" for u, p in users.items()))
    clip = tmp / "clip.mp4"
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-t", "6", "-i", SCENE, "-c", "copy", clip], check=True)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "dubpreview.cli", "app", "--host", "127.0.0.1", "--port", str(port),
                             "--auth-file", str(tmp / "users.txt"), "--projects", str(tmp / "projects"),
                             "--max-upload", f"{LIMIT_MB}mb", "--jobs", "1"],
                            stdout=subprocess.DEVNULL, stderr=open(tmp / "server.log", "w"))
    url = f"http://127.0.0.1:{port}/"
    for _ in range(240):
        try:
            if httpx.get(url + "gradio_api/info", timeout=2).status_code in (200, 401):
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the studio did not start: " + (tmp / "server.log").read_text()[-2000:])
    yield type("S", (), {"url": url, "users": users, "clip": clip, "tmp": tmp, "pid": proc.pid,
                         "projects": tmp / "projects"})
    proc.terminate()
    proc.wait(timeout=30)


def session(server, user: str) -> dict:
    """One client's whole visit: upload and run, edit a line, render; returns what it saw."""
    folder = server.tmp / f"dl-{user}"
    folder.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    c = Client(server.url, auth=(user, server.users[user]), verbose=False, download_files=str(folder))
    out = c.predict(handle_file(str(server.clip)), False, "en", ["pt"], None, api_name="/run")
    table = c.predict("pt", api_name="/segments")
    line = table["data"][0][0]
    c.predict(line, "pt", f"Linha editada por {user}.", None, None, None, None, api_name="/edit_line")
    rendered = c.predict("pt", api_name="/render")
    status = c.predict(api_name="/status")
    return {"user": user, "seconds": time.perf_counter() - t0, "project": status["project"],
            "files": [str(f) for f in rendered[4]], "run_files": [str(f) for f in out[4]]}


def test_eight_clients_at_once_all_served_memory_bounded_no_cross_reads(server):
    peak = {"rss": 0}
    done = {"flag": False}

    def sample():
        while not done["flag"]:
            peak["rss"] = max(peak["rss"], vm(server.pid, "VmRSS"))
            time.sleep(0.5)

    big = server.tmp / "big.mp4"
    big.write_bytes(b"\0" * (LIMIT_MB + 1) * 1_000_000)
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(CLIENTS + 2) as pool:
        sampler = pool.submit(sample)
        visits = [pool.submit(session, server, user) for user in server.users]

        def oversize():
            c = Client(server.url, auth=("user0", server.users["user0"]), verbose=False)
            t = time.perf_counter()
            with pytest.raises(Exception, match=r"(?i)too large|limit|exceeds|size") as err:
                c.predict(handle_file(str(big)), False, "en", ["pt"], None, api_name="/run")
            return time.perf_counter() - t, str(err.value)

        refused = pool.submit(oversize)
        results = [v.result(timeout=1500) for v in visits]
        refused_s, refused_msg = refused.result(timeout=300)
        done["flag"] = True
        sampler.result()
    wall = time.perf_counter() - t0
    hwm = vm(server.pid, "VmHWM")
    print(f"\n{CLIENTS} clients: wall {wall:.1f} s, per visit {min(r['seconds'] for r in results):.1f}-"
          f"{max(r['seconds'] for r in results):.1f} s, server peak RSS {hwm} MB; oversize refused in {refused_s:.2f} s")
    assert len({r["project"] for r in results}) == CLIENTS  # every client got its own project, none failed
    assert refused_s < 30  # refused at upload, before any queue wait for a heavy job
    assert hwm < PEAK_RSS_BOUND_MB, hwm
    # wrong passwords are refused
    r = httpx.post(server.url + "login", data={"username": "user1", "password": "pw-0-secret"}, timeout=10)
    assert r.status_code in (400, 401)
    # every user tries every other user's project files by URL: refused
    folders = {r["user"]: next(server.projects.glob(f"*/{r['project']}")) for r in results}
    for user in list(server.users)[:3]:
        http = httpx.Client(base_url=server.url, timeout=10)
        assert http.post("login", data={"username": user, "password": server.users[user]}).status_code == 200
        for other, folder in folders.items():
            for name in ("preview.mp4", "project.json", "mix.pt.wav"):
                assert http.get(f"gradio_api/file={folder / name}").status_code in (403, 404), (user, other, name)
            # a guessed cache URL (the right file name, a made-up secret folder) serves nothing
            assert http.get(f"gradio_api/file=/tmp/gradio/{'0' * 64}/preview.mp4").status_code in (403, 404)
    # and through the API, another user's project id is unknown to them
    c = Client(server.url, auth=("user1", server.users["user1"]), verbose=False)
    with pytest.raises(Exception, match="you have no project"):
        c.predict(results[0]["project"], api_name="/open_project")


def test_a_full_queue_answers_busy_at_once_and_serves_the_rest(tmp_path):
    """One heavy job at a time and room for one waiting: of three runs sent together, two are
    served and the third gets Gradio's one-line "queue is full" answer at once."""
    from dubpreview.app import launch
    from dubpreview.media.ffmpeg import ffmpeg_exe

    clip = tmp_path / "clip.mp4"
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-t", "6", "-i", SCENE, "-c", "copy", clip], check=True)
    port = free_port()
    demo = launch("127.0.0.1", port, auth=["ann:pw-ann"], projects=str(tmp_path / "projects"), queue=1, jobs=1,
                  block=False, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        clients = [Client(url, auth=("ann", "pw-ann"), verbose=False) for _ in range(3)]

        def visit(c):
            t = time.perf_counter()
            try:
                c.predict(handle_file(str(clip)), False, "en", ["pt"], None, api_name="/run")
                return "served", time.perf_counter() - t
            except Exception as exc:  # noqa: BLE001 - the answer itself is what is checked
                return str(exc), time.perf_counter() - t

        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            answers = list(pool.map(visit, clients))
    finally:
        demo.close()
    print(f"\nqueue of 1, three runs at once: {answers}")
    served = [a for a in answers if a[0] == "served"]
    busy = [a for a in answers if a[0] != "served"]
    assert len(served) == 2 and len(busy) == 1, answers
    for message, seconds in busy:
        assert "queue is full" in message.lower() and "\n" not in message.strip() and seconds < 10, answers
