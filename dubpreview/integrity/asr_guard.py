"""The guard pass after speech recognition: loops, stock phrases, impossible rates, lost speech.

:func:`guard_transcript` takes the first pass's segments and, line by line:

1. a line that loops (:func:`~dubpreview.integrity.repetition.is_degenerate`) or that could
   not be said in its slot (:func:`~dubpreview.integrity.rate.too_long`) is decoded again on
   its own with the strict options (beam 5, Whisper's temperature fallback, no repeated
   3-gram, repetition penalty: :meth:`~dubpreview.asr.common.DecodeOptions.strict`); if the
   new text is clean it replaces the line (flag ``re-decoded``); otherwise the loop is
   collapsed (``repetition repaired``), an unrepairable loop holds the line (``degenerate``)
   and a text still too long is cut to what fits (``rate ceiling``);
2. known hallucinated phrases (:mod:`~dubpreview.integrity.phrases`) stay only where the VAD
   hears speech under their words and the words align; otherwise they are removed (flag
   ``phrase dropped``), and a line with nothing left is dropped and listed;
3. VAD speech of more than a second that no line covers is decoded again as its own window,
   language forced; what it finds is added (flag ``recovered``), except a line that only
   repeats the words of the line next to it (within :data:`ECHO_S`: the padded window heard
   the neighbour again, listed as dropped); the rest is reported
   (:class:`~dubpreview.integrity.coverage.Coverage`);
4. a line whose window scored a mean log-probability below -1.0 is flagged ``low confidence``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from dubpreview.asr import vad
from dubpreview.asr.base import SAMPLE_RATE
from dubpreview.integrity import coverage, flags, phrases, rate, repetition
from dubpreview.integrity.words import text_of
from dubpreview.records import Segment

LOW_LOGPROB = -1.0
"""openai/whisper ``transcribe()``'s ``logprob_threshold``: below it a window is doubtful."""
GUARD_VERSION = 5
"""Bumped when a guard rule changes (part of the cache keys of guarded transcripts and translations)."""
REDECODE_PAD_S = 0.2
"""Seconds of audio added on each side of a line or gap decoded again on its own."""
ECHO_S = 1.0
"""A recovered line whose words are those at the near end of a line at most this many seconds
away is the neighbour heard again, not new speech."""


def _norm_words(text: str) -> list[str]:
    return re.findall(r"\w+(?:'\w+)?", text.lower())


def _echo(seg: Segment, lines: list[Segment]) -> Segment | None:
    """The line of ``lines`` that ``seg`` only repeats (its words equal the last words of a line
    ending at most :data:`ECHO_S` before it, or the first words of one starting at most that
    long after it), else None."""
    words = _norm_words(seg.text)
    if not words:
        return None
    for o in lines:
        other = _norm_words(o.text)
        if 0 <= seg.start - o.end <= ECHO_S and other[-len(words):] == words:
            return o
        if 0 <= o.start - seg.end <= ECHO_S and other[:len(words)] == words:
            return o
    return None


@dataclass
class GuardResult:
    """What the guard left: the ``segments`` (renumbered 0..n-1), the VAD ``coverage``,
    the ``dropped`` lines (``{"start", "end", "text", "reason"}``) and counts of
    ``redecoded``/``recovered`` lines."""

    segments: list[Segment]
    coverage: coverage.Coverage
    dropped: list[dict] = field(default_factory=list)
    redecoded: int = 0
    recovered: int = 0


def line_slots(segments: list[Segment], tail_s: float = 1.0) -> list[float]:
    """Seconds each line may take: up to the next line's start (the timing engine borrows the
    silence after a line), the last line its own length plus ``tail_s``."""
    out = []
    for i, seg in enumerate(segments):
        nxt = segments[i + 1].start if i + 1 < len(segments) else seg.end + tail_s
        out.append(max(seg.duration, nxt - seg.start))
    return out


def _speech_share(probs: np.ndarray, start: float, end: float, threshold: float) -> float:
    a = int(start * SAMPLE_RATE) // vad.WINDOW
    b = max(a + 1, int(np.ceil(end * SAMPLE_RATE / vad.WINDOW)))
    window = probs[a:b]
    return float(np.mean(window >= threshold)) if len(window) else 0.0


def _loop_free_words(seg: Segment) -> Segment:
    """``seg`` with each repetition loop of its words collapsed (text rebuilt from words)."""
    if not seg.words:
        return Segment(**{**vars(seg), "text": repetition.repair(seg.text)})
    loops = repetition.find_loops([w.text for w in seg.words])
    keep, i = [], 0
    for loop in loops:
        keep += seg.words[i:loop.start + loop.n]
        i = loop.end
    keep += seg.words[i:]
    return Segment(**{**vars(seg), "words": keep, "text": text_of(keep), "end": max(seg.start, keep[-1].end)})


def vad_speech(transcriber, audio: np.ndarray) -> list[tuple[float, float]]:
    """Silero VAD speech regions of ``audio`` (seconds, unpadded) cut with ``transcriber.vad``'s
    threshold and pause length: the speech that coverage is measured against."""
    opts = transcriber.vad
    return vad.regions_from_probabilities(vad.speech_probabilities(audio), len(audio), threshold=opts.threshold,
                                          min_silence_s=opts.min_silence_s, pad_s=0.0)


class _Guard:
    def __init__(self, transcriber, audio: np.ndarray, language: str, accepted_speed: float):
        self.transcriber, self.audio, self.language = transcriber, audio, language
        self.accepted_speed = accepted_speed
        opts = transcriber.vad
        self.threshold = opts.threshold
        self.probs = vad.speech_probabilities(audio)
        self.speech = vad.regions_from_probabilities(self.probs, len(audio), threshold=opts.threshold,
                                                     min_silence_s=opts.min_silence_s, pad_s=0.0)
        self.dropped: list[dict] = []
        self.redecoded = 0

    def bad(self, seg: Segment, slot: float) -> bool:
        return repetition.is_degenerate(seg.text) or rate.too_long(seg.text, slot, self.accepted_speed)

    def line(self, seg: Segment, slot: float, redecode: bool = True) -> list[Segment]:
        """The line after steps 1 and 2 of the module docstring (zero, one or more lines)."""
        if self.bad(seg, slot):
            first = seg.text
            new = (self.transcriber.decode_region(self.audio, seg.start - REDECODE_PAD_S, seg.end + REDECODE_PAD_S,
                                                  self.language) if redecode else [])
            new = [s for s in new if seg.start - 1.0 <= (s.start + s.end) / 2 <= seg.end + 1.0]
            if new and not any(self.bad(s, max(s.duration, slot * s.duration / max(seg.duration, 1e-3))) for s in new):
                self.redecoded += 1
                for s in new:
                    s.speaker = seg.speaker
                    flags.add(s, flags.REDECODED, f"the first decode looped or overran: {first[:80]!r}")
                return [x for s in new for x in self.phrases(s)]
            seg = self.repair(seg, slot)
        return self.phrases(seg)

    def repair(self, seg: Segment, slot: float) -> Segment:
        before = seg.text
        if repetition.is_degenerate(seg.text):
            seg = _loop_free_words(seg)
            flags.add(seg, flags.REPAIRED, f"{len(before.split())} words -> {len(seg.text.split())}: {before[:80]!r}")
            if repetition.is_degenerate(seg.text):
                flags.add(seg, flags.DEGENERATE, "the loop is still there after the repair")
        if rate.too_long(seg.text, slot, self.accepted_speed):
            short = rate.shorten(seg.text, slot, self.accepted_speed)
            flags.add(seg, flags.RATE_CEILING, f"cut to what {slot:.1f} s can hold: {seg.text[:80]!r}")
            n = len(short.split())
            seg = Segment(**{**vars(seg), "text": short, "words": seg.words[:n] if seg.words else []})
        return seg

    def phrases(self, seg: Segment) -> list[Segment]:
        for match in phrases.find(seg.text, [w.text for w in seg.words]):
            if match.first >= 0:
                ws = seg.words[match.first:match.last + 1]
                span, prob = (ws[0].start, ws[-1].end), float(np.mean([w.probability for w in ws]))
            else:
                span = (seg.start, seg.end)
                prob = float(np.exp(seg.avg_logprob)) if seg.avg_logprob is not None else 0.0
            share = _speech_share(self.probs, *span, self.threshold)
            if phrases.supported(share, prob):
                continue
            reason = f"known hallucination {match.phrase!r}: {share:.0%} speech under it, word probability {prob:.2f}"
            if match.first >= 0:  # the whole sentence goes: the rest of a stock line is stock too
                first, last = phrases.sentence_of([w.text for w in seg.words], match.first, match.last)
                words = seg.words[:first] + seg.words[last + 1:]
                text = text_of(words)
            else:
                words = []
                text = phrases.remove(seg.text, match.phrase)
            if not re.search(r"\w", text):
                self.dropped.append({"start": seg.start, "end": seg.end, "text": seg.text, "reason": reason})
                return []
            seg = Segment(**{**vars(seg), "text": text, "words": words,
                             "start": words[0].start if words else seg.start,
                             "end": words[-1].end if words else seg.end})
            flags.add(seg, flags.PHRASE_DROPPED, reason)
        return [seg]


def _renumber(segments: list[Segment]) -> list[Segment]:
    segments.sort(key=lambda s: (s.start, s.end))
    for i, s in enumerate(segments):
        s.id = i
    return segments


def guard_transcript(transcriber, audio: np.ndarray, segments: list[Segment], language: str,
                     accepted_speed: float = 1.2) -> GuardResult:
    """Run the guard (module docstring) over ``segments`` of ``audio`` (float32 ``(n,)``, 16 kHz).

    ``transcriber`` is a :class:`~dubpreview.asr.common.ClipWhisperTranscriber` (its
    ``decode_region`` re-decodes, its ``vad`` options cut the speech); ``language`` the
    ISO 639-1 code spoken; ``accepted_speed`` the timing's accepted speed-up (the rate
    ceiling is twice the slot at that speed). The input segments are not modified.
    """
    g = _Guard(transcriber, audio, language, accepted_speed)
    segs = [Segment.from_dict(s.to_dict()) for s in segments]
    out: list[Segment] = []
    for seg, slot in zip(segs, line_slots(segs)):
        out += g.line(seg, slot)
    recovered = 0
    for lo, hi in coverage.gaps(g.speech, [(s.start, s.end) for s in out]):
        found = transcriber.decode_region(audio, lo - REDECODE_PAD_S, hi + REDECODE_PAD_S, language)
        found = [s for s in found if lo - coverage.TOLERANCE_S <= (s.start + s.end) / 2 <= hi + coverage.TOLERANCE_S
                 and not any(min(s.end, o.end) - max(s.start, o.start) > 0.5 * s.duration for o in out)]
        for seg, slot in zip(found, line_slots(found)):
            for s in g.line(seg, slot, redecode=False):
                echo = _echo(s, out)
                if echo is not None:
                    g.dropped.append({"start": s.start, "end": s.end, "text": s.text,
                                      "reason": f"repeats line {echo.start:.1f}-{echo.end:.1f} s next to it"})
                    continue
                flags.add(s, flags.RECOVERED, f"speech at {lo:.1f}-{hi:.1f} s that the first pass left out")
                out.append(s)
                recovered += 1
    for seg in out:
        if seg.avg_logprob is not None and seg.avg_logprob < LOW_LOGPROB:
            flags.add(seg, flags.LOW_CONFIDENCE, f"mean log-probability {seg.avg_logprob:.2f} (< {LOW_LOGPROB})")
    out = _renumber(out)
    cov = coverage.measure(g.speech, [(s.start, s.end) for s in out])
    return GuardResult(out, cov, g.dropped, g.redecoded, recovered)
