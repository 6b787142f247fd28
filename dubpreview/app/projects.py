"""Projects of the review studio on disk, one folder per project, grouped by owner.

Layout under the projects root (default ``~/.local/share/dubpreview/projects``)::

    ROOT/<owner-slug>/<project-id>/
      app.json          name, creation time, source file name (the app's own metadata)
      source/<name>     the uploaded scene (a copy; the pipeline reads it from here)
      preview.mp4       the preview (``preview.m4a`` for an audio-only scene)
      project.json ...  the dubpreview project folder itself (see :mod:`dubpreview.project.store`)

An owner is the signed-in user (``--auth``), or ``local`` when the app runs without
sign-in on the user's own machine. A project id is 12 random hex digits; every lookup
checks the id's form and that the folder lies under the owner's folder, so one owner
can never name another's project.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from dubpreview.errors import DubError
from dubpreview.project.edits import write_state
from dubpreview.project.schema import load_state
from dubpreview.util.files import atomic_write_json

DEFAULT_ROOT = Path("~/.local/share/dubpreview/projects")
_ID = re.compile(r"^[0-9a-f]{12}$")
ARCHIVE_LIMIT = 4 << 30
"""Largest total uncompressed size accepted from a project archive (bytes)."""


def owner_slug(owner: str) -> str:
    """A folder name for ``owner``: its safe characters plus a hash (two names never collide)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", owner)[:32].strip(".") or "user"
    return f"{safe}-{hashlib.sha256(owner.encode('utf-8')).hexdigest()[:10]}"


def safe_name(name: str, default: str = "scene") -> str:
    """A file name without folders or odd characters (keeps the extension)."""
    base = Path(str(name).replace("\\", "/")).name
    base = re.sub(r"[^A-Za-z0-9_.()+-]", "_", base).lstrip(".")
    return base[:120] or default


@dataclass
class ProjectInfo:
    """One row of the project list: ``id``, ``name``, ``created`` (epoch s), ``targets``, ``rendered``."""

    id: str
    name: str
    created: float
    targets: list[str]
    rendered: bool


class ProjectStore:
    """The projects root: create, find, list, export and import projects per owner."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root or DEFAULT_ROOT).expanduser().resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DubError(f"cannot create the projects folder {self.root} ({exc.strerror}); "
                           "choose another with --projects") from None

    def owner_dir(self, owner: str) -> Path:
        """The folder holding ``owner``'s projects (created on demand)."""
        path = self.root / owner_slug(owner)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def create(self, owner: str, source: Path, name: str) -> Path:
        """A new project folder for ``owner`` holding a copy of ``source`` (named ``name``)."""
        pid = secrets.token_hex(6)
        folder = self.owner_dir(owner) / pid
        (folder / "source").mkdir(parents=True)
        shutil.copyfile(source, folder / "source" / safe_name(name))
        atomic_write_json(folder / "app.json", {"name": safe_name(name), "created": time.time()})
        return folder

    def get(self, owner: str, pid: str) -> Path:
        """``owner``'s project ``pid``; DubError when the id is malformed or not theirs."""
        pid = (pid or "").strip()
        if not _ID.match(pid):
            raise DubError(f"'{pid}' is not a project id (12 hex digits, see the project list)")
        folder = self.owner_dir(owner) / pid
        if not (folder / "app.json").is_file():
            raise DubError(f"you have no project {pid}")
        return folder

    def source(self, folder: Path) -> Path:
        """The scene file inside a project folder."""
        files = sorted((folder / "source").glob("*"))
        if not files:
            raise DubError(f"the project {folder.name} has lost its source file")
        return files[0]

    def list(self, owner: str) -> list[ProjectInfo]:
        """``owner``'s projects, newest first."""
        out = []
        for folder in self.owner_dir(owner).iterdir():
            if not _ID.match(folder.name):
                continue
            try:
                meta = json.loads((folder / "app.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not isinstance(meta, dict):
                continue
            try:
                state = load_state(folder) if (folder / "project.json").exists() else {}
            except DubError:
                state = {}  # listed (so it can be deleted), but not opened
            out.append(ProjectInfo(folder.name, meta.get("name", "?"), meta.get("created", 0.0),
                                   list(state.get("settings", {}).get("targets", [])),
                                   bool(state.get("outputs", {}).get("preview"))))
        return sorted(out, key=lambda p: p.created, reverse=True)

    def export(self, folder: Path) -> Path:
        """Zip the whole project (source, settings, edits, cache) to ``<id>.dubpreview.zip``
        beside its files; :meth:`import_archive` opens it again."""
        target = folder / "export" / f"{folder.name}.dubpreview.zip"
        target.parent.mkdir(exist_ok=True)
        tmp = target.with_suffix(".part")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for path in sorted(folder.rglob("*")):
                rel = path.relative_to(folder)
                if path.is_file() and rel.parts[0] not in ("export", "excerpts"):
                    zf.write(path, rel.as_posix())
        tmp.replace(target)
        return target

    def import_archive(self, owner: str, archive: Path) -> Path:
        """A new project for ``owner`` from an archive made by :meth:`export`.

        Every member must be a plain relative path (no ``..``, no absolute names), the total
        size is capped at :data:`ARCHIVE_LIMIT`, and the project's recorded file paths are
        rewritten to the new folder. Raises DubError for anything else.
        """
        try:
            zf = zipfile.ZipFile(archive)
        except (OSError, zipfile.BadZipFile):
            raise DubError("that file is not a dubpreview project archive (not a zip)") from None
        with zf:
            names = zf.namelist()
            if "project.json" not in names or "app.json" not in names or not any(n.startswith("source/") for n in names):
                raise DubError("that zip is not a dubpreview project archive (project.json, app.json or source/ missing)")
            if sum(i.file_size for i in zf.infolist()) > ARCHIVE_LIMIT:
                raise DubError("the project archive is too large to open")
            for name in names:
                parts = Path(name).parts
                if name.startswith(("/", "\\")) or ".." in parts or ":" in name or not parts:
                    raise DubError(f"the project archive holds an unsafe path ({name!r}); refused")
            folder = self.owner_dir(owner) / secrets.token_hex(6)
            folder.mkdir()
            try:
                for info in zf.infolist():
                    if info.is_dir():
                        continue
                    dest = folder / info.filename
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, open(dest, "wb") as out:
                        shutil.copyfileobj(src, out)
                _relocate(folder, self.source(folder))
            except (DubError, OSError, ValueError, KeyError) as exc:
                shutil.rmtree(folder, ignore_errors=True)
                if isinstance(exc, DubError):
                    raise
                raise DubError(f"the project archive is damaged ({exc})") from None
        return folder


def _relocate(folder: Path, source: Path) -> None:
    """Point an imported ``project.json`` at its new folder (source file, outputs)."""
    state = load_state(folder)  # the archive's project.json is checked before anything uses it
    state["source"]["path"] = str(source)
    state["outputs"] = {k: str(folder / Path(v).name) for k, v in state.get("outputs", {}).items()}
    if state.get("settings", {}).get("translation_file"):
        imported = folder / "source-translation" / Path(state["settings"]["translation_file"]).name
        state["settings"]["translation_file"] = str(imported) if imported.exists() else None
    write_state(folder, state)
    meta = json.loads((folder / "app.json").read_text(encoding="utf-8"))
    if not isinstance(meta, dict):
        raise DubError("the project archive is damaged (app.json is not an object)")
    meta["created"] = time.time()
    meta["imported_from"] = meta.get("id")
    atomic_write_json(folder / "app.json", meta)
