"""A run over a scene: check the input, open the project, analyse, render.

:func:`dub` is the whole job (what ``dubpreview dub`` and the studio's Run do):
:func:`open_run` checks the input and the settings and opens the project,
:func:`~dubpreview.pipeline.analyze.analyze` finds what is said and by whom and translates
it, :func:`~dubpreview.pipeline.render.render` speaks, fits, mixes and remuxes it. The
separation of the scene's dialogue from its music and effects is started beside the
analysis (:class:`~dubpreview.separate.prefetch.SeparationPrefetch`).
:func:`analyze_only` and :func:`separate_only` are the batch's stage groups.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from dubpreview import languages
from dubpreview.errors import DubError
from dubpreview.mix.duck import MIX_RATE
from dubpreview.pipeline.records import DubResult, SceneRun
from dubpreview.pipeline.stages import Reporter, Stages
from dubpreview.project.store import Project, file_sha256
from dubpreview.settings import DubSettings


def check_writable(folder: Path) -> None:
    """Raise DubError unless a file can be created in ``folder`` (created if missing)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".dubpreview-write-test-"):
            pass
    except OSError as exc:
        raise DubError(f"cannot write to the output folder {folder} ({exc.strerror}); choose another -o") from None


def _targets(settings: DubSettings) -> list[str]:
    """The dub languages as ISO 639-1 codes. Raises DubError for one no voice speaks."""
    from dubpreview.tts.kokoro import default_synthesizer

    spoken = default_synthesizer(settings.threads).languages()
    out = []
    for code in settings.targets:
        lang = languages.normalize(code)
        if lang not in spoken:
            raise DubError(f"cannot dub into '{code}': the embedded voices speak {', '.join(sorted(spoken))}")
        out.append(lang)
    return out


def default_project_dir(output: Path) -> Path:
    """``OUT.dubpreview/`` beside the preview (``scene.dub-pt.mp4`` -> ``scene.dub-pt.dubpreview``)."""
    return output.with_suffix(".dubpreview")


def open_run(source: str | os.PathLike, settings: DubSettings, output: str | os.PathLike | None = None,
             project_dir: str | os.PathLike | None = None, reporter: Reporter | None = None) -> SceneRun:
    """Check the input and the settings and open (or create) the project; nothing is computed.

    Normalises ``settings.targets`` and ``settings.source_language`` in place. Raises
    :class:`DubError` for bad input (missing file, a folder, not a media file, no audio,
    unknown language, output equal to input, unwritable folder, a pair no backend can
    translate even through English).
    """
    from dubpreview.media.probe import probe
    from dubpreview.media.containers import default_output_path
    from dubpreview.media.streams import dialogue_stream
    from dubpreview.pipeline.analyze import route

    src = Path(source).expanduser()
    if not src.exists():
        raise DubError(f"input file not found: {src}")
    if src.is_dir():
        raise DubError(f"{src} is a folder; give a video or audio file")
    src = src.resolve()
    targets = _targets(settings)
    settings.targets = targets
    if settings.translation_file and len(targets) > 1:
        raise DubError("--translation imports one language; dub one target language per run with it")
    if settings.source_language:
        settings.source_language = languages.normalize(settings.source_language)
    out = Path(output).expanduser() if output else default_output_path(src, targets)
    out = out.resolve()
    if out == src:
        raise DubError("the output path is the input file; choose another -o")
    check_writable(out.parent)
    info = probe(src)
    if settings.source_language:
        for target in targets:  # fail before any work or output when the pair cannot be done
            route(settings, settings.source_language, target, transcriber=None, check_only=True)
    proj_dir = Path(project_dir).expanduser().resolve() if project_dir else default_project_dir(out)
    stream, note = dialogue_stream(src, info, settings.audio_stream)
    project = Project.open(proj_dir, src, file_sha256(src))
    project.state["settings"] = settings.public()
    index = None if stream.index == info.audio[0].index else stream.index
    project.state["source"]["stream"] = index  # part of every cache key of the scene's audio
    stages = Stages(project, reporter)
    if note:
        stages.note(note)
    return SceneRun(src, info, project, stages, out, index)


def dub(source: str | os.PathLike, settings: DubSettings, output: str | os.PathLike | None = None,
        project_dir: str | os.PathLike | None = None, reporter: Reporter | None = None) -> DubResult:
    """Dub ``source`` into ``settings.targets`` and write the preview.

    Returns the :class:`DubResult`. Raises :class:`DubError` for bad input (see
    :func:`open_run`); nothing is left half-written.
    """
    from dubpreview.pipeline.analyze import analyze
    from dubpreview.pipeline.render import render
    from dubpreview.separate.prefetch import SeparationPrefetch

    run = open_run(source, settings, output, project_dir, reporter)
    # the stems are made beside the transcription (one torch thread in the cores Whisper leaves idle)
    prefetch = SeparationPrefetch(run.project, run.source, run.info, MIX_RATE, settings.separation.method,
                                  run.stream_index)
    analysis = analyze(run, settings, before_speakers=prefetch.wait)
    return render(run, settings, analysis.segments, analysis.language, prefetch=prefetch)


def analyze_only(source: str | os.PathLike, settings: DubSettings, output: str | os.PathLike | None = None,
                 project_dir: str | os.PathLike | None = None, reporter: Reporter | None = None) -> int:
    """The first stage group of :func:`dub` on its own: extract, transcribe, find speakers and
    translate into every target (cached in the project). Returns the number of lines.
    A later :func:`dub` with the same arguments finds all of it cached.
    Raises :class:`DubError` as :func:`open_run`."""
    from dubpreview.pipeline.analyze import analyze

    return len(analyze(open_run(source, settings, output, project_dir, reporter), settings).segments)


def separate_only(source: str | os.PathLike, settings: DubSettings, output: str | os.PathLike | None = None,
                  project_dir: str | os.PathLike | None = None, reporter: Reporter | None = None) -> str:
    """The separation stage of :func:`dub` on its own: the dialogue/M&E stems of the scene at
    :data:`~dubpreview.mix.duck.MIX_RATE`, cached in the project (``project.json`` is not
    written, so this may run beside :func:`analyze_only`). Returns the method that ran.
    Raises :class:`DubError` as :func:`open_run`."""
    from dubpreview.pipeline.render import separation_stage

    run = open_run(source, settings, output, project_dir, reporter)
    _, sep = separation_stage(run, settings)
    return sep.method
