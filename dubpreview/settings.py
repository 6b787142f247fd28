"""What the user chose for a run: one pydantic model, :class:`DubSettings`.

The same model is parsed from every place settings come from: the ``dub``/``demo`` command
line, a batch manifest row, the studio's forms and ``project.json`` (where it is stored as
:meth:`DubSettings.public`). Each range is declared once, here, on its field; the command
line, the manifest and the studio only name fields (:data:`FLAT`) and report this model's
errors in one line (:func:`from_flat`).

Groups: ``timing`` (:class:`TimingSettings`, the isochrony engine of
:mod:`dubpreview.timing.fit`), ``mix`` (:class:`MixSettings`, loudness and ducking of
:mod:`dubpreview.mix`), ``voices`` (:class:`VoiceSettings`, speakers and voice choice of
:mod:`dubpreview.voices`), ``separation`` (:class:`SeparationSettings`, dialogue / music
& effects separation of :mod:`dubpreview.separate`). The rest (languages, speech
recognition, translation, threads, audio stream) sits at the top level.

Older ``project.json`` files (schema 1) kept ``target_lufs``, ``bed_db``, ``separation``
and the voice options at the top level; :meth:`DubSettings._migrate` reads them, so a
project made by an older dubpreview still opens.
"""

from __future__ import annotations

from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dubpreview.errors import DubError

TARGET_LUFS_RANGE = (-40.0, -5.0)
"""Programme loudness a user may ask for (LUFS, ITU-R BS.1770 integrated; EBU R128 broadcast
is -23, streaming -14 to -16)."""
BED_DB_RANGE = (-40.0, 12.0)
"""Gain of the music & effects bed a user may ask for (dB, 0 = as separated)."""
SPEED_RANGE = (1.0, 2.0)
"""Accepted and maximum speed-ups of a dub line (factors of natural speed)."""
LINE_SPEED_RANGE = (0.5, 2.0)
"""A speed a user forces on one line (factor of natural speed)."""
LINE_OFFSET_MS = 5_000.0
"""Largest shift of one line a project may hold, either way (milliseconds)."""
SEPARATION_METHODS = ("auto", "spleeter", "centre", "none")
"""Separation methods a user can ask for (:mod:`dubpreview.separate`)."""
ASR_BACKENDS = ("faster-whisper", "openai-whisper")
"""Speech recognition backends (:mod:`dubpreview.asr.select`)."""


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimingSettings(_Group):
    """Knobs of the fit (:mod:`dubpreview.timing.fit`; speeds are factors of natural speed,
    times in seconds).

    ``accepted_speed``: speed-ups up to this sound natural (peers use 1.15-1.2);
    ``max_speed``: hard ceiling (peers 1.3-1.4); ``min_speed``: never slower than this
    (1.0: never stretch speech out); ``guard_s``: silence kept before the next line;
    ``max_lateness_s``: how far a line may push the next one instead of exceeding the
    accepted speed; ``allow_early``/``early_s``: a line may start this much before its
    source line; ``smoothing``: largest speed step between close neighbours (0 = off);
    ``smoothing_gap_s``: lines further apart than this are not smoothed;
    ``tolerance_s``: overrun accepted without another synthesis; ``speed_step``: speeds
    are rounded up to this step (so cached clips are reused); ``rush_overruns``: a line
    that cannot fit even at ``max_speed`` is spoken at ``max_speed`` (True) or (False, the
    default) at the accepted speed as long as it then ends at most ``max_overrun_s`` after
    its slot, and else just fast enough to end ``max_overrun_s`` after it, never above
    ``max_speed`` (a line far out of sync is worse than a slightly hurried one; issue 15:
    no line ends more than 1 s after its slot).
    """

    accepted_speed: float = Field(1.2, ge=SPEED_RANGE[0], le=SPEED_RANGE[1])
    max_speed: float = Field(1.3, ge=SPEED_RANGE[0], le=SPEED_RANGE[1])
    min_speed: float = Field(1.0, ge=0.5, le=1.0)
    guard_s: float = Field(0.1, ge=0.0, le=2.0)
    max_lateness_s: float = Field(0.4, ge=0.0, le=2.0)
    allow_early: bool = True
    early_s: float = Field(0.2, ge=0.0, le=2.0)
    smoothing: float = Field(0.1, ge=0.0, le=1.0)
    smoothing_gap_s: float = Field(1.5, ge=0.0, le=10.0)
    rush_overruns: bool = False
    max_overrun_s: float = Field(1.0, ge=0.0, le=10.0)
    tolerance_s: float = Field(0.05, ge=0.0, le=1.0)
    speed_step: float = Field(0.01, gt=0.0, le=0.1)

    @model_validator(mode="after")
    def _ordered(self) -> "TimingSettings":
        if self.accepted_speed > self.max_speed:
            raise ValueError(f"accepted_speed {self.accepted_speed} must lie between 1.0 and max_speed {self.max_speed}")
        return self


class MixSettings(_Group):
    """How the dub is laid over the scene (:mod:`dubpreview.mix`).

    ``target_lufs``: programme loudness (LUFS integrated, EBU R128 -23);
    ``bed_db``: level of the music-and-effects bed (dB, 0 = as separated);
    ``true_peak_db``: true-peak ceiling (dBTP); ``duck_db``: gain of the original under a
    dub line when nothing was separated (dB, negative); ``ramp_s``: fade time of the duck
    (s); ``max_gain_db``: bound on level matching (dB); ``bed_duck_db``: gentle duck of a
    separated bed under lines where it still holds speech (dB).
    """

    target_lufs: float = Field(-23.0, ge=TARGET_LUFS_RANGE[0], le=TARGET_LUFS_RANGE[1])
    bed_db: float = Field(0.0, ge=BED_DB_RANGE[0], le=BED_DB_RANGE[1])
    true_peak_db: float = Field(-1.0, ge=-9.0, le=0.0)
    duck_db: float = Field(-14.0, ge=-60.0, le=0.0)
    ramp_s: float = Field(0.08, ge=0.001, le=1.0)
    max_gain_db: float = Field(15.0, ge=0.0, le=40.0)
    bed_duck_db: float = Field(-6.0, ge=-60.0, le=0.0)


class VoiceSettings(_Group):
    """Speakers and voices (:mod:`dubpreview.voices`).

    ``voice``: one Kokoro voice for every line (None = per speaker); ``diarize``: give each
    line a speaker; ``speakers``: their number (None = found); ``match``: a voice matched to
    each actor (off: the default voice of the speaker's gender); ``refine``: one more
    synthesis per speaker to refine it; ``library``: folder of saved actor profiles (None =
    ``voices/profiles``); ``save``: save this scene's profiles there.
    """

    voice: str | None = Field(None, min_length=1, max_length=64)
    diarize: bool = True
    speakers: int | None = Field(None, ge=1, le=20)
    match: bool = True
    refine: bool = False
    library: str | None = None
    save: bool = False


class SeparationSettings(_Group):
    """Dialogue / music-and-effects separation (:mod:`dubpreview.separate`): ``method`` one
    of :data:`SEPARATION_METHODS` (``auto`` picks by the channel layout)."""

    method: Literal["auto", "spleeter", "centre", "none"] = "auto"


class DubSettings(BaseModel):
    """Everything a run depends on, as the user chose it.

    ``targets``: dub languages (ISO 639-1, at least one); ``source_language``: None to
    detect; ``asr``: transcriber; ``beam_size``: Whisper's beam (1 = greedy; None = the
    backend's default: 5 for faster-whisper, 1 for openai-whisper); ``guards``: the
    integrity guards after ASR and translation (:mod:`dubpreview.integrity`); ``fallback``:
    Whisper's temperature fallback on the first pass (off = temperature 0 only);
    ``translator``: backend name or None for automatic; ``translation_file``: a human
    translation (SRT/VTT) to import; ``hf_model``: a transformers model (hub name or
    folder); ``threads``: CPU threads per model; ``audio_stream``: the audio stream to dub,
    counted from 0 among the scene's audio streams (None = the first that holds speech).
    Then the groups ``timing``, ``mix``, ``voices`` and ``separation``.

    Raises :class:`pydantic.ValidationError` when built directly from bad values; use
    :func:`from_flat` or :func:`from_state` for a one-line :class:`~dubpreview.errors.DubError`.
    """

    model_config = ConfigDict(extra="forbid")

    targets: list[str] = Field(min_length=1)
    source_language: str | None = None
    asr: Literal["faster-whisper", "openai-whisper"] = "faster-whisper"
    beam_size: int | None = Field(None, ge=1, le=10)
    guards: bool = True
    fallback: bool = True
    translator: str | None = None
    translation_file: str | None = None
    hf_model: str | None = None
    threads: int = Field(2, ge=1, le=64)
    audio_stream: int | None = Field(None, ge=0, le=64)
    timing: TimingSettings = TimingSettings()
    mix: MixSettings = MixSettings()
    voices: VoiceSettings = VoiceSettings()
    separation: SeparationSettings = SeparationSettings()

    @model_validator(mode="before")
    @classmethod
    def _migrate(cls, data: Any) -> Any:
        """Read the flat names (:data:`FLAT`) too: a schema-1 ``project.json`` and the
        keyword arguments ``DubSettings(targets=[...], target_lufs=-16)`` alike."""
        if not isinstance(data, dict):
            return data
        return nest(data)

    @field_validator("targets", mode="before")
    @classmethod
    def _split_targets(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [v for v in value.replace(",", " ").split() if v]
        return value

    @field_validator("targets")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        out = [v.strip().lower() for v in value]
        if any(not v or len(v) > 16 for v in out):
            raise ValueError("a target language is empty or too long; give ISO 639-1 codes, e.g. pt")
        return out

    def public(self) -> dict:
        """The settings as ``project.json`` stores them (nested groups, JSON types)."""
        return self.model_dump(mode="json")


FLAT: dict[str, tuple[str, ...]] = {
    "to": ("targets",), "from": ("source_language",), "translation": ("translation_file",),
    "max_speed": ("timing", "max_speed"), "accepted_speed": ("timing", "accepted_speed"),
    "max_lateness": ("timing", "max_lateness_s"), "smoothing": ("timing", "smoothing"),
    "target_lufs": ("mix", "target_lufs"), "bed_db": ("mix", "bed_db"),
    "voice": ("voices", "voice"), "diarize": ("voices", "diarize"), "speakers": ("voices", "speakers"),
    "voice_match": ("voices", "match"), "voice_refine": ("voices", "refine"),
    "voice_library": ("voices", "library"), "save_voices": ("voices", "save"),
    **{name: (name,) for name in ("targets", "source_language", "asr", "beam_size", "guards", "fallback",
                                  "translator", "translation_file", "hf_model", "threads", "audio_stream")},
}
"""The flat names of settings (``dub`` options without their dashes, manifest columns, the
studio's form fields, schema-1 ``project.json`` keys) and where each lives in
:class:`DubSettings`. ``separation`` as a string is ``separation.method``."""


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``flat`` (names of :data:`FLAT`, or already nested groups, or both) as the nested
    dict :class:`DubSettings` validates; a flat value wins over the same field in a group.
    Unknown names are kept, for the model to refuse by name."""
    out: dict[str, Any] = {}
    groups = ("timing", "mix", "voices", "separation")
    for key, value in flat.items():
        if key in groups and isinstance(value, BaseModel):
            value = value.model_dump()
        if key == "separation" and isinstance(value, str):
            out.setdefault("separation", {})["method"] = value
        elif key in groups and isinstance(value, dict):
            for k, v in value.items():
                out.setdefault(key, {}).setdefault(k, v)
        elif key in FLAT:
            path = FLAT[key]
            if len(path) == 1:
                out[path[0]] = value
            else:
                out.setdefault(path[0], {})[path[1]] = value
        else:
            out[key] = value
    return out


_BY_PATH = {path: name for name, path in FLAT.items() if name not in {"targets", "source_language", "translation_file"}}


def _flat_name(loc: tuple) -> str:
    """The flat name of a field's location in an error (``("timing", "max_speed")`` ->
    ``max_speed``; ``("separation", "method")`` -> ``separation``)."""
    path = tuple(str(p) for p in loc[:2])
    if path == ("separation", "method"):
        return "separation"
    return _BY_PATH.get(path, _BY_PATH.get(path[:1], ".".join(str(p) for p in loc)))


def _bounds(loc: tuple) -> tuple[float | None, float | None]:
    """The (lowest, highest) a field at ``loc`` accepts, from its declaration."""
    model: Any = DubSettings
    field = None
    for part in loc:
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            return None, None
        field = fields[part]
        model = field.annotation
    lo = hi = None
    for m in getattr(field, "metadata", []):
        lo = getattr(m, "ge", getattr(m, "gt", lo))
        hi = getattr(m, "le", getattr(m, "lt", hi))
    return lo, hi


def _message(exc: ValidationError, name: Callable[[str], str]) -> str:
    err = exc.errors()[0]
    msg = err["msg"].removeprefix("Value error, ")
    loc = tuple(err["loc"])
    if err["type"] == "value_error" and len(loc) <= 1:  # the one rule over two fields (TimingSettings)
        return msg.replace("accepted_speed", name("accepted_speed")).replace("max_speed", name("max_speed"))
    if not loc:
        return msg
    value = err.get("input")
    shown = "" if isinstance(value, (dict, list)) or value is None else f" {value}"
    if err["type"] == "extra_forbidden":
        return f"unknown setting {name(_flat_name(loc))}"
    if loc == ("targets",) and err["type"] == "too_short":
        return f"no target language given; pass {name('to')} LANG, e.g. pt"
    lo, hi = _bounds(loc)
    if err["type"] in ("greater_than_equal", "less_than_equal", "greater_than", "less_than") and None not in (lo, hi):
        return f"{name(_flat_name(loc))}{shown} is outside {lo:g}..{hi:g}"
    return f"{name(_flat_name(loc))}{shown}: {msg}"


def from_flat(values: dict[str, Any], name: Callable[[str], str] = str, where: str = "") -> DubSettings:
    """:class:`DubSettings` from flat names (:data:`FLAT`; None values mean "the default").

    ``name`` turns a flat name into what the user typed (``lambda n: "--" + n.replace("_",
    "-")`` for the command line); ``where`` prefixes the message (a manifest's scene).

    Raises:
        DubError: one line naming the first bad setting and what is wrong with it.
    """
    given = {k: v for k, v in values.items() if v is not None}
    try:
        return DubSettings.model_validate(given)
    except ValidationError as exc:
        raise DubError(f"{where}{_message(exc, name)}") from None


def flat_value(settings: DubSettings, name: str) -> Any:
    """The value of the setting called ``name`` (:data:`FLAT`, or ``separation``) in ``settings``."""
    if name == "separation":
        return settings.separation.method
    value: Any = settings
    for part in FLAT[name]:
        value = getattr(value, part)
    return value


def default(name: str) -> Any:
    """The default of the setting called ``name`` (:data:`FLAT`, or ``separation``), from the
    model itself (the CLI's defaults and help texts read it, so they cannot diverge)."""
    return flat_value(DubSettings(targets=["en"]), name)


def updated(settings: DubSettings, changes: dict[str, Any], name: Callable[[str], str] = str) -> DubSettings:
    """``settings`` with ``changes`` (flat names of :data:`FLAT`, or groups) applied, validated
    as a whole. Raises DubError (one line, as :func:`from_flat`)."""
    return from_flat({**settings.public(), **{k: v for k, v in changes.items() if v is not None}}, name)


def from_state(settings: dict, where: str = "project.json") -> DubSettings:
    """The settings stored in a ``project.json`` (:meth:`DubSettings.public`, or schema 1's
    flat form). Raises DubError (one line) for values no version of the schema allowed."""
    try:
        return DubSettings.model_validate(settings)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise DubError(f"{where} is damaged (settings.{loc}: {err['msg'].removeprefix('Value error, ')}); "
                       "restore it or move the folder away to start afresh") from None
