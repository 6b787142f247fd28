"""The orchestrator: scene in, preview out, every stage cached in the project folder.

By stage, each in its own module with typed records between them:

- :mod:`~dubpreview.pipeline.run` — :func:`dub`, the whole job: check the input, open the
  project (:func:`open_run`, a :class:`SceneRun`), analyse, render; :class:`DubResult`.
- :mod:`~dubpreview.pipeline.analyze` — probe, extract, transcribe, guard, find speakers,
  translate; an :class:`~dubpreview.pipeline.analyze.Analysis`, written to ``project.json``.
- :mod:`~dubpreview.pipeline.synthesize` and :mod:`~dubpreview.pipeline.clips` — each line
  spoken at the speed its fit needs, clips cached by what makes their audio.
- :mod:`~dubpreview.pipeline.render` — fit, mix, stems, subtitles, remux; and
  :func:`render_project`, the render of a project from its state after an edit
  (:mod:`dubpreview.project.edits` writes the edits).
- :mod:`~dubpreview.pipeline.stages` — the stage timer and the progress reporter.
"""

from dubpreview.pipeline.render import render_project
from dubpreview.pipeline.records import DubResult, SceneRun
from dubpreview.pipeline.run import analyze_only, default_project_dir, dub, open_run, separate_only
from dubpreview.pipeline.stages import Reporter

__all__ = ["DubResult", "Reporter", "SceneRun", "analyze_only", "default_project_dir", "dub", "open_run",
           "render_project", "separate_only"]
