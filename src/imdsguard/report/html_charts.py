"""PURE geometry of the HTML report's bar charts: stacked pass/fail/info bars, one per label.

Text widths are estimated, since Python cannot measure a browser font; the estimate is
generous, and tests/test_report_html.py checks in Chromium that every text box lies
inside its drawing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

CHAR_PX = 8.0  # above the advance of 12 px system-ui text (DejaVu Sans digits are 7.6 px)
BAR_PX = 160  # the longest bar
ROW_PX = 22
LEGEND_PX = 26  # the legend row above the bars
MAX_BARS = 12  # beyond this the smallest labels share one "N others" bar
SEGMENTS = (("fail", "FAIL"), ("info", "INFO"), ("pass", "PASS"))
LEGEND = (("fail", "fail"), ("info", "info"), ("pass", "pass"))


@dataclass(frozen=True, slots=True)
class Segment:
    css: str
    x: float
    width: float
    count: int


@dataclass(frozen=True, slots=True)
class Row:
    y: int
    label: str
    segments: tuple[Segment, ...]
    text_x: float
    text: str
    incomplete: bool


@dataclass(frozen=True, slots=True)
class Chart:
    caption: str
    rows: tuple[Row, ...]
    label_px: float
    width: int
    height: int
    legend: tuple[tuple[str, str, float], ...]  # css class, word, x


@dataclass(frozen=True, slots=True)
class Tally:
    """One label's counts; ``incomplete``: some of what it covers could not be read."""

    label: str
    counts: Counter[str]
    incomplete: bool = False
    empty_text: str = "none found"


def _text(t: Tally) -> str:
    words = [f"{t.counts[status]} {css}" for css, status in SEGMENTS if t.counts[status]]
    if t.incomplete:
        words.append("incomplete" if words else "not read")
    return " · ".join(words) or t.empty_text


def _capped(tallies: list[Tally]) -> list[Tally]:
    """Most failures first; past MAX_BARS the rest are summed, so the chart stays readable."""
    ranked = sorted(tallies, key=lambda t: (-t.counts["FAIL"], -t.incomplete, t.label))
    if len(ranked) <= MAX_BARS:
        return ranked
    head, tail = ranked[: MAX_BARS - 1], ranked[MAX_BARS - 1 :]
    total: Counter[str] = sum((t.counts for t in tail), Counter())
    rest = Tally(f"{len(tail)} others", total, any(t.incomplete for t in tail))
    return [*head, rest]


def chart(caption: str, tallies: Iterable[Tally]) -> Chart:
    shown = _capped(list(tallies))
    label_px = max((len(t.label) for t in shown), default=0) * CHAR_PX + 10
    longest = max((sum(t.counts[s] for _, s in SEGMENTS) for t in shown), default=0)
    scale = BAR_PX / max(longest, 1)
    rows: list[Row] = []
    text_px = 0.0
    for i, t in enumerate(shown):
        x, segments = label_px, []
        for css, status in SEGMENTS:
            width = round(t.counts[status] * scale, 1)
            if width:
                segments.append(Segment(css, x, width, t.counts[status]))
            x += width
        text = _text(t)
        text_px = max(text_px, len(text) * CHAR_PX)
        rows.append(
            Row(LEGEND_PX + ROW_PX * i, t.label, tuple(segments), x + 6, text, t.incomplete)
        )
    legend, x = [], 0.0
    for css, word in LEGEND:
        legend.append((css, word, x))
        x += 22 + len(word) * CHAR_PX + 12
    width = round(max(label_px + BAR_PX + 6 + text_px + 4, x))
    return Chart(
        caption, tuple(rows), label_px, width, LEGEND_PX + ROW_PX * len(rows), tuple(legend)
    )
