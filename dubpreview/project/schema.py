"""The schema of ``project.json``, checked on every load (pydantic).

A project folder can come from outside (an archive opened in the studio, a colleague's
folder), so its state is validated before anything uses it: types and ranges of every field
the pipeline and the studio read, the schema version (:data:`SCHEMA_VERSION`; newer is
refused), no unknown settings (:class:`~dubpreview.settings.DubSettings`, whose ranges are
the ones the command line, the manifest and the studio accept). Fields this
version does not know at the top level are kept (forward-compatible notes), never used.

Paths inside a project (``timing.json``'s clips) must be relative and stay inside the
folder; :func:`inside` is the check the studio applies to every path it serves.
"""

from __future__ import annotations

import json
import math
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)

from dubpreview.errors import DubError
from dubpreview.settings import LINE_OFFSET_MS, LINE_SPEED_RANGE, DubSettings

SCHEMA_VERSION = 2
"""The ``project.json`` schema this dubpreview writes. 2: the settings as nested groups
(:class:`~dubpreview.settings.DubSettings`); 1 (flat settings) is still read."""


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


class WordModel(BaseModel):
    start: float
    end: float
    text: str
    probability: float = 1.0


class FlagModel(BaseModel):
    reason: str = Field(min_length=1, max_length=64)
    language: str | None = None
    detail: str = Field("", max_length=2000)


class SegmentModel(BaseModel):
    """One line (:class:`dubpreview.records.Segment`); times in seconds, offset in ms."""

    model_config = ConfigDict(extra="ignore")

    id: int = Field(ge=0)
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    text: str
    words: list[WordModel] = []
    speaker: str = "S0"
    translation: dict[str, str] = {}
    offset_ms: float = Field(0.0, ge=-LINE_OFFSET_MS, le=LINE_OFFSET_MS)
    speed: float | None = Field(None, ge=LINE_SPEED_RANGE[0], le=LINE_SPEED_RANGE[1])
    voice: str | None = None
    muted: bool = False
    edited: list[str] = []
    alternatives: dict[str, list[dict[str, Any]]] = {}
    shortened: list[str] = []
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    flags: list[FlagModel] = []

    @field_validator("start", "end", "offset_ms")
    @classmethod
    def _finite_times(cls, value: float) -> float:
        return _finite(value)

    @model_validator(mode="after")
    def _ordered(self) -> "SegmentModel":
        if self.end < self.start:
            raise ValueError(f"line {self.id} ends ({self.end}) before it starts ({self.start})")
        return self


class SourceModel(BaseModel):
    """The scene: its path, sha256, size (bytes) and modification time (ns), the audio stream dubbed."""

    path: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int | None = Field(None, ge=0)
    mtime_ns: int | None = None
    stream: int | None = Field(None, ge=0)


class ProjectModel(BaseModel):
    """``project.json``: everything optional but what a run writes first (version, source)."""

    model_config = ConfigDict(extra="allow")

    schema_version: int = Field(ge=1)
    source: SourceModel
    settings: DubSettings | None = None
    segments: list[SegmentModel] = []
    outputs: dict[str, str] = {}
    warnings: list[str] = []
    source_language: str | None = None
    duration: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _unique_ids(self) -> "ProjectModel":
        ids = [s.id for s in self.segments]
        if len(ids) != len(set(ids)):
            raise ValueError("two lines have the same id")
        return self


def _short(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def check_state(state: Any, where: str = "project.json") -> dict:
    """Validate a loaded ``project.json`` (see the module docstring); returns it with its
    ``settings`` in this version's form (:meth:`~dubpreview.settings.DubSettings.public`:
    a schema-1 file's flat settings become nested groups), everything else as it was.

    Raises:
        DubError: one line naming the first bad field, or a schema newer than this dubpreview.
    """
    if not isinstance(state, dict):
        raise DubError(f"{where} is not a dubpreview project (not a JSON object); move it away to start afresh")
    version = state.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise DubError(f"{where} was written by a newer dubpreview (schema {version}); upgrade dubpreview")
    try:
        model = ProjectModel.model_validate(state)
    except ValidationError as exc:
        raise DubError(f"{where} is damaged ({_short(exc)}); restore it or move the folder away to start afresh") from None
    if model.settings is not None:
        state["settings"] = model.settings.public()
    return state


def load_state(folder: str | Path) -> dict:
    """Read and validate ``<folder>/project.json``.

    Raises:
        DubError: missing or unreadable file, not JSON, or failing :func:`check_state`.
    """
    path = Path(folder) / "project.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DubError(f"{folder} is not a dubpreview project (no project.json)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DubError(f"cannot read {path}: {exc}") from None
    try:
        state = json.loads(text)
    except ValueError as exc:
        raise DubError(f"{path} is not valid JSON ({exc}); move it away to start afresh") from None
    return check_state(state, str(path))


def relative_inside(value: str) -> bool:
    """True when ``value`` is a relative path with no ``..`` (it stays inside its folder)."""
    if not isinstance(value, str) or not value or "\x00" in value:
        return False
    pure = PurePosixPath(value.replace("\\", "/"))
    return not pure.is_absolute() and ".." not in pure.parts and ":" not in pure.parts[0]


def inside(folder: Path, path: str | Path) -> Path:
    """``path`` (relative to ``folder`` or absolute) resolved, when it lies inside ``folder``.

    Raises:
        DubError: it points outside the folder (a damaged or hostile project file).
    """
    root = Path(folder).resolve()
    try:
        resolved = (root / path).resolve()
    except (OSError, ValueError, RuntimeError):
        raise DubError("the project names a file that cannot be opened; refused") from None
    if resolved != root and root not in resolved.parents:
        raise DubError(f"the project names a file outside its folder ({str(path)[:80]!r}); refused")
    return resolved
