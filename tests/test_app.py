"""The review studio through its API: a live server on 127.0.0.1 driven by gradio_client.

A 12 s cut of the demo scene is uploaded and dubbed (en -> pt) by user alice; one
translation is edited through the API and the preview rendered again; the downloaded MP4's
streams are checked with PyAV and the project's stage log shows that only the edited
line was synthesized. Sign-in, the share rule, upload checks, the per-line tools, the
project archive and the isolation of two users' sessions are checked on the same server.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import av
import httpx
import numpy as np
import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

from dubpreview.errors import DubError  # noqa: E402

PREVIEW = "dubbed preview.mp4"
"""The preview's name in the studio's downloads (named by what each file is)."""

ROOT = Path(__file__).parents[1]
SCENE = ROOT / "demo" / "ami_meeting_tst00_en.mp4"
USERS = {"alice": "pw-alice-1", "bob": "pw-bob-2"}
LIMIT_MB = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cut(src: Path, dst: Path, seconds: float) -> Path:
    from dubpreview.media.ffmpeg import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-t", str(seconds), "-i", str(src), "-c", "copy", str(dst)],
                   check=True, timeout=60)
    return dst


def video_packet_hashes(path: Path) -> list[str]:
    with av.open(str(path)) as c:
        return [hashlib.sha256(bytes(p)).hexdigest() for p in c.demux(c.streams.video[0]) if p.size]


def layout(path: Path) -> dict:
    with av.open(str(path)) as c:
        return {"video": [s.codec_context.name for s in c.streams.video],
                "audio": [(s.metadata.get("language"), bool(s.disposition & av.stream.Disposition.default))
                          for s in c.streams.audio],
                "subtitles": sorted(s.metadata.get("language") for s in c.streams.subtitles)}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from dubpreview.app import launch

    tmp = tmp_path_factory.mktemp("app")
    port = free_port()
    demo = launch("127.0.0.1", port, auth=[f"{u}:{p}" for u, p in USERS.items()], projects=str(tmp / "projects"),
                  max_upload=f"{LIMIT_MB}mb", block=False, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    yield SimpleNamespace(url=url, tmp=tmp, projects=tmp / "projects", clip=cut(SCENE, tmp / "meeting.mp4", 12))
    demo.close()


def client(server, user: str, tag: str = "") -> Client:
    folder = server.tmp / f"downloads-{user}{tag}"
    folder.mkdir(exist_ok=True)
    return Client(server.url, auth=(user, USERS[user]), verbose=False, download_files=str(folder))


@pytest.fixture(scope="module")
def alice_run(server):
    """alice uploads the clip and runs it: (client, outputs of /run, seconds)."""
    c = client(server, "alice")
    t0 = time.perf_counter()
    out = c.predict(handle_file(str(server.clip)), False, "en", ["pt"], None, api_name="/run")
    return c, out, time.perf_counter() - t0


def project_dir(server, pid: str) -> Path:
    (found,) = list(server.projects.glob(f"*/{pid}"))
    return found


# -- sign-in and sharing ------------------------------------------------------------------------

def test_wrong_password_is_refused_over_http_and_client(server):
    assert httpx.get(server.url + "gradio_api/info", timeout=10).status_code == 401
    r = httpx.post(server.url + "login", data={"username": "alice", "password": "wrong"}, timeout=10)
    assert r.status_code in (400, 401) and "access-token" not in "".join(r.cookies.keys())
    ok = httpx.post(server.url + "login", data={"username": "alice", "password": USERS["alice"]}, timeout=10)
    assert ok.status_code == 200 and ok.json() == {"success": True}
    with pytest.raises(Exception, match="(?i)credentials|login|auth"):
        Client(server.url, auth=("alice", "wrong"), verbose=False)
    with pytest.raises(Exception):
        Client(server.url, auth=("mallory", USERS["alice"]), verbose=False)


def test_share_without_auth_is_refused(tmp_path, monkeypatch):
    from dubpreview.app import launch
    from dubpreview.cli import main

    monkeypatch.delenv("DUBPREVIEW_AUTH", raising=False)
    with pytest.raises(DubError, match="--share makes a public link"):
        launch(share=True, projects=str(tmp_path), block=False)
    proc = subprocess.run([sys.executable, "-m", "dubpreview", "app", "--share", "--projects", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "dubpreview: error: --share makes a public link: give --auth USER:PASS (or --auth-file, or "
        "$DUBPREVIEW_AUTH); --insecure-share starts it without sign-in"]
    assert main(["app", "--share", "--auth", "no-colon", "--projects", str(tmp_path)]) == 2


def test_credentials_from_flag_file_and_environment(tmp_path):
    from dubpreview.app.auth import check_share, checker, load_credentials

    f = tmp_path / "users.txt"
    f.write_text("# editors\ncarol:pa:ss\n\n", encoding="utf-8")
    creds = load_credentials(["alice:a1"], f, env={"DUBPREVIEW_AUTH": "bob:b2, dave:d4"})
    assert creds == {"alice": "a1", "carol": "pa:ss", "bob": "b2", "dave": "d4"}
    check = checker(creds)
    assert check("carol", "pa:ss") and not check("carol", "pa") and not check("eve", "")
    check_share(True, creds, False)  # with credentials: allowed
    check_share(True, {}, True)  # explicit opt-out: allowed
    with pytest.raises(DubError):
        check_share(True, {}, False)
    with pytest.raises(DubError, match="USER:PASS"):
        load_credentials(["alice:"])


# -- the review loop through the API --------------------------------------------------------------

@pytest.mark.slow
def test_run_edit_render_download(server, alice_run):
    c, out, seconds = alice_run
    summary, player, language, table, files, stages = out
    print(f"cold run of the 12 s clip through the app: {seconds:.1f} s")
    assert "English → Portuguese" in summary
    assert 'id="dp-video"' in player and 'data-track="original"' in player
    assert language["value"] == "pt"
    rows = table["data"]
    assert table["headers"][5] == "translation" and len(rows) >= 2
    assert all(r[5] for r in rows) and all(r[9] for r in rows)
    names = {Path(f).name for f in files}
    assert {"dubbed preview.mp4", "dub stem (pt).wav", "mix (pt).wav", "subtitles pt.srt", "subtitles pt.vtt",
            "subtitles en (original).srt", "subtitles en (original).vtt", "timing report.json"} <= names, names
    preview = next(Path(f) for f in files if Path(f).name == PREVIEW)
    assert layout(preview) == {"video": ["h264"], "audio": [("por", True), ("eng", False)], "subtitles": ["eng", "por"]}
    assert video_packet_hashes(preview) == video_packet_hashes(server.clip), "the video was re-encoded"

    status = c.predict(api_name="/status")
    folder = project_dir(server, status["project"])
    before = json.loads((folder / "timing.json").read_text())["languages"]["pt"]["lines"]
    edited_id = rows[1][0]
    new_text = "Sim, sim, claro."
    table2 = c.predict(edited_id, "pt", new_text, None, None, None, None, api_name="/edit_line")
    assert table2[1][5] == new_text
    t0 = time.perf_counter()
    out2 = c.predict("pt", api_name="/render")
    print(f"warm render after a translation edit: {time.perf_counter() - t0:.1f} s")
    status = c.predict(api_name="/status")
    synth = next(e for e in status["stage_log"] if e["stage"].startswith("synthesize pt"))
    after = json.loads((folder / "timing.json").read_text())["languages"]["pt"]["lines"]
    moved = sum(1 for a, b in zip(before, after) if a["segment_id"] != edited_id and a["speed"] != b["speed"])
    # the edited line's natural clip, perhaps one at its speed and one correction; others only if re-timed
    assert 1 <= synth["computed"] <= 3 + 2 * moved, (synth, moved)
    # a render is a function of the project's state: the analysis is not entered again
    assert not any(e["stage"].startswith(("extract audio", "transcribe", "translate", "diarize"))
                   for e in status["stage_log"]), status["stage_log"]
    files2 = out2[4]
    preview2 = next(Path(f) for f in files2 if Path(f).name == PREVIEW)
    assert preview2 != preview and layout(preview2) == layout(preview)
    assert video_packet_hashes(preview2) == video_packet_hashes(server.clip)
    srt = next(Path(f) for f in files2 if Path(f).name == "subtitles pt.srt").read_text(encoding="utf-8")
    assert new_text in srt
    assert out2[3]["data"][1][5] == new_text


@pytest.mark.slow
def test_table_edit_of_an_offset_only_remixes(server, alice_run):
    c, *_ = alice_run
    table = c.predict("pt", api_name="/segments")
    rows = [list(r) for r in table["data"]]
    folder = project_dir(server, c.predict(api_name="/status")["project"])
    old = json.loads((folder / "timing.json").read_text())["languages"]["pt"]["lines"][0]
    rows[0][7] = int(rows[0][7]) + 300
    new_table, message = c.predict("pt", {"headers": table["headers"], "data": rows}, api_name="/edit_table")
    assert "line 0: offset 300 ms" in message
    assert json.loads((folder / "project.json").read_text())["segments"][0]["offset_ms"] == 300
    c.predict("pt", api_name="/render")
    new = json.loads((folder / "timing.json").read_text())["languages"]["pt"]["lines"][0]
    assert abs(new["desired_start"] - old["desired_start"] - 0.3) < 1e-3
    log = c.predict(api_name="/status")["stage_log"]
    assert next(e for e in log if e["stage"].startswith("mix pt"))["status"] == "computed"
    # a timing edit synthesizes nothing: every line keeps a clip that still fits its speed
    assert next(e for e in log if e["stage"].startswith("synthesize pt"))["computed"] == 0
    # a bad cell is one line, not a traceback
    rows[0][8] = "fast"
    with pytest.raises(Exception, match="line 0: speed 'fast' is not a number") as err:
        c.predict("pt", {"headers": table["headers"], "data": rows}, api_name="/edit_table")
    assert "Traceback" not in str(err.value)


@pytest.mark.slow
def test_line_excerpts_and_regenerate(server, alice_run):
    import soundfile as sf

    c, *_ = alice_run
    rows = c.predict("pt", api_name="/segments")["data"]
    start, end = rows[0][2], rows[0][3]
    orig = c.predict(0, api_name="/play_original")
    data, rate = sf.read(orig)
    assert abs(len(data) / rate - (end - start + 0.5)) < 0.1
    dub = c.predict(0, "pt", api_name="/play_dub")
    folder = project_dir(server, c.predict(api_name="/status")["project"])
    # the seeked excerpt is the source's own sound there (away from its 10 ms fades)
    from dubpreview.media.extract import load_audio

    state = json.loads((folder / "project.json").read_text())
    from dubpreview.project.schema import inside

    whole = load_audio(inside(folder, state["source"]["path"]), rate, 1).samples
    a = int(max(0.0, start - 0.25) * rate)
    cut, got = whole[a + 960: a + len(data) - 960], data[960: len(data) - 960]
    assert np.corrcoef(cut[: len(got)], got[: len(cut)])[0, 1] > 0.99
    line = json.loads((folder / "timing.json").read_text())["languages"]["pt"]["lines"][0]
    data, rate = sf.read(dub)
    assert abs(len(data) / rate - (line["duration"] + 0.1)) < 0.1 and abs(data).max() > 0.01
    c.predict(0, "pt", api_name="/regenerate")
    synth = next(e for e in c.predict(api_name="/status")["stage_log"] if e["stage"].startswith("synthesize pt"))
    assert 1 <= synth["computed"] <= 3, synth
    with pytest.raises(Exception, match="the project has no line 999"):
        c.predict(999, api_name="/play_original")


def test_uploads_are_probed_and_limited(server):
    c = client(server, "bob", "-uploads")
    fake = server.tmp / "notes.mp4"
    fake.write_text("this is not a video\n" * 100, encoding="utf-8")
    with pytest.raises(Exception) as err:
        c.predict(handle_file(str(fake)), False, "en", ["pt"], None, api_name="/run")
    message = str(err.value)
    assert "notes.mp4" in message and "Traceback" not in message and "\n" not in message.strip()
    big = server.tmp / "big.wav"
    with open(big, "wb") as f:
        f.truncate((LIMIT_MB + 1) * 1000 * 1000)
    with pytest.raises(Exception, match="(?i)size|large|413"):
        c.predict(handle_file(str(big)), False, "en", ["pt"], None, api_name="/run")
    assert c.predict(api_name="/list_projects") == [], "a refused upload left a project behind"
    with pytest.raises(Exception, match="no project is open in this session"):
        c.predict(api_name="/status")


@pytest.mark.slow
def test_two_users_do_not_see_each_other(server, alice_run):
    a, *_ = alice_run
    a_pid = a.predict(api_name="/status")["project"]
    a_folder = project_dir(server, a_pid)
    archive = Path(a.predict(api_name="/archive"))
    assert archive.suffix == ".zip"
    b = client(server, "bob")
    assert b.predict(api_name="/list_projects") == []
    with pytest.raises(Exception, match=f"you have no project {a_pid}"):
        b.predict(a_pid, api_name="/open_project")
    with pytest.raises(Exception, match="no project is open in this session"):
        b.predict("pt", api_name="/render")
    # the project folder is never served, to its owner or anyone else
    for user in USERS:
        http = httpx.Client(base_url=server.url, timeout=10)
        http.post("login", data={"username": user, "password": USERS[user]})
        assert http.get(f"gradio_api/file={a_folder / 'preview.mp4'}").status_code == 403
        assert http.get(f"gradio_api/file={a_folder / 'project.json'}").status_code == 403
    # bob opens alice's archive as his own copy while alice renders: both at once, bounded
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        fb = pool.submit(b.predict, handle_file(str(archive)), api_name="/import_project")
        fa = pool.submit(a.predict, "pt", api_name="/render")
        out_b, out_a = fb.result(timeout=300), fa.result(timeout=300)
    b_pid = b.predict(api_name="/status")["project"]
    assert b_pid != a_pid and a.predict(api_name="/status")["project"] == a_pid
    assert [p["id"] for p in b.predict(api_name="/list_projects")] == [b_pid]
    assert b_pid not in [p["id"] for p in a.predict(api_name="/list_projects")]
    assert out_b[3]["data"] == out_a[3]["data"], "the archive did not carry the edits"
    assert set(out_b[4]).isdisjoint(out_a[4])
    assert layout(next(Path(f) for f in out_b[4] if Path(f).name == PREVIEW))["audio"] == [("por", True), ("eng", False)]
    imported = json.loads((project_dir(server, b_pid) / "project.json").read_text())
    assert imported["source"]["path"].startswith(str(project_dir(server, b_pid)))
    assert imported["settings"]["voices"]["library"] == str(project_dir(server, b_pid).parent / "voices"), \
        "an imported project must use its new owner's voice library"
    # a second session of alice starts with no project open, but lists hers
    a2 = client(server, "alice", "-second")
    with pytest.raises(Exception, match="no project is open in this session"):
        a2.predict(api_name="/status")
    assert a_pid in [p["id"] for p in a2.predict(api_name="/list_projects")]
    assert a2.predict(a_pid, api_name="/open_project")[0].startswith(f"**Project {a_pid}**")


@pytest.mark.slow
def test_speaker_voice_library_and_mix_options(server, alice_run):
    """Pick a Kokoro voice for a speaker, save the speakers to alice's library, change the
    bed level and loudness target: each through its API endpoint, each heard in the render."""
    import pyloudnorm
    import soundfile as sf

    c, *_ = alice_run
    folder = project_dir(server, c.predict(api_name="/status")["project"])
    state = json.loads((folder / "project.json").read_text())
    speaker = next(iter(state["speakers"]))
    out = c.predict(speaker, "Chair", "jm_kumo", "male", "", "pt", api_name="/edit_speaker")
    state = json.loads((folder / "project.json").read_text())
    assert state["speakers"][speaker]["voice"] == "jm_kumo"
    assert state["speakers"][speaker]["label"] == "Chair" and state["speakers"][speaker]["gender_override"] == "male"
    rows = [r for r in out[3]["data"] if r[1] == speaker]
    assert rows and all(r[6] == "jm_kumo" for r in rows), "the table must show the speaker's picked voice"
    log = c.predict(api_name="/status")["stage_log"]
    assert next(e for e in log if e["stage"].startswith("synthesize pt"))["computed"] >= len(rows)
    with pytest.raises(Exception, match="unknown voice 'nobody'"):
        c.predict(speaker, "", "nobody", "from the audio", "", "pt", api_name="/edit_speaker")
    # back to the matched voice; then save the speakers in alice's library (not bob's)
    c.predict(speaker, "", "matched (from the actor's voice)", "from the audio", "", "pt", api_name="/edit_speaker")
    assert json.loads((folder / "project.json").read_text())["speakers"][speaker]["voice"] is None
    c.predict("pt", api_name="/save_voices")
    saved = sorted((folder.parent / "voices").glob("*.json"))
    assert saved, "no profile was saved in alice's library"
    assert not list(server.projects.glob("bob-*/voices/*.json"))
    # the mix and timing: a loud target (-8 LUFS, accepted by the form) is met by the programme and
    # survives the next render (issue 16: the schema once refused it); a bad value is one line
    out = c.predict("none", -8.0, -6.0, 1.1, 1.25, "pt", api_name="/mix")
    settings = json.loads((folder / "project.json").read_text())["settings"]
    assert (settings["separation"]["method"], settings["mix"]["target_lufs"], settings["mix"]["bed_db"]) == ("none", -8.0, -6.0)
    assert (settings["timing"]["accepted_speed"], settings["timing"]["max_speed"]) == (1.1, 1.25)
    c.predict("pt", api_name="/render")
    data, rate = sf.read(folder / "mix.pt.wav")
    assert abs(pyloudnorm.Meter(rate).integrated_loudness(data) + 8.0) < 1.0
    with pytest.raises(Exception, match="3.0 (is outside -40..-5|is greater than maximum)") as err:
        c.predict("auto", 3.0, 0.0, 1.2, 1.3, "pt", api_name="/mix")  # Gradio's own bound, or ours behind it
    assert "Traceback" not in str(err.value)
    with pytest.raises(Exception, match="accepted.*max"):
        c.predict("auto", -23.0, 0.0, 1.3, 1.1, "pt", api_name="/mix")
    with pytest.raises(Exception, match="demucs.*'spleeter'"):
        c.predict("demucs", -23.0, 0.0, 1.2, 1.3, "pt", api_name="/mix")


def test_bad_archive_and_unsafe_paths_are_refused(tmp_path):
    import zipfile

    from dubpreview.app.projects import ProjectStore

    store = ProjectStore(tmp_path / "p")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("project.json", "{}")
        zf.writestr("app.json", "{}")
        zf.writestr("source/a.mp4", "x")
        zf.writestr("../../escape.txt", "x")
    with pytest.raises(DubError, match="unsafe path"):
        store.import_archive("eve", evil)
    assert not (tmp_path / "escape.txt").exists()
    (tmp_path / "plain.zip").write_text("not a zip")
    with pytest.raises(DubError, match="not a dubpreview project archive"):
        store.import_archive("eve", tmp_path / "plain.zip")
    with pytest.raises(DubError, match="is not a project id"):
        store.get("eve", "../alice-123/abc")
    assert list((tmp_path / "p").glob("*/*")) == []
