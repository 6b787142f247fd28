"""The project folder: ``project.json`` plus a cache of artifacts named by their inputs.

Layout::

    OUT.dubpreview/
      project.json        schema version, source file and its sha256, settings, segments
      timing.<lang>.json  the timing report per dub language
      runs.jsonl          one line per stage per run: computed or cached, seconds (appended)
      cache/<stage>/<key>.{json,wav}

Every artifact's file name is the hash of exactly the inputs that make it
(:func:`cache_key`), so a re-run recomputes only what changed. All writes are atomic
(temp name + fsync + rename), so a crash leaves the project loadable and the next run
resumes; every cache entry has a ``<entry>.sha256`` sidecar written after it, and an entry
whose bytes do not match it (or that has none) is treated as absent and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from dubpreview.errors import DubError
from dubpreview.media.wav import pieces, write_wav
from dubpreview.project.schema import SCHEMA_VERSION, load_state
from dubpreview.util.files import atomic_path, atomic_write_bytes, remove_stale_temps


def cache_key(**parts: Any) -> str:
    """A 24-hex-digit sha256 of the canonical JSON of ``parts`` (sorted keys)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:24]


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _stat(path: str | Path) -> dict[str, int]:
    """``{"size", "mtime_ns"}`` of a file: what tells a render, without reading it, that the
    source is the file the project was made from."""
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


class Project:
    """A dubbing project on disk (see the module docstring for the layout).

    ``stage_log`` collects ``{"stage", "status", "seconds"}`` for the current run, where
    status is ``"computed"`` or ``"cached"``; it is appended to ``runs.jsonl`` as it goes.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.stage_log: list[dict[str, Any]] = []
        self.state: dict[str, Any] = {}

    @property
    def json_path(self) -> Path:
        return self.root / "project.json"

    @classmethod
    def open(cls, root: str | Path, source: Path, source_sha256: str) -> "Project":
        """Open the project at ``root`` for ``source``, creating it if absent.

        Raises:
            DubError: the folder cannot be created, its ``project.json`` is unreadable or
                of a newer schema, or it belongs to a different source file.
        """
        proj = cls(root)
        try:
            proj.root.mkdir(parents=True, exist_ok=True)
            (proj.root / "cache").mkdir(exist_ok=True)
        except OSError as exc:
            raise DubError(f"cannot create the project folder {proj.root}: {exc.strerror}; "
                           "choose another with --project") from None
        if proj.json_path.exists():
            proj.state = load_state(proj.root)  # validated: a damaged or newer file is refused in one line
            if proj.state["source"]["sha256"] != source_sha256:
                raise DubError(f"the project {proj.root} belongs to another source file "
                               f"({proj.state['source'].get('path')}); pass another --project")
        remove_stale_temps(proj.root)  # what a killed run was writing; the entries it finished are kept
        proj.state.setdefault("schema_version", SCHEMA_VERSION)
        stream = proj.state.get("source", {}).get("stream")
        proj.state["source"] = {"path": str(source), "sha256": source_sha256, **_stat(source), "stream": stream}
        return proj

    @classmethod
    def load(cls, root: str | Path) -> "Project":
        """The existing project at ``root`` (validated ``project.json``), for a render.

        Raises:
            DubError: no project there, or a damaged or newer ``project.json``.
        """
        proj = cls(root)
        proj.state = load_state(proj.root)
        remove_stale_temps(proj.root)
        return proj

    def check_source(self) -> Path:
        """The project's source file, checked to be the one it was made from: by size and
        modification time, and by sha256 when either changed (a copy, a touch).

        Raises:
            DubError: the file is gone or holds other bytes now.
        """
        src = self.state["source"]
        path = Path(src["path"])
        if not path.is_file():
            raise DubError(f"the scene {path} is gone; put it back or run `dubpreview dub` on it again")
        now = _stat(path)
        if any(src.get(k) != v for k, v in now.items()):
            if file_sha256(path) != src["sha256"]:
                raise DubError(f"the scene {path} changed since the project was made; "
                               "run `dubpreview dub` on it again")
            src.update(now)
        return path

    @property
    def stream_index(self) -> int | None:
        """The container index of the source's audio stream being dubbed (None: the first)."""
        return self.state.get("source", {}).get("stream")

    @property
    def audio_id(self) -> str:
        """What the scene's audio caches are keyed by: the source's sha256, plus the stream
        when it is not the first audio stream."""
        sha = self.state["source"]["sha256"]
        return sha if self.stream_index is None else f"{sha}#a{self.stream_index}"

    def save(self) -> None:
        """Write ``project.json`` (validated, atomically) by the one writer,
        :func:`dubpreview.project.edits.write_state`."""
        from dubpreview.project.edits import write_state

        self.state = write_state(self.root, self.state)

    def cache_path(self, stage: str, key: str, ext: str) -> Path:
        """``cache/<stage>/<key>.<ext>`` inside the project."""
        return self.root / "cache" / stage / f"{key}.{ext}"

    def _read_checked(self, path: Path) -> bytes | None:
        """The bytes of a cache entry when its ``.sha256`` sidecar matches them, else None
        (absent, half-written by a killed run, or damaged: the caller recomputes it)."""
        try:
            data = path.read_bytes()
            expected = path.with_name(path.name + ".sha256").read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return data if hashlib.sha256(data).hexdigest() == expected else None

    def _seal(self, path: Path, data: bytes) -> None:
        """Write the sidecar ``<entry>.sha256`` that makes ``path`` a valid cache entry."""
        self._seal_digest(path, hashlib.sha256(data).hexdigest())

    @staticmethod
    def _seal_digest(path: Path, digest: str) -> None:
        atomic_write_bytes(path.with_name(path.name + ".sha256"), digest.encode("ascii"))

    def get_json(self, stage: str, key: str) -> Any | None:
        """The cached JSON artifact, or ``None`` if absent, unreadable or failing its hash (then recomputed)."""
        data = self._read_checked(self.cache_path(stage, key, "json"))
        try:
            return None if data is None else json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None

    def put_json(self, stage: str, key: str, value: Any) -> None:
        """Cache a JSON artifact: the file atomically (write, then rename), then its sha256 sidecar."""
        path = self.cache_path(stage, key, "json")
        data = (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
        path.with_name(path.name + ".sha256").unlink(missing_ok=True)  # invalid until sealed again
        atomic_write_bytes(path, data)
        self._seal(path, data)

    def audio_path(self, stage: str, key: str) -> Path | None:
        """The path of the cached WAV when its sha256 sidecar matches it (hashed in pieces,
        nothing decoded), else None (absent, half-written or damaged: recompute it)."""
        path = self.cache_path(stage, key, "wav")
        try:
            expected = path.with_name(path.name + ".sha256").read_text(encoding="ascii").strip()
            return path if file_sha256(path) == expected else None
        except (OSError, UnicodeDecodeError):
            return None

    def get_audio(self, stage: str, key: str) -> tuple[np.ndarray, int] | None:
        """The cached WAV as (float32 samples, rate Hz), or ``None`` if absent, unreadable or
        failing its hash."""
        path = self.audio_path(stage, key)
        if path is None:
            return None
        try:  # hashed in pieces, then decoded from the file: the samples are held once
            samples, rate = sf.read(path, dtype="float32")
        except (OSError, RuntimeError, sf.LibsndfileError):
            return None
        return samples, rate

    def put_audio(self, stage: str, key: str, samples: np.ndarray, rate: int) -> Path:
        """Cache float audio ``(n,)`` or ``(n, channels)`` as a 32-bit float WAV; returns its
        path (see :meth:`put_audio_blocks`)."""
        return self.put_audio_blocks(stage, key, pieces(samples), rate, 1 if samples.ndim == 1 else samples.shape[1])

    def put_audio_blocks(self, stage: str, key: str, blocks, rate: int, channels: int) -> Path:
        """Cache the float audio of ``blocks`` (an iterable of ``(m, channels)`` arrays at
        ``rate`` Hz) as one 32-bit float WAV (atomically, then its sha256 sidecar); returns its path.

        soundfile writes the WAV straight into the temporary file a block at a time
        (:func:`dubpreview.media.wav.write_wav`): no copy of the audio is held (a ``BytesIO``
        grew to twice the WAV), and a full disk still surfaces as the OSError the command
        line turns into one line (libsndfile alone only says that it failed)."""
        path = self.cache_path(stage, key, "wav")
        path.with_name(path.name + ".sha256").unlink(missing_ok=True)
        write_wav(path, blocks, rate, channels, subtype="FLOAT")
        self._seal_digest(path, file_sha256(path))
        return path

    def put_audio_file(self, stage: str, key: str, make) -> Path:
        """Cache a WAV that ``make(tmp)`` writes at the temporary path ``tmp`` (e.g. ffmpeg
        decoding straight to the file): renamed into place when ``make`` returns, then sealed
        with its sha256 sidecar. Returns its path."""
        path = self.cache_path(stage, key, "wav")
        path.with_name(path.name + ".sha256").unlink(missing_ok=True)
        with atomic_path(path) as tmp:
            make(tmp)
        self._seal_digest(path, file_sha256(path))
        return path

    def log(self, stage: str, status: str, seconds: float, **extra: Any) -> None:
        """Record that ``stage`` was ``computed`` or ``cached`` in this run."""
        entry = {"stage": stage, "status": status, "seconds": round(seconds, 3), "time": time.time(), **extra}
        self.stage_log.append(entry)
        # one append of one whole line (O_APPEND): stage groups running at once in other
        # processes (dubpreview.batch) never lose each other's lines
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        fd = os.open(self.root / "runs.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
