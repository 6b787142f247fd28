"""Diarization error rate (DER), as NIST's md-eval defines it.

    DER = (missed speech + false alarm + speaker confusion) / total reference speech

measured in seconds over the elementary intervals between all turn boundaries. In an
interval of length ``d`` with ``R`` reference and ``H`` hypothesis speakers of which ``C``
are correctly mapped: missed ``d * max(0, R - H)``, false alarm ``d * max(0, H - R)``,
confusion ``d * (min(R, H) - C)``; total ``d * R``. The reference-to-hypothesis speaker
mapping is the one-to-one map maximising the overlap time (Hungarian algorithm), as in
md-eval and pyannote.metrics. Overlapped speech counts (every speaker in it), unless
``skip_overlap``. A ``collar`` (seconds) around each reference boundary is not scored
(md-eval's ``-c``: half the collar on each side; pyannote uses the same convention).

Tested against a hand-worked example (``tests/test_diarize.py``) and, where it is
installed, against ``pyannote.metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dubpreview.errors import DubError

Turn = tuple[float, float, str]
"""(start seconds, end seconds, speaker label)."""


@dataclass
class DERResult:
    """Components of the error in seconds and the rate (0 = perfect; can exceed 1)."""

    total: float
    missed: float
    false_alarm: float
    confusion: float
    mapping: dict[str, str]

    @property
    def der(self) -> float:
        return (self.missed + self.false_alarm + self.confusion) / self.total if self.total > 0 else 0.0


def read_rttm(path: str | Path) -> list[Turn]:
    """Turns of an RTTM file (``SPEAKER file chan start dur <NA> <NA> label ...`` lines).

    Raises:
        DubError: unreadable file or a malformed SPEAKER line.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DubError(f"cannot read the RTTM file {path}: {exc.strerror}") from None
    turns = []
    for n, line in enumerate(lines, 1):
        f = line.split()
        if not f or f[0] != "SPEAKER":
            continue
        try:
            start, dur = float(f[3]), float(f[4])
            turns.append((start, start + dur, f[7]))
        except (IndexError, ValueError):
            raise DubError(f"{path}:{n} is not an RTTM SPEAKER line") from None
    return turns


def _uem_mask(bounds: np.ndarray, ref: list[Turn], collar: float) -> np.ndarray:
    """True for the elementary intervals outside every collar zone."""
    keep = np.ones(len(bounds) - 1, bool)
    if collar <= 0:
        return keep
    mids = (bounds[:-1] + bounds[1:]) / 2
    for a, b, _ in ref:
        for t in (a, b):
            keep &= ~((mids > t - collar / 2) & (mids < t + collar / 2))
    return keep


def der(reference: list[Turn], hypothesis: list[Turn], collar: float = 0.0,
        skip_overlap: bool = False) -> DERResult:
    """The diarization error rate of ``hypothesis`` against ``reference``.

    Args:
        reference, hypothesis: turns ``(start_s, end_s, label)``; labels need not match.
        collar: seconds around reference boundaries left out of scoring (0 = none).
        skip_overlap: leave out the regions where the reference has 2+ speakers.

    Raises:
        DubError: a turn ends before it starts.
    """
    from scipy.optimize import linear_sum_assignment

    for a, b, lab in [*reference, *hypothesis]:
        if b < a:
            raise DubError(f"turn of '{lab}' ends ({b}) before it starts ({a})")
    bounds = np.unique(np.array([t for a, b, _ in [*reference, *hypothesis] for t in (a, b)] or [0.0]))
    if collar > 0:
        extra = [t + s * collar / 2 for a, b, _ in reference for t in (a, b) for s in (-1, 1)]
        bounds = np.unique(np.concatenate([bounds, extra]))
    if len(bounds) < 2:
        return DERResult(0.0, 0.0, 0.0, 0.0, {})
    mids = (bounds[:-1] + bounds[1:]) / 2
    dur = np.diff(bounds)
    rlabels = sorted({t[2] for t in reference})
    hlabels = sorted({t[2] for t in hypothesis})

    def activity(turns: list[Turn], labels: list[str]) -> np.ndarray:
        act = np.zeros((len(labels), len(mids)), bool)
        idx = {lab: i for i, lab in enumerate(labels)}
        for a, b, lab in turns:
            act[idx[lab]] |= (mids > a) & (mids < b)
        return act

    R, H = activity(reference, rlabels), activity(hypothesis, hlabels)
    keep = _uem_mask(bounds, reference, collar)
    if skip_overlap:
        keep &= R.sum(axis=0) <= 1
    w = dur * keep
    overlap = (R[:, None, :] & H[None, :, :]).astype(float) @ w if rlabels and hlabels else np.zeros((0, 0))
    mapping: dict[str, str] = {}
    correct = np.zeros(len(mids))
    if overlap.size:
        rows, cols = linear_sum_assignment(-overlap)
        for r, c in zip(rows, cols):
            if overlap[r, c] > 0:
                mapping[rlabels[r]] = hlabels[c]
                correct += R[r] & H[c]
    nr, nh = R.sum(axis=0), H.sum(axis=0)
    total = float((nr * w).sum())
    missed = float((np.maximum(0, nr - nh) * w).sum())
    fa = float((np.maximum(0, nh - nr) * w).sum())
    conf = float(((np.minimum(nr, nh) - correct) * w).sum())
    return DERResult(total, missed, fa, conf, mapping)
