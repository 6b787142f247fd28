"""The timing report as people read it: a status per line and a plain-text table.

Works on the JSON form (``timing.json``'s lines and totals, see
:meth:`dubpreview.records.TimingReport.to_dict`), so the CLI, the app and scripts share it.
"""

from __future__ import annotations

TOLERANCE_S = 0.05
"""Overruns and lateness below this (seconds) are not worth a word."""


def fit_status(line: dict) -> str:
    """``"fits"``, ``"sped up ×1.15"``, ``"late 120 ms"``, ``"overruns by 420 ms"`` or
    ``"overlaps by 300 ms"`` (several joined with ``", "``), from one report line."""
    parts = []
    if line.get("speed", 1.0) != 1.0:
        parts.append(f"{'sped up' if line['speed'] > 1 else 'slowed'} ×{line['speed']:.2f}")
    if line.get("lateness", 0.0) > TOLERANCE_S:
        parts.append(f"late {line['lateness'] * 1000:.0f} ms")
    if line.get("overflow", 0.0) > TOLERANCE_S:
        parts.append(f"overruns by {line['overflow'] * 1000:.0f} ms")
    if line.get("overlap", 0.0) > 0:
        parts.append(f"overlaps by {line['overlap'] * 1000:.0f} ms")
    return ", ".join(parts) or "fits"


def format_table(report: dict, texts: dict[int, str] | None = None, width: int = 40) -> str:
    """A fixed-width table of one language's report: line, start, end (s), speed, lateness
    and overrun (ms), status, and the dub text when ``texts`` (segment id -> text) is given;
    then one line of totals."""
    head = f"{'line':>4} {'start':>7} {'end':>7} {'speed':>5} {'late':>6} {'over':>6}  "
    rows = [head + (f"{'text':<{width}}  " if texts else "") + "status"]
    for line in report["lines"]:
        row = (f"{line['segment_id']:>4} {line['start']:7.2f} {line['end']:7.2f} {line['speed']:5.2f} "
               f"{line['lateness'] * 1000:6.0f} {line['overflow'] * 1000:6.0f}  ")
        if texts:
            text = texts.get(line["segment_id"], "")
            row += f"{text if len(text) <= width else text[: width - 1] + '…':<{width}}  "
        rows.append(row + fit_status(line))
    t = report["totals"]
    if t.get("lines"):
        rows.append(f"{t['lines']} lines: speed p50 {t['speed_p50']:.2f} p95 {t['speed_p95']:.2f} max {t['speed_max']:.2f}; "
                    f"{t['share_above_1_2'] * 100:.0f} % above 1.2×; mean |Δspeed| {t['mean_abs_delta_speed']:.3f}; "
                    f"{t['lines_overflowing']} overrun (max {t['overflow_max']:.2f} s); lateness max {t['lateness_max']:.2f} s; "
                    f"{t['overlaps']} overlaps; M1 {t['m1']:.3f} M2 {t['m2']:.3f}")
    return "\n".join(rows)
