"""The Gradio callbacks of the review studio and the per-session project.

Each browser session (Gradio's ``session_hash``; one per :class:`gradio_client.Client`)
works on one project at a time, remembered here server-side together with its owner
(the signed-in user, or ``local`` without sign-in). Every callback turns a
:class:`~dubpreview.errors.DubError` into a one-line ``gr.Error``; anything unexpected is
logged with its traceback on the server and shown as one line.

Files reach the browser only through Gradio's cache: :meth:`Studio.publish` copies a
project file there under a secret content hash. The projects root itself is never an
allowed path, so ``/gradio_api/file=<project path>`` is refused for everyone.
"""

from __future__ import annotations

import functools
import html
import logging
import threading
import urllib.parse
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from dubpreview import languages
from dubpreview.errors import DubError
from dubpreview.project import edits

from . import files, service, speakers
from .projects import ProjectStore
from .state import project_state, targets_of

log = logging.getLogger("dubpreview.app")
LOCAL_OWNER = "local"
API_PREFIX = "gradio_api"


@dataclass
class AppConfig:
    """How the studio runs: projects root, CPU threads per model, upload limit (bytes),
    how many heavy jobs (run, render, regenerate, import, archive) run at once."""

    projects: str | None = None
    threads: int = 2
    max_upload_bytes: int = 500 * 1000 * 1000
    heavy_concurrency: int = 1


def one_line(fn):
    """Decorator: DubError -> gr.Error(message); any other exception -> one line, traceback in the server log."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except DubError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception as exc:  # noqa: BLE001 - the user sees one line, the log the traceback
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"internal error: {type(exc).__name__}: {exc}", print_exception=False) from None
    return wrapper


class Sessions:
    """session hash -> (owner, project folder); bounded (oldest forgotten first), thread-safe."""

    def __init__(self, capacity: int = 2000):
        self._map: OrderedDict[str, tuple[str, Path]] = OrderedDict()
        self._lock = threading.Lock()
        self.capacity = capacity

    def set(self, key: str, owner: str, folder: Path) -> None:
        with self._lock:
            self._map[key] = (owner, folder)
            self._map.move_to_end(key)
            while len(self._map) > self.capacity:
                self._map.popitem(last=False)

    def get(self, key: str, owner: str) -> Path:
        with self._lock:
            entry = self._map.get(key)
        if entry is None or entry[0] != owner:
            raise DubError("no project is open in this session: run a scene or open a project first")
        return entry[1]

    def drop(self, key: str) -> None:
        with self._lock:
            self._map.pop(key, None)


def owner_of(request: gr.Request | None) -> str:
    """The signed-in user's name, or ``local`` when the app runs without sign-in."""
    return (getattr(request, "username", None) or LOCAL_OWNER) if request is not None else LOCAL_OWNER


def _key(request: gr.Request | None) -> str:
    key = getattr(request, "session_hash", None)
    if not key:
        raise DubError("this call has no session; use the web page or gradio_client")
    return key


class Studio:
    """The callbacks, bound to one projects store and configuration."""

    def __init__(self, config: AppConfig):
        self.config = config
        self.store = ProjectStore(config.projects)
        self.sessions = Sessions()
        self.publisher: gr.components.Component | None = None  # set by the layout

    # -- helpers ---------------------------------------------------------------------------
    def folder(self, request: gr.Request) -> Path:
        """The project open in this session (DubError when none)."""
        return self.sessions.get(_key(request), owner_of(request))

    def publish(self, path: Path | None) -> str | None:
        """Copy a project file into Gradio's cache (secret content-hash folder); its cache path."""
        if path is None:
            return None
        return self.publisher.move_resource_to_block_cache(str(path))

    def url(self, path: Path) -> str:
        """A URL (relative to the page) that serves ``path`` from Gradio's cache."""
        return f"{API_PREFIX}/file=" + urllib.parse.quote(self.publish(path))

    def player(self, folder: Path) -> str:
        """The preview player: the video (its first audio track is the first dub) and one
        hidden audio element per other track (the original, further dubs), kept in sync with
        the video by the page script; a switch picks what is heard."""
        state = project_state(folder)
        preview = Path(state["outputs"]["preview"])
        targets = state["settings"]["targets"]
        src_name = languages.name(state.get("source_language") or "und")
        tracks = [("video", f"Dub ({languages.name(targets[0])})", None),
                  ("original", f"Original ({src_name})", files.original_audio(folder))]
        tracks += [(f"dub-{t}", f"Dub ({languages.name(t)})", folder / f"mix.{t}.wav") for t in targets[1:]]
        tag = "video" if preview.suffix == ".mp4" else "audio"
        parts = [f'<div id="dp-player" data-preview="{html.escape(preview.name)}">',
                 f'<{tag} id="dp-video" src="{html.escape(self.url(preview))}" controls preload="auto" '
                 f'playsinline style="width:100%;max-height:420px;background:#000"></{tag}>']
        for track, _, path in tracks[1:]:
            if path is not None and path.is_file():
                parts.append(f'<audio data-track="{track}" src="{html.escape(self.url(path))}" preload="auto"></audio>')
        parts.append('<div class="dp-switch" role="radiogroup" aria-label="Audio">Hear: ')
        for i, (track, label, _) in enumerate(tracks):
            checked = " checked" if i == 0 else ""
            parts.append(f'<label><input type="radio" name="dp-track" value="{track}"{checked}> '
                         f'{html.escape(label)}</label> ')
        parts.append("</div></div>")
        return "".join(parts)

    def view(self, folder: Path, language: str | None = None, result=None):
        """Everything the page shows for a project: summary, player, language choice,
        segment table, downloads, stage log."""
        targets = targets_of(folder)
        lang = language if language in targets else targets[0]
        downloads = [self.publish(p) for p in files.downloads(folder).values()]
        note = "" if len(targets) == 1 else (
            f" · the player's video carries the {languages.name(targets[0])} dub; the switch plays the others")
        log_md = service.stage_table(result.stage_log) if result is not None else "_opened from disk_"
        return (service.summary(folder, result) + note, self.player(folder),
                gr.Dropdown(choices=targets, value=lang), service.segment_rows(folder, lang), downloads, log_md)

    def library(self, owner: str) -> Path:
        """``owner``'s voice library (saved actor profiles), beside their projects."""
        return self.store.owner_dir(owner) / "voices"

    def _render(self, folder: Path, language: str | None, progress):
        """Render ``folder`` again (progress per stage) and return its view."""
        targets = targets_of(folder)
        return self.view(folder, language, service.render_project(folder, self._progress(progress, targets)))

    def _progress(self, progress, targets: list[str]) -> service.StageProgress:
        return service.StageProgress(lambda f, d: progress(f, desc=d), service.expected_stages(targets))

    # -- callbacks -------------------------------------------------------------------------
    @one_line
    def run(self, scene: str | None, use_demo: bool, source_language: str, targets: list[str],
            translation: str | None, separation: str = "auto", target_lufs: float = -23.0, bed_db: float = 0.0,
            accepted_speed: float | None = None, max_speed: float | None = None,
            request: gr.Request = None, progress=gr.Progress()):
        """Create a project from the uploaded scene (or the demo scene) and dub it, with the
        mix and timing options (separation method, target loudness in LUFS, bed level in dB,
        accepted and maximum speed-up; empty speeds take the defaults)."""
        from dubpreview.demo import DEMO_SCENES, demo_dir

        if use_demo:
            scene = str(demo_dir() / DEMO_SCENES["ami"]["file"])
            if source_language in (None, "", "auto"):
                source_language = DEMO_SCENES["ami"]["from"]
        if not scene:
            raise DubError("upload a scene (video or audio) or tick 'use the demo scene'")
        targets = [languages.normalize(t) for t in (targets or [])]
        owner = owner_of(request)
        folder, result = service.run_project(
            self.store, owner, scene, Path(scene).name, source_language, targets, translation,
            threads=self.config.threads, max_bytes=self.config.max_upload_bytes,
            reporter=self._progress(progress, targets), separation=separation,
            target_lufs=-23.0 if target_lufs is None else target_lufs, bed_db=0.0 if bed_db is None else bed_db,
            accepted_speed=accepted_speed, max_speed=max_speed, voice_library=self.library(owner))
        self.sessions.set(_key(request), owner, folder)
        return self.view(folder, targets[0], result)

    @one_line
    def render(self, language: str | None, request: gr.Request, progress=gr.Progress()):
        """Render the open project after edits (warm: cached clips, video copied)."""
        folder = self.folder(request)
        return self._render(folder, language, progress)

    @one_line
    def regenerate(self, line: float | None, language: str | None, request: gr.Request, progress=gr.Progress()):
        """Synthesize one line again (its cached clips dropped) and render."""
        folder = self.folder(request)
        if line is None:
            raise DubError("pick a line first (click a row of the table)")
        service.forget_line_clips(folder, int(line))
        return self._render(folder, language, progress)

    @one_line
    def edit_table(self, language: str | None, table, request: gr.Request):
        """Save the edited cells of the segment table; the next render uses them."""
        folder = self.folder(request)
        rows = table.values.tolist() if hasattr(table, "values") else list(table or [])
        lang = language or targets_of(folder)[0]
        changes = service.apply_table_edits(folder, lang, rows)
        if not changes:  # the table fires again after its own update: keep the last message
            return service.segment_rows(folder, lang), gr.skip()
        return service.segment_rows(folder, lang), "Saved: " + "; ".join(changes) + " — press **Render preview** to hear it"

    @one_line
    def segments(self, language: str | None, request: gr.Request):
        """The segment table of the open project in ``language``."""
        return service.segment_rows(self.folder(request), language or None)

    @one_line
    def select_line(self, table, evt: gr.SelectData, request: gr.Request):
        """The line number of the clicked row."""
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        rows = table.values.tolist() if hasattr(table, "values") else list(table or [])
        return rows[row][0] if 0 <= row < len(rows) else None

    @one_line
    def play_original(self, line: float | None, request: gr.Request):
        """The source audio around one line."""
        if line is None:
            raise DubError("pick a line first (click a row of the table)")
        orig, _ = files.line_excerpts(self.folder(request), int(line))
        return self.publish(orig)

    @one_line
    def play_dub(self, line: float | None, language: str | None, request: gr.Request):
        """The dub of one line, cut from the project's dub stem."""
        if line is None:
            raise DubError("pick a line first (click a row of the table)")
        _, dub = files.line_excerpts(self.folder(request), int(line), language or None)
        if dub is None:
            raise DubError(f"line {int(line)} is not dubbed in the last render")
        return self.publish(dub)

    @one_line
    def projects(self, request: gr.Request):
        """The choices of the project list: this user's projects, newest first."""
        import time

        items = self.store.list(owner_of(request))
        choices = [(f"{p.name} → {','.join(p.targets) or '?'} · {time.strftime('%Y-%m-%d %H:%M', time.localtime(p.created))}"
                    f" · {p.id}", p.id) for p in items]
        return gr.Dropdown(choices=choices, value=None)

    @one_line
    def open_project(self, pid: str | None, request: gr.Request):
        """Open one of this user's earlier projects in this session."""
        owner = owner_of(request)
        folder = self.store.get(owner, pid or "")
        project_state(folder)
        if not service.preview_path(folder).is_file():
            raise DubError(f"project {folder.name} never finished a run; run the scene again")
        self.sessions.set(_key(request), owner, folder)
        return self.view(folder)

    @one_line
    def import_project(self, archive: str | None, request: gr.Request, progress=gr.Progress()):
        """Open a project archive (.zip from 'Project archive') as a new project and render it."""
        if not archive:
            raise DubError("choose a project archive (.zip) first")
        owner = owner_of(request)
        folder = self.store.import_archive(owner, Path(archive))
        edits.edit_settings(folder, voice_library=str(self.library(owner)), save_voices=False)
        self.sessions.set(_key(request), owner, folder)
        return self._render(folder, None, progress)

    @one_line
    def speaker_panel(self, language: str | None, request: gr.Request):
        """The speaker table, the speaker, voice and profile choices, and the mix options of
        the open project (shown after every run, render or open)."""
        from dubpreview.tts.catalogue import choices as voice_choices
        from dubpreview.tts.kokoro import default_synthesizer

        folder = self.folder(request)
        names = speakers.speaker_choices(folder)
        mix_and_timing = speakers.mix_of(folder)
        return (speakers.speaker_rows(folder, language or None),
                gr.Dropdown(choices=names, value=names[0] if names else None),
                gr.Dropdown(choices=[(speakers.MATCHED, speakers.MATCHED)]
                            + voice_choices(default_synthesizer().voices(), language or targets_of(folder)[0]),
                            value=speakers.MATCHED),
                gr.Dropdown(choices=speakers.library_choices(self.library(owner_of(request))), value=""),
                *mix_and_timing)

    @one_line
    def edit_speaker(self, speaker: str, label: str | None, voice: str | None, gender: str | None,
                     profile: str | None, language: str | None, request: gr.Request, progress=gr.Progress()):
        """Give one speaker a picked voice (or its matched one), a gender, a saved profile
        from the user's library, a name; then render."""
        folder = self.folder(request)
        speakers.edit_speaker(folder, speaker, label, voice, gender, profile)
        return self._render(folder, language, progress)

    @one_line
    def save_voices(self, language: str | None, request: gr.Request, progress=gr.Progress()):
        """Save this scene's speaker profiles in the user's voice library (on this render and
        every later one), so the same actor gets the same voice in the next scene."""
        folder = self.folder(request)
        edits.edit_settings(folder, save_voices=True, voice_library=str(self.library(owner_of(request))))
        return self._render(folder, language, progress)

    @one_line
    def apply_mix(self, separation: str, target_lufs: float, bed_db: float, accepted_speed: float | None,
                  max_speed: float | None, language: str | None, request: gr.Request, progress=gr.Progress()):
        """Change the project's separation method, target loudness (LUFS), bed level (dB),
        accepted and maximum speed-up; render (a timing change synthesizes only the lines whose
        speed it moves)."""
        folder = self.folder(request)
        speakers.set_mix(folder, separation, target_lufs, bed_db, accepted_speed, max_speed)
        return self._render(folder, language, progress)

    @one_line
    def archive(self, request: gr.Request):
        """The open project as a zip the app can open again."""
        return self.publish(self.store.export(self.folder(request)))

    # -- API-only endpoints (typed; see gr.api) --------------------------------------------
    def api_edit_line(self, line: int, language: str = "", translation: str | None = None,
                      offset_ms: float | None = None, speed: float | None = None,
                      voice: str | None = None, muted: bool | None = None,
                      request: gr.Request = None) -> list[list]:
        """Edit one line of the open project: its translation in ``language`` (default: the
        first target), offset in ms, forced speed (0 = automatic), voice, muted. Returns the
        segment table; call ``/render`` to hear it."""
        return _call(lambda: service.edit_line(self.folder(request), line, language or None, translation,
                                               offset_ms, speed, voice, muted))

    def api_status(self, request: gr.Request = None) -> dict:
        """The open project: id, targets, the last run's stage log and timing totals."""
        def status():
            import json

            folder = self.folder(request)
            state = project_state(folder)
            runs = (folder / "runs.jsonl").read_text(encoding="utf-8").splitlines() if (folder / "runs.jsonl").exists() else []
            entries = [json.loads(x) for x in runs]
            last = entries[-1].get("run") if entries else None  # the last run or render: its lines
            return {"project": folder.name, "targets": state["settings"]["targets"],
                    "source_language": state.get("source_language"),
                    "stage_log": [e for e in entries if e.get("run") == last],
                    "timing": state.get("timing", {}), "segments": len(state.get("segments", []))}
        return _call(status)

    def api_list_projects(self, request: gr.Request = None) -> list[dict]:
        """This user's projects: id, name, created (epoch s), targets, rendered."""
        return _call(lambda: [vars(p) for p in self.store.list(owner_of(request))])

    def forget(self, request: gr.Request):
        """Forget the session's open project when the page closes (the project stays on disk)."""
        key = getattr(request, "session_hash", None)
        if key:
            self.sessions.drop(key)


def _call(fn):
    return one_line(fn)()
