"""The review studio's page (Gradio Blocks) and its wiring to :class:`~dubpreview.app.callbacks.Studio`.

Left: the scene (upload or the demo scene), languages, Run, earlier projects and archives.
Left, under Mix and timing: the separation method, programme loudness, bed level, accepted
and maximum speed-up. Centre: the
preview player with its original/dub switch, the segment table (editable in place), the
per-line tools (play original, play dub, regenerate), the speakers (voice picked,
matched or loaded from the user's library; gender; name), the downloads, the project
archive and the stage log of the last run.

Every operation is a named API endpoint (``api_name``), so a script can drive a review with
``gradio_client``: ``/run``, ``/edit_table``, ``/edit_line``, ``/render``, ``/regenerate``,
``/segments``, ``/play_original``, ``/play_dub``, ``/projects``, ``/list_projects``,
``/open_project``, ``/import_project``, ``/archive``, ``/status``, and for the speakers
and the mix ``/edit_speaker``, ``/save_voices``, ``/mix``.
"""

from __future__ import annotations

import gradio as gr

from dubpreview.settings import BED_DB_RANGE, SPEED_RANGE, TARGET_LUFS_RANGE, TimingSettings
from dubpreview.separate import METHODS as SEPARATION_CHOICES

from . import service, speakers
from .callbacks import AppConfig, Studio

CSS = """
#dp-player .dp-switch { margin-top: .4em; font-size: 0.95em }
#dp-player .dp-switch label { margin-right: 1.2em; cursor: pointer }
"""

# The original/dub switch. One <video> plays the preview (its first audio track is the dub);
# the other tracks are <audio> elements kept at the video's position: choosing one mutes the
# video and plays that element from the same time; play, pause, seek and rate follow the
# video, and drift over 150 ms is corrected on timeupdate. Listeners sit on the document
# (capture phase), so they survive Gradio replacing the player's HTML after each render.
HEAD = """
<script>
(function () {
  function parts() {
    const p = document.getElementById('dp-player');
    if (!p) return null;
    return {p: p, v: p.querySelector('#dp-video'), auds: Array.from(p.querySelectorAll('audio[data-track]'))};
  }
  function mode(p) {
    const sel = p.querySelector('input[name="dp-track"]:checked');
    return sel ? sel.value : 'video';
  }
  function sync(force) {
    const x = parts();
    if (!x || !x.v) return;
    const m = mode(x.p);
    x.v.muted = (m !== 'video');
    x.p.dataset.mode = m;
    x.auds.forEach(function (a) {
      if (a.dataset.track === m) {
        if (force || Math.abs(a.currentTime - x.v.currentTime) > 0.15) a.currentTime = x.v.currentTime;
        a.playbackRate = x.v.playbackRate;
        if (x.v.paused) a.pause(); else a.play().catch(function () {});
      } else if (!a.paused) { a.pause(); }
    });
  }
  window.dubpreviewSync = sync;
  document.addEventListener('change', function (e) {
    if (e.target && e.target.name === 'dp-track') sync(true);
  }, true);
  ['play', 'pause', 'seeked', 'ratechange', 'timeupdate'].forEach(function (ev) {
    document.addEventListener(ev, function (e) {
      if (e.target && e.target.id === 'dp-video') sync(ev !== 'timeupdate');
    }, true);
  });
})();
</script>
"""

DATATYPES = ["number", "str", "number", "number", "str", "str", "str", "number", "str", "str"]
# the text columns take what the numbers leave, so the translation is on screen at 1280 px
# (the browser test measures it); long text wraps inside its cell
COLUMN_WIDTHS = ["5%", "6%", "6%", "6%", "20%", "23%", "10%", "7%", "7%", "10%"]


def build_app(config: AppConfig | None = None) -> gr.Blocks:
    """The studio as a :class:`gradio.Blocks` (not launched; see :func:`dubpreview.app.server.launch`)."""
    config = config or AppConfig()
    studio = Studio(config)
    heavy = {"concurrency_id": "heavy", "concurrency_limit": config.heavy_concurrency}
    light = {"concurrency_id": "light", "concurrency_limit": 4}
    with gr.Blocks(title="dubpreview studio", delete_cache=(3600, 24 * 3600)) as demo:
        gr.Markdown("## dubpreview — review studio")
        with gr.Row():
            with gr.Column(scale=1, min_width=260):
                scene = gr.File(label="Scene (video or audio; probed, not trusted by its name)", elem_id="dp-scene")
                use_demo = gr.Checkbox(label="Use the demo scene (AMI meeting, English, 30 s)", value=False,
                                       elem_id="dp-use-demo")
                source_language = gr.Dropdown(service.SOURCE_LANGUAGES, value="auto", label="Source language",
                                              elem_id="dp-source-language")
                targets = gr.CheckboxGroup(service.DUB_LANGUAGES, value=["pt"], label="Dub into",
                                           info="Each language gets its own dub track; the video plays the "
                                                "first, the switch under the player the others.")
                translation = gr.File(label="Human translation (SRT/VTT, optional, one target)",
                                      file_types=[".srt", ".vtt"])
                with gr.Accordion("Mix and timing", open=False):
                    separation = gr.Dropdown(list(SEPARATION_CHOICES), value="auto", label="Dialogue separation",
                                             info="auto: spleeter for stereo/mono, centre channel for 5.1; "
                                                  "none: duck the whole original", elem_id="dp-separation")
                    target_lufs = gr.Number(value=-23.0, label="Programme loudness (LUFS)", minimum=TARGET_LUFS_RANGE[0],
                                            maximum=TARGET_LUFS_RANGE[1],
                                            info="EBU R128 broadcast -23; streaming -14 to -16", elem_id="dp-lufs")
                    bed_db = gr.Slider(*BED_DB_RANGE, value=0.0, step=0.5, label="Music & effects bed (dB)",
                                       elem_id="dp-bed")
                    accepted_speed = gr.Slider(*SPEED_RANGE, value=TimingSettings().accepted_speed, step=0.05,
                                               label="Accepted speed-up (x)", elem_id="dp-accepted-speed",
                                               info="lines are sped up this much without a flag")
                    max_speed = gr.Slider(*SPEED_RANGE, value=TimingSettings().max_speed, step=0.05,
                                          label="Maximum speed-up (x)", elem_id="dp-max-speed",
                                          info="never faster; a line that still does not fit is flagged")
                    mix_btn = gr.Button("Apply to the open project and render", size="sm", elem_id="dp-mix")
                run_btn = gr.Button("Run", variant="primary", elem_id="dp-run")
                with gr.Accordion("Earlier projects", open=False):
                    project_list = gr.Dropdown(choices=[], label="Your projects", elem_id="dp-projects",
                                               allow_custom_value=True)
                    with gr.Row():
                        refresh_btn = gr.Button("Refresh", size="sm")
                        open_btn = gr.Button("Open", size="sm")
                    archive_in = gr.File(label="Open a project archive (.zip)", file_types=[".zip"])
                    import_btn = gr.Button("Open archive", size="sm")
            with gr.Column(scale=3):
                summary = gr.Markdown("Upload a scene (or tick the demo scene) and press **Run**.",
                                      elem_id="dp-summary")
                player = gr.HTML("", elem_id="dp-player-box", js_on_load=None)
                with gr.Row():
                    language = gr.Dropdown(choices=[], label="Table language", scale=1, elem_id="dp-language",
                                           allow_custom_value=True)
                    render_btn = gr.Button("Render preview", variant="primary", scale=1, elem_id="dp-render")
                table = gr.Dataframe(headers=service.COLUMNS, datatype=DATATYPES, type="array",
                                     interactive=True, static_columns=service.STATIC_COLUMNS, wrap=True,
                                     column_widths=COLUMN_WIDTHS,
                                     label="Lines (edit translation, voice, offset ms, speed; empty speed = automatic)",
                                     elem_id="dp-table", max_height=520)
                edit_msg = gr.Markdown("", elem_id="dp-edit-msg")
                with gr.Row():
                    line = gr.Number(label="Line (click a row)", precision=0, elem_id="dp-line", scale=1)
                    orig_btn = gr.Button("▶ original", size="sm", scale=1)
                    dub_btn = gr.Button("▶ dub", size="sm", scale=1)
                    regen_btn = gr.Button("Regenerate line", size="sm", scale=1)
                with gr.Accordion("Speakers and voices", open=False, elem_id="dp-speakers-box"):
                    speaker_table = gr.Dataframe(headers=speakers.SPEAKER_COLUMNS, type="array", interactive=False,
                                                 wrap=True, elem_id="dp-speakers",
                                                 label="Speakers found in the scene (voice shown for the table language)")
                    with gr.Row():
                        speaker = gr.Dropdown(choices=[], label="Speaker", elem_id="dp-speaker", scale=1,
                                              allow_custom_value=True)
                        speaker_name = gr.Textbox(label="Name", placeholder="e.g. the character", scale=1)
                        speaker_voice = gr.Dropdown(choices=[speakers.MATCHED], value=speakers.MATCHED,
                                                    label="Voice (pick one, or matched)", allow_custom_value=True,
                                                    elem_id="dp-speaker-voice", scale=1)
                        speaker_gender = gr.Dropdown([speakers.GENDER_AUTO, "male", "female"],
                                                     value=speakers.GENDER_AUTO, label="Gender", scale=1)
                        speaker_profile = gr.Dropdown(choices=[(speakers.PROFILE_AUTO, "")], value="",
                                                      label="Saved voice (your library)", scale=1, allow_custom_value=True,
                                                      elem_id="dp-speaker-profile")
                    with gr.Row():
                        speaker_btn = gr.Button("Apply to speaker and render", size="sm", elem_id="dp-speaker-apply")
                        save_voices_btn = gr.Button("Save these speakers to my voice library", size="sm")
                with gr.Row():
                    orig_audio = gr.Audio(label="Original line", type="filepath", autoplay=True, interactive=False)
                    dub_audio = gr.Audio(label="Dubbed line", type="filepath", autoplay=True, interactive=False)
                with gr.Row():  # under the table, at its width: the files' names are read whole
                    downloads = gr.File(label="Downloads", file_count="multiple", interactive=False,
                                        elem_id="dp-downloads", scale=2)
                    with gr.Column(scale=1, min_width=220):
                        archive_btn = gr.Button("Project archive (.zip)", size="sm")
                        archive_out = gr.File(label="Project archive", interactive=False)
                        with gr.Accordion("Stages of the last run", open=False):
                            stage_log = gr.Markdown("", elem_id="dp-stages")
        studio.publisher = downloads

        view = [summary, player, language, table, downloads, stage_log]
        panel = [speaker_table, speaker, speaker_voice, speaker_profile, separation, target_lufs, bed_db,
                 accepted_speed, max_speed]
        private = {"api_visibility": "private", **light}

        def then_panel(event, name):
            return event.success(studio.speaker_panel, [language], panel, api_name=f"speakers_after_{name}", **private)

        then_panel(run_btn.click(studio.run, [scene, use_demo, source_language, targets, translation,
                                              separation, target_lufs, bed_db, accepted_speed, max_speed],
                                    view, api_name="run", **heavy),
                   "run").then(studio.projects, None, project_list, api_name="projects_after_run", **private)
        then_panel(render_btn.click(studio.render, [language], view, api_name="render", **heavy), "render")
        then_panel(regen_btn.click(studio.regenerate, [line, language], view, api_name="regenerate", **heavy),
                   "regenerate")
        then_panel(speaker_btn.click(studio.edit_speaker, [speaker, speaker_name, speaker_voice, speaker_gender,
                                                           speaker_profile, language], view,
                                     api_name="edit_speaker", **heavy), "edit_speaker")
        then_panel(save_voices_btn.click(studio.save_voices, [language], view, api_name="save_voices", **heavy),
                   "save_voices")
        then_panel(mix_btn.click(studio.apply_mix, [separation, target_lufs, bed_db, accepted_speed, max_speed,
                                                   language], view,
                                 api_name="mix", **heavy), "mix")
        table.input(studio.edit_table, [language, table], [table, edit_msg], api_name="edit_table",
                    trigger_mode="always_last", **light)
        table.select(studio.select_line, [table], line, api_name="select_line", api_visibility="private", **light)
        language.input(studio.segments, [language], table, api_name="segments", **light).then(
            studio.speaker_panel, [language], panel, api_name="speakers_after_language", **private)
        orig_btn.click(studio.play_original, [line], orig_audio, api_name="play_original", **light)
        dub_btn.click(studio.play_dub, [line, language], dub_audio, api_name="play_dub", **light)
        refresh_btn.click(studio.projects, None, project_list, api_name="projects", **light)
        then_panel(open_btn.click(studio.open_project, [project_list], view, api_name="open_project", **light),
                   "open")
        then_panel(import_btn.click(studio.import_project, [archive_in], view, api_name="import_project", **heavy),
                   "import")
        archive_btn.click(studio.archive, None, archive_out, api_name="archive", **heavy)
        gr.api(studio.api_edit_line, api_name="edit_line", **light)
        gr.api(studio.api_status, api_name="status", **light)
        gr.api(studio.api_list_projects, api_name="list_projects", **light)
        demo.load(studio.projects, None, project_list, api_name="projects_on_load", api_visibility="private")
        demo.unload(studio.forget)
    demo.studio = studio  # for tests and the server
    return demo
