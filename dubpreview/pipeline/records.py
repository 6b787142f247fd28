"""The records that pass between the pipeline's stages: the run over a scene and what it produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dubpreview.pipeline.stages import Stages
from dubpreview.project.store import Project
from dubpreview.records import Segment


@dataclass
class DubResult:
    """What a run or a render produced: the preview, the project folder and its files, the
    stage log, the warnings, the timing report per language and the translation routes."""

    preview: Path
    project: Path
    source_language: str
    segments: list[Segment]
    stage_log: list[dict]
    warnings: list[str]
    timing: dict[str, dict]
    outputs: dict[str, Path]
    routes: dict[str, str] = field(default_factory=dict)
    """Target language -> how it was translated, e.g. ``"cs->en (whisper-translate), en->pt (bergamot)"``."""


@dataclass
class SceneRun:
    """One run over a scene, opened by :func:`open_run` (or by
    :func:`~dubpreview.pipeline.render.render_project` from a project): the resolved
    ``source`` file, its probe ``info``, the ``project``, the stage timer ``stages`` and the
    ``output`` preview path."""

    source: Path
    info: object
    project: Project
    stages: Stages
    output: Path
    stream_index: int | None = None
    """The container index of the audio stream dubbed (None: the first audio stream)."""
