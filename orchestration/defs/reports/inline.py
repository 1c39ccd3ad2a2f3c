"""A miniature of an event chart small enough for the Dagster UI to show inline.

The UI renders a markdown metadata value in place only when it is shorter than 1,000 characters;
longer ones (every PNG chart) sit behind a "[Show Markdown]" link. A few horizontal bars in SVG,
URL-encoded into a data URI, fit: the largest USD moves of the event at a glance, the full chart
one click away."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

# The UI shows markdown inline below this many characters (dagster-webserver's metadata table).
INLINE_MARKDOWN_LIMIT = 1000
MAX_BARS = 6
_WIDTH, _LABEL, _ROW, _BAR = 360, 52, 15, 12
_LOSS, _GAIN = "#c0392b", "#27ae60"


def inline_chart(title: str, bars: Sequence[tuple[str, float]]) -> str | None:
    """Markdown for an SVG bar chart of (label, value) pairs, largest |value| first, with as many
    bars (up to MAX_BARS) as fit in INLINE_MARKDOWN_LIMIT; None when there is nothing to draw."""
    ranked = sorted((bar for bar in bars if bar[1] == bar[1]), key=lambda bar: -abs(bar[1]))
    for count in range(min(MAX_BARS, len(ranked)), 0, -1):
        markdown = _markdown(title, ranked[:count])
        if len(markdown) < INLINE_MARKDOWN_LIMIT:
            return markdown
    return None


def _markdown(title: str, bars: Sequence[tuple[str, float]]) -> str:
    largest = max(abs(value) for _, value in bars) or 1.0
    span = (_WIDTH - _LABEL) / 2  # bars grow left (losses) or right (gains) of the middle
    middle = _LABEL + span
    rows = []
    for index, (label, value) in enumerate(bars):
        width = max(1, round(abs(value) / largest * span))
        x = round(middle - width) if value < 0 else round(middle)
        y = index * _ROW
        rows.append(
            f"<text x='0' y='{y + _BAR}'>{_escaped(label)[:8]}</text>"
            f"<rect x='{x}' y='{y}' width='{width}' height='{_BAR}' "
            f"fill='{_LOSS if value < 0 else _GAIN}'/>"
        )
    svg = (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{_WIDTH}' "
        f"height='{len(bars) * _ROW}' font-size='11' font-family='sans-serif'>"
        + "".join(rows)
        + "</svg>"
    )
    # inside <...> a markdown link destination may hold spaces; < > # and % must be encoded
    uri = "data:image/svg+xml," + quote(svg, safe=" ='/:,.-_()")
    return f"![{_escaped(title)}](<{uri}>)"


def _escaped(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("[", "(")
        .replace("]", ")")
    )
