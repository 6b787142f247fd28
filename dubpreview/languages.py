"""Language codes: ISO 639-1 (two letters) in the pipeline, ISO 639-2/B in containers.

``WHISPER`` lists the languages Whisper recognises (openai/whisper ``tokenizer.py``);
``TTS`` the dub languages the embedded Kokoro voices speak through espeak-ng phonemes.
"""

from __future__ import annotations

from dubpreview.errors import DubError

# ISO 639-1 -> (ISO 639-2/B, English name) for the languages the project handles by name.
_CODES: dict[str, tuple[str, str]] = {
    "en": ("eng", "English"), "pt": ("por", "Portuguese"), "es": ("spa", "Spanish"),
    "fr": ("fre", "French"), "it": ("ita", "Italian"), "de": ("ger", "German"),
    "cs": ("cze", "Czech"), "nl": ("dut", "Dutch"), "pl": ("pol", "Polish"),
    "ru": ("rus", "Russian"), "sv": ("swe", "Swedish"), "bg": ("bul", "Bulgarian"),
    "sl": ("slv", "Slovenian"), "hi": ("hin", "Hindi"), "ja": ("jpn", "Japanese"),
    "zh": ("chi", "Chinese"), "ko": ("kor", "Korean"), "ar": ("ara", "Arabic"),
    "tr": ("tur", "Turkish"), "uk": ("ukr", "Ukrainian"), "ca": ("cat", "Catalan"),
    "da": ("dan", "Danish"), "fi": ("fin", "Finnish"), "el": ("gre", "Greek"),
    "he": ("heb", "Hebrew"), "hu": ("hun", "Hungarian"), "ro": ("rum", "Romanian"),
    "no": ("nor", "Norwegian"), "sk": ("slo", "Slovak"), "hr": ("hrv", "Croatian"),
    "id": ("ind", "Indonesian"), "vi": ("vie", "Vietnamese"), "th": ("tha", "Thai"),
    "fa": ("per", "Persian"), "gl": ("glg", "Galician"), "eu": ("baq", "Basque"),
}

WHISPER = frozenset(
    "en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no th ur hr "
    "bg lt la mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr pa si km sn "
    "yo so af oc ka be tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl mg as tt haw ln ha ba jw su "
    "yue".split()
)
"""ISO 639-1 codes Whisper can recognise (and translate from)."""

TTS = frozenset({"en", "pt", "es", "fr", "it", "hi"})
"""Dub languages of the embedded Kokoro model (Kokoro's espeak-ng recipe)."""


def normalize(code: str) -> str:
    """Lower-case ISO 639-1 code for ``code`` (accepts ``pt-BR``, ``por``, ``PT``).

    Raises:
        DubError: the code is not a language this project knows.
    """
    c = (code or "").strip().lower().replace("_", "-")
    base = c.split("-")[0]
    if base in _CODES or base in WHISPER:
        return base
    for one, (three, name) in _CODES.items():
        if base in (three, name.lower()):
            return one
    raise DubError(f"unknown language code '{code}'; use a two-letter ISO 639-1 code such as en, pt, es, fr, it")


def iso639_2(code: str) -> str:
    """ISO 639-2/B code for the container language tag (``und`` when unknown)."""
    return _CODES.get(code, ("und", ""))[0]


def name(code: str) -> str:
    """English name of the language (the code itself when unknown)."""
    return _CODES.get(code, ("", code))[1] or code
