"""Length-aware translation: pick a shorter translation when a line would be rushed.

When a line needs more than the accepted speed, the translator's n-best candidates
(beam search; the transformers backend gives them) are scored for length with the
synthesizer's own estimate, and the highest-scoring candidate that fits the length budget
is taken, provided it scores within ``margin`` of the best (so meaning is kept). This
is the "shorter translation" strategy of the isochrony literature (e.g. Lakew et al.,
"Isometric MT", 2022), done as re-ranking instead of retraining.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Candidate:
    """One translation candidate: ``text``, model ``score`` (higher is better, e.g. the
    length-normalised log-probability) and ``estimate_s``, its natural spoken length (s)."""

    text: str
    score: float
    estimate_s: float


def rank(texts_scores: list[tuple[str, float]], estimate: Callable[[str], float]) -> list[Candidate]:
    """Candidates with their estimated lengths, duplicates and blanks dropped, best score first."""
    seen, out = set(), []
    for text, score in sorted(texts_scores, key=lambda c: -c[1]):
        key = " ".join(text.split()).lower()
        if key and key not in seen:
            seen.add(key)
            out.append(Candidate(text.strip(), float(score), float(estimate(text))))
    return out


def choose(candidates: list[Candidate], current_s: float, budget_s: float, margin: float = 0.5) -> Candidate | None:
    """The candidate to use instead of the current translation (natural length ``current_s``),
    or ``None`` to keep it.

    Only candidates scoring within ``margin`` of the best are eligible. The highest-scoring
    eligible one whose estimate fits ``budget_s`` wins; if none fits, the shortest eligible one,
    when it is clearly shorter (by 5 %) than the current translation.
    """
    if not candidates or current_s <= budget_s:
        return None
    best = max(c.score for c in candidates)
    eligible = [c for c in candidates if c.score >= best - margin]
    fitting = [c for c in eligible if c.estimate_s <= budget_s]
    if fitting:
        pick = max(fitting, key=lambda c: c.score)
    else:
        pick = min(eligible, key=lambda c: c.estimate_s)
    return pick if pick.estimate_s < 0.95 * current_s else None
