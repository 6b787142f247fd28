"""The project folder: ``project.json`` plus a cache of artifacts named by their inputs.

Layout::

    OUT.dubpreview/
      project.json        schema version, source file and its sha256, settings, segments
      timing.<lang>.json  the timing report per dub language
      runs.jsonl          one line per stage per run: computed or cached, seconds (appended)
      cache/<stage>/<key>.{json,wav}

Every artifact's file name is the hash of exactly the inputs that make it
(:func:`cache_key`), so a re-run recomputes only what changed. All writes are atomic
(temp name + rename), so a crash leaves the project loadable and the next run resumes.
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
from dubpreview.util.files import atomic_path, atomic_write_json

SCHEMA_VERSION = 1


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
            try:
                proj.state = json.loads(proj.json_path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise DubError(f"{proj.json_path} is not valid JSON ({exc}); move it away to start afresh") from None
            if not isinstance(proj.state, dict) or proj.state.get("schema_version", 0) > SCHEMA_VERSION:
                raise DubError(f"{proj.json_path} was written by a newer dubpreview; upgrade dubpreview")
            if proj.state.get("source", {}).get("sha256") not in (None, source_sha256):
                raise DubError(f"the project {proj.root} belongs to another source file "
                               f"({proj.state['source'].get('path')}); pass another --project")
        proj.state.setdefault("schema_version", SCHEMA_VERSION)
        proj.state["source"] = {"path": str(source), "sha256": source_sha256}
        return proj

    def save(self) -> None:
        """Write ``project.json`` atomically."""
        self.state["schema_version"] = SCHEMA_VERSION
        atomic_write_json(self.json_path, self.state)

    def cache_path(self, stage: str, key: str, ext: str) -> Path:
        """``cache/<stage>/<key>.<ext>`` inside the project."""
        return self.root / "cache" / stage / f"{key}.{ext}"

    def get_json(self, stage: str, key: str) -> Any | None:
        """The cached JSON artifact, or ``None`` if absent or unreadable (then recomputed)."""
        path = self.cache_path(stage, key, "json")
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None

    def put_json(self, stage: str, key: str, value: Any) -> None:
        """Cache a JSON artifact atomically."""
        atomic_write_json(self.cache_path(stage, key, "json"), value)

    def get_audio(self, stage: str, key: str) -> tuple[np.ndarray, int] | None:
        """The cached WAV as (float32 samples, rate Hz), or ``None`` if absent or unreadable."""
        path = self.cache_path(stage, key, "wav")
        if not path.exists():
            return None
        try:
            data, rate = sf.read(path, dtype="float32")
        except (OSError, RuntimeError, sf.LibsndfileError):
            return None
        return data, rate

    def put_audio(self, stage: str, key: str, samples: np.ndarray, rate: int) -> Path:
        """Cache float audio as a 32-bit float WAV atomically; returns its path."""
        path = self.cache_path(stage, key, "wav")
        with atomic_path(path) as tmp:
            sf.write(tmp, samples, rate, subtype="FLOAT", format="WAV")
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
