"""Whisper's known hallucinated phrases, kept only where the audio says they were spoken.

Whisper was trained on subtitled video, and over silence, music or noise it writes the
subtitlers' and YouTubers' stock lines. The list below is the one reported again and again
in openai/whisper's discussions (#679 "A possible solution to Whisper hallucination",
#928, #1783) and in Koenecke et al. 2024, "Careless Whisper: speech-to-text hallucination
harms" (FAccT '24), for the languages this tool dubs. A phrase found in a line is kept only
if the VAD scores at least :data:`MIN_SPEECH_SHARE` of the frames under its words as speech
*and* its words align (mean word probability at least :data:`MIN_WORD_PROBABILITY`);
otherwise the whole sentence that holds it is removed (:func:`remove`, :func:`sentence_of`:
what is left of "Don't forget to subscribe to our channel." without its stock words is
still a stock line, never a line of the scene), and the line is flagged (or dropped when
nothing is left). The English list has the YouTube endings that Whisper base's speech
translation gave over Czech game dialogue in ``bench/content.py`` (subscribe, channel,
like and share, "the end of the video").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PHRASES: tuple[str, ...] = (
    # en
    "thank you for watching", "thanks for watching", "thank you so much for watching",
    "please subscribe", "subscribe to my channel", "like and subscribe", "don't forget to subscribe",
    "see you in the next video", "see you next time", "the next video is about",
    "in the next video", "this is the end of the video", "subscribe to our channel", "subscribe to the channel",
    "don't forget to like", "like and share", "please like", "if you like this video", "if you don't like this video",
    "if you enjoyed this video", "subtitles by", "subtitles by the amara.org community",
    "transcribed by", "translated by", "captions by", "www.mooji.org", "amara.org",
    # pt
    "obrigado por assistir", "inscreva-se no canal", "legendas pela comunidade amara.org",
    "até o próximo vídeo", "legendado por",
    # es
    "gracias por ver el video", "suscríbete al canal", "subtítulos realizados por la comunidad de amara.org",
    "nos vemos en el próximo video",
    # fr
    "merci d'avoir regardé", "sous-titrage société radio-canada", "sous-titres réalisés par la communauté d'amara.org",
    "abonnez-vous",
    # it
    "grazie per la visione", "sottotitoli creati dalla comunità amara.org", "iscriviti al canale",
    # cs
    "děkuji za pozornost", "titulky vytvořil", "titulky: ",
    # de
    "untertitel im auftrag des zdf", "untertitel der amara.org-community", "vielen dank fürs zuschauen",
)
MIN_SPEECH_SHARE = 0.5
"""Share of VAD frames under a phrase that must be speech for it to stay."""
MIN_WORD_PROBABILITY = 0.5
"""Mean word probability (Whisper's alignment) a phrase's words need to stay."""


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w'.:-]+", " ", text.lower()).split())


def _word_norm(text: str) -> str:
    return re.sub(r"[^\w]+", "", text.lower())


@dataclass(frozen=True)
class Match:
    """A known phrase found in a line: ``phrase``, and its words ``first``..``last``
    (indices into the line's words; -1 when the line has no words)."""

    phrase: str
    first: int
    last: int


def find(text: str, words: list[str]) -> list[Match]:
    """The known phrases in a line of ``text`` with word texts ``words``; each located on
    the words when they spell it out."""
    norm = _norm(text)
    wn = [_word_norm(w) for w in words]
    out = []
    for phrase in PHRASES:
        if phrase.strip() not in norm:
            continue
        target = [_word_norm(p) for p in phrase.split() if _word_norm(p)]
        first = last = -1
        for i in range(len(wn) - len(target) + 1):
            if wn[i:i + len(target)] == target:
                first, last = i, i + len(target) - 1
                break
        if out and first >= 0 and any(m.first <= first <= m.last for m in out):
            continue  # a shorter phrase inside one already found
        out.append(Match(phrase, first, last))
    return out


def supported(speech_share: float, word_probability: float) -> bool:
    """True when the audio under a phrase holds speech and its words align (see the module)."""
    return speech_share >= MIN_SPEECH_SHARE and word_probability >= MIN_WORD_PROBABILITY


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def remove(text: str, phrase: str) -> str:
    """``text`` without the sentences (split after ``.``, ``!``, ``?``, ``…``) that hold
    ``phrase`` as :func:`find` finds it, and without the punctuation left at its ends."""
    kept = [part for part in _SENTENCE_END.split(text) if phrase.strip() not in _norm(part)]
    return " ".join(" ".join(kept).split()).strip(" ,.!?;:-")


def sentence_of(words: list[str], first: int, last: int) -> tuple[int, int]:
    """The indices ``(first, last)`` widened to the whole sentence of ``words`` that holds
    words ``first``..``last`` (a sentence ends at a word ending in ``.``, ``!``, ``?``, ``…``)."""
    ends = lambda w: w.rstrip(" \"')»”").endswith((".", "!", "?", "…"))  # noqa: E731
    while first > 0 and not ends(words[first - 1]):
        first -= 1
    while last < len(words) - 1 and not ends(words[last]):
        last += 1
    return first, last
