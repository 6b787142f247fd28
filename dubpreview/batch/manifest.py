"""Batch manifests: which scenes to dub, into which languages, with which settings, where.

Two formats, one schema (validated with pydantic; unknown fields are refused, so a typo
never passes silently):

YAML (``version`` required)::

    version: 1
    defaults:             # optional: settings for every scene
      to: [pt, en]
      separation: auto
    scenes:
      - input: clips/ami.mp4          # relative to the manifest's folder
        to: pt                         # overrides the default
        output: ami                    # project folder inside the batch output folder
      - input: clips/fillets.mp4
        from: cs
        translation: clips/fillets.en.srt
        to: en

CSV (version 1 by its header): one row per scene, columns ``input``, ``to`` (``pt,en`` or
``pt en``) and optionally ``output`` and any setting below; empty cells take the default.

Settings (as the ``dub`` command's options): ``from``, ``asr``, ``translator``,
``translation``, ``hf_model``, ``voice``, ``threads``, ``speakers``, ``diarize``,
``voice_match``, ``separation``, ``target_lufs``, ``bed_db``, ``max_speed``,
``accepted_speed``, ``max_lateness``, ``smoothing``, ``audio_stream``, ``beam_size``, ``guards``, ``fallback``.

Every scene becomes a project folder inside the batch output folder: ``output`` (default:
the input's file name without extension) must stay inside it, and two scenes may not
share one.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dubpreview.errors import DubError
from dubpreview.settings import flat_value, from_flat

MANIFEST_VERSION = 1
"""The manifest schema version this dubpreview reads."""

SETTING_FIELDS = ("from", "asr", "translator", "translation", "hf_model", "voice", "threads", "speakers",
                  "diarize", "voice_match", "separation", "target_lufs", "bed_db", "max_speed",
                  "accepted_speed", "max_lateness", "smoothing", "audio_stream", "beam_size", "guards",
                  "fallback")
"""The per-scene settings a manifest may give (the ``dub`` command's options)."""


class SceneDefaults(BaseModel):
    """What a scene (or the ``defaults``) may give: ``to`` and the settings of
    :data:`SETTING_FIELDS`, by the ``dub`` command's names. Only the names are checked here;
    the values by :class:`~dubpreview.settings.DubSettings` (:func:`load_manifest`), whose
    ranges are the ones the command line and the studio accept."""

    model_config = ConfigDict(extra="allow")

    to: list[str] | None = None

    @field_validator("to", mode="before")
    @classmethod
    def _split_languages(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [v for v in value.replace(",", " ").split() if v]
        return value

    @field_validator("to")
    @classmethod
    def _some_languages(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("give at least one target language")
        return value

    @model_validator(mode="after")
    def _known_settings(self) -> "SceneDefaults":
        for key, value in (self.model_extra or {}).items():
            if key not in SETTING_FIELDS:
                raise ValueError(f"unknown setting {key!r}")
            if key == "translation" and value is not None:
                _check_path_text(str(value))
        return self

    def settings(self) -> dict[str, Any]:
        """The settings given (not ``to``, ``input``, ``output``), None left out."""
        return {k: v for k, v in (self.model_extra or {}).items()
                if k in SETTING_FIELDS and v is not None}


def _check_path_text(value: str | None) -> str | None:
    """A file or folder name must be printable UTF-8 (no control characters, no lone surrogates)."""
    if value is None:
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid UTF-8 text") from None
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("contains a control character")
    return value


class SceneEntry(SceneDefaults):
    """One scene of the manifest: its ``input`` file, optional ``output`` folder, settings."""

    input: str = Field(min_length=1)
    output: str | None = None

    @field_validator("input", "output")
    @classmethod
    def _printable_paths(cls, value: str | None) -> str | None:
        return _check_path_text(value)


class Manifest(BaseModel):
    """The YAML form: ``version``, optional ``defaults``, ``scenes``."""

    model_config = ConfigDict(extra="forbid")

    version: int
    defaults: SceneDefaults = SceneDefaults()
    scenes: list[SceneEntry] = Field(min_length=1)


@dataclass
class SceneJob:
    """One scene to dub, resolved: absolute ``input`` file, ``targets`` (ISO 639-1),
    ``project`` folder (absolute, inside the batch output folder), ``name`` (the folder's
    path inside the output folder), ``settings`` (the manifest's settings with defaults
    applied; keys of :data:`SETTING_FIELDS`, None = the ``dub`` default)."""

    name: str
    input: Path
    targets: list[str]
    project: Path
    settings: dict[str, Any]

    @property
    def preview(self) -> Path:
        """``<project>/<input stem>.dub-<langs>.mp4``."""
        return self.project / f"{self.input.stem}.dub-{'-'.join(self.targets)}.mp4"


def _short(exc: ValidationError) -> str:
    """The first problem of a pydantic error as ``where: what``."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "manifest"
    return f"{where}: {err['msg']}" + (f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else "")


def _rows_csv(path: Path) -> list[dict[str, Any]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(row for row in f if row.strip() and not row.lstrip().startswith("#"))
        if not reader.fieldnames or "input" not in reader.fieldnames:
            raise DubError(f"{path.name}: a CSV manifest needs a header row with at least 'input' and 'to'")
        rows = []
        for row in reader:
            if None in row:
                raise DubError(f"{path.name}: row {reader.line_num} has more cells than the header")
            rows.append({k.strip(): v.strip() for k, v in row.items() if v is not None and v.strip()})
    return rows


def _output_name(entry: SceneEntry, input_path: Path, where: str) -> str:
    name = entry.output or input_path.stem
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or name.startswith("~"):
        raise DubError(f"{where}: output '{name}' must be a folder name inside the batch output folder "
                       "(no absolute path, no '..'); choose the output folder with --output-dir")
    return str(pure)


def output_root(path: str | Path, output_dir: str | Path | None = None) -> Path:
    """The batch output folder: ``output_dir``, or ``dubbed/`` beside the manifest; absolute."""
    if output_dir:
        return Path(output_dir).expanduser().resolve()
    return Path(path).expanduser().resolve().parent / "dubbed"


def load_manifest(path: str | Path, output_dir: str | Path | None = None) -> list[SceneJob]:
    """Read and check a manifest (YAML or CSV, by extension) into :class:`SceneJob` records.

    Inputs are relative to the manifest's folder; project folders are made inside
    ``output_dir`` (default: ``<manifest folder>/dubbed``). Nothing is written.

    Raises:
        DubError: unreadable file, unknown format or version, a field that fails the schema
            (one line naming the field), a scene without target languages, an output
            outside the output folder, two scenes with one output folder.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DubError(f"manifest not found: {path}")
    base = path.resolve().parent
    root = output_root(path, output_dir)
    suffix = path.suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise DubError(f"{path.name}: a YAML manifest is a mapping with 'version' and 'scenes'")
            manifest = Manifest.model_validate(data)
            if manifest.version != MANIFEST_VERSION:
                raise DubError(f"{path.name}: manifest version {manifest.version} is not supported "
                               f"(this dubpreview reads version {MANIFEST_VERSION})")
            defaults, entries = manifest.defaults, manifest.scenes
        elif suffix == ".csv":
            defaults = SceneDefaults()
            entries = []
            for i, row in enumerate(_rows_csv(path), start=1):
                try:
                    entries.append(SceneEntry.model_validate(row))
                except ValidationError as exc:
                    raise DubError(f"{path.name}: scene {i}: {_short(exc)}") from None
            if not entries:
                raise DubError(f"{path.name}: the manifest lists no scenes")
        else:
            raise DubError(f"{path.name}: a manifest is a .yaml/.yml or .csv file")
    except ValidationError as exc:
        raise DubError(f"{path.name}: {_short(exc)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DubError(f"cannot read the manifest {path}: {exc}") from None
    except Exception as exc:  # yaml.YAMLError and csv.Error: malformed text
        if isinstance(exc, DubError):
            raise
        raise DubError(f"{path.name} is not a valid manifest: {str(exc).splitlines()[0]}") from None
    jobs, seen = [], {}
    for i, entry in enumerate(entries, start=1):
        where = f"{path.name}: scene {i}"
        targets = entry.to or defaults.to
        if not targets:
            raise DubError(f"{where} has no target languages; give 'to' (e.g. pt,en) in the scene or the defaults")
        source = Path(entry.input).expanduser()
        source = source if source.is_absolute() else base / source
        name = _output_name(entry, source, where)
        project = (root / name).resolve()
        if project in seen:
            raise DubError(f"{where} writes to the same output folder '{name}' as scene {seen[project]}; "
                           "give one of them another 'output'")
        seen[project] = i
        given = {**defaults.settings(), **entry.settings()}
        if given.get("translation"):
            t = Path(str(given["translation"])).expanduser()
            given["translation"] = str(t if t.is_absolute() else base / t)
        targets = [t.strip().lower() for t in targets]
        checked = from_flat({**given, "to": targets}, where=f"{where}: ")  # the values, by the one settings model
        settings = {k: flat_value(checked, k) for k in given}
        jobs.append(SceneJob(name, source, targets, project, settings))
    return jobs
