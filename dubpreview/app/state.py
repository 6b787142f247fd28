"""Reading a studio project's state (never writing it: :mod:`dubpreview.project.edits` does)."""

from __future__ import annotations

import json
from pathlib import Path

from dubpreview.errors import DubError


def project_state(folder: Path) -> dict:
    """The project's validated ``project.json`` (:func:`dubpreview.project.schema.load_state`).

    Raises:
        DubError: the project has not been run yet, or its file is damaged.
    """
    from dubpreview.project.schema import load_state

    if not (folder / "project.json").exists():
        raise DubError("this project has not been run yet; press Run first")
    return load_state(folder)


def timing_of(folder: Path) -> dict:
    """``timing.json``'s report per dub language (empty before the first render)."""
    try:
        return json.loads((folder / "timing.json").read_text(encoding="utf-8"))["languages"]
    except (OSError, ValueError, KeyError):
        return {}


def targets_of(folder: Path) -> list[str]:
    """The project's dub languages, in order (the first is the preview's default track)."""
    return list(project_state(folder)["settings"]["targets"])
