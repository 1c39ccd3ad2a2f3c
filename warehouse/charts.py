"""Event charts: for each event, which companies gained or lost market value on day 0 and how
abnormal their move was, grouped by sector, as a picture that reads at a glance.

Pure rendering: the frames ``warehouse.reports.event_impact`` returns go in; PNG bytes come out
together with the exact numbers drawn, so tests and the Dagster metadata can hold the picture to
the marts. Nothing here opens the warehouse. Figures use matplotlib's object API, never pyplot, so
rendering needs no display, switches no global backend and leaves no figure open."""

from __future__ import annotations

import hashlib
import html
import io
import json
import math
import os
import re
import tempfile
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import matplotlib
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import blended_transform_factory
from PIL import Image

from warehouse.reports import ALL_EQUITIES

DPI = 130
# The Dagster UI keeps metadata in its event log: a smaller, palette-reduced copy keeps every run's
# record light (about 30 kB against 200 kB).
PREVIEW_DPI = 72
PREVIEW_COLORS = 64
FIGURE_WIDTH_IN = 12.0
MIN_FIGURE_HEIGHT_IN = 7.0
ROW_HEIGHT_IN = 0.28
TOP_MARGIN_IN = 1.25
# Below the panels: the x tick labels, then one line per footnote line.
TICK_LABELS_IN = 0.5
FOOTNOTE_LINE_IN = 0.165
FOOTNOTE_WIDTH_CHARS = 170
LEFT_MARGIN_IN = 0.95
# Title, subtitle and footnote start here, left of the ticker labels.
TEXT_LEFT_IN = 0.22
RIGHT_MARGIN_IN = 1.55
# Right edges of the value columns beyond the return panel.
ABNORMAL_COLUMN_IN = 0.74
RAW_COLUMN_IN = 1.34
PANEL_GAP_IN = 0.3
# Beyond this many rows the labels would crowd; a synthetic universe of thousands stays legible.
MAX_SECURITIES = 30

LOSS_COLOR = "#c0392b"
GAIN_COLOR = "#2e8b57"
INK = "#1f2933"
MUTED = "#6b7280"
BAND_COLOR = "#eef1f5"
GRID_COLOR = "#d9dde3"
MINUS = "\u2212"

UNCLASSIFIED = "Unclassified"
MISSING_SESSION_MARK = "\u2020"
SAFE_FILE_STEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

DEFINITIONS = (
    "Day 0 = each security's first session on or after the event date, on its own exchange. "
    "USD change = shares outstanding \u00d7 (close \u00d7 FX \u2212 previous close \u00d7 previous "
    "FX). Abnormal return = day-0 return \u2212 (\u03b1 + \u03b2 \u00d7 benchmark return), market "
    "model fitted over sessions \u2212260 to \u221211 (n/a with fewer than 120 observations)."
)
MARTS = "market-warehouse marts.fct_event_impact and marts.agg_event_sector_impact"


@dataclass(frozen=True)
class Event:
    event_id: str
    name: str
    event_date: date


@dataclass(frozen=True)
class ChartData:
    """What one event chart shows, in the units drawn."""

    # One row per security drawn, top to bottom: sector, ticker, usd_change_bn,
    # abnormal_return_pct, day0_return_pct, spans_missing_session.
    plotted: pd.DataFrame
    # One row per sector band, top to bottom: sector, usd_change_bn (the band's header).
    sectors: pd.DataFrame
    total_usd_change_bn: float | None
    biggest_loser: str | None
    equities: int
    with_return: int
    with_usd: int
    notes: tuple[str, ...]


@dataclass(frozen=True)
class EventChart:
    event: Event
    data: ChartData
    png: bytes
    preview_png: bytes

    @property
    def file_name(self) -> str:
        return chart_file_name(self.event.event_id)


def chart_file_name(event_id: str) -> str:
    """``<event_id>.png``; an id that could escape the reports folder is refused."""
    if not SAFE_FILE_STEM.match(event_id):
        raise ValueError(f"event id {event_id!r} cannot name a chart file")
    return f"{event_id}.png"


def chart_data(
    securities: pd.DataFrame, sectors: pd.DataFrame, *, max_securities: int = MAX_SECURITIES
) -> ChartData:
    """The rows to draw, from ``reports.event_impact``'s securities and sectors frames, ordered
    so the story reads from the top: sectors by USD change, companies within a sector by USD
    change (those without a share count after them, by return). Sell-offs put the largest
    losses first, rallies the largest gains."""
    all_row = sectors[sectors["sector"] == ALL_EQUITIES]
    total = _billions(all_row["usd_value_change"].iloc[0]) if len(all_row) else None
    loser = all_row["largest_loser"].iloc[0] if len(all_row) else None
    # An event without rows gives all-null columns, which pandas does not type as numbers.
    sector_usd_bn = (
        sectors[sectors["sector"] != ALL_EQUITIES]
        .set_index("sector")["usd_value_change"]
        .astype("float64")
        / 1e9
    )

    frame = pd.DataFrame(
        {
            "sector": securities["sector"].fillna(UNCLASSIFIED),
            "ticker": securities["ticker"],
            "usd_change_bn": securities["day0_usd_value_change"] / 1e9,
            "abnormal_return_pct": securities["car_mm_0_0"] * 100,
            "day0_return_pct": securities["day0_return"] * 100,
            "spans_missing_session": securities["day0_spans_missing_session"].eq(True),
            "missing_reason": securities["missing_reason"],
        }
    )
    with_return = frame[frame["day0_return_pct"].notna()]
    shown = _largest_moves(with_return, max_securities)
    plotted = _story_order(shown, sector_usd_bn, rally=total is not None and total > 0)
    sector_order = list(dict.fromkeys(plotted["sector"]))
    return ChartData(
        plotted=plotted,
        sectors=pd.DataFrame(
            {
                "sector": sector_order,
                "usd_change_bn": [sector_usd_bn.get(name, math.nan) for name in sector_order],
            },
            columns=["sector", "usd_change_bn"],
        ),
        total_usd_change_bn=total,
        biggest_loser=None if pd.isna(loser) else str(loser),
        equities=len(frame),
        with_return=len(with_return),
        with_usd=int(with_return["usd_change_bn"].notna().sum()),
        notes=tuple(_notes(plotted, frame)),
    )


def _billions(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value) / 1e9


def _largest_moves(securities: pd.DataFrame, limit: int) -> pd.DataFrame:
    """At most ``limit`` securities: the largest USD changes, then the largest returns."""
    if len(securities) <= limit:
        return securities
    ranked = securities.assign(
        _no_usd=securities["usd_change_bn"].isna(),
        _usd_size=-securities["usd_change_bn"].abs(),
        _return_size=-securities["day0_return_pct"].abs(),
    ).sort_values(["_no_usd", "_usd_size", "_return_size"])
    return ranked.head(limit)


def _story_order(
    securities: pd.DataFrame, sector_usd_bn: pd.Series, *, rally: bool
) -> pd.DataFrame:
    # Keys are multiplied by this sign, so one ascending sort serves sell-offs and rallies.
    sign = -1.0 if rally else 1.0
    ordered = securities.assign(
        _sector_usd=securities["sector"].map(sector_usd_bn).astype("float64") * sign,
        _no_usd=securities["usd_change_bn"].isna(),
        _usd=securities["usd_change_bn"] * sign,
        _return=securities["day0_return_pct"] * sign,
    )
    # Sectors without any USD value go last, by name, so the picture is deterministic.
    ordered = ordered.sort_values(
        ["_sector_usd", "sector", "_no_usd", "_usd", "_return"], na_position="last"
    )
    return ordered[
        [
            "sector",
            "ticker",
            "usd_change_bn",
            "abnormal_return_pct",
            "day0_return_pct",
            "spans_missing_session",
        ]
    ].reset_index(drop=True)


def _notes(plotted: pd.DataFrame, securities: pd.DataFrame) -> list[str]:
    notes = []
    with_return = int(securities["day0_return_pct"].notna().sum())
    if len(plotted) < with_return:
        notes.append(
            f"Showing the {len(plotted)} largest moves of {with_return} (by USD change, then by "
            "return); sector totals count every security."
        )
    no_usd = sorted(plotted.loc[plotted["usd_change_bn"].isna(), "ticker"])
    if no_usd:
        notes.append(f"No share count, so no USD value (return panel only): {_listed(no_usd)}.")
    spanning = list(plotted.loc[plotted["spans_missing_session"], "ticker"])
    if spanning:
        notes.append(
            f"{MISSING_SESSION_MARK} The day-0 return spans a session missing from the data: "
            f"{_listed(spanning)}."
        )
    if len(plotted) and plotted["abnormal_return_pct"].isna().all():
        notes.append(
            "No security has a market-model abnormal return for this event (the model needs 120 "
            "sessions of history before day \u221210): raw returns only."
        )
    without_return = securities[securities["day0_return_pct"].isna()]
    if len(without_return):
        reasons = [
            f"{row.ticker} ({row.missing_reason or 'no day-0 return'})"
            for row in without_return.itertuples()
        ]
        notes.append(f"Not charted, no day-0 return: {_listed(reasons, separator='; ')}.")
    return notes


def _listed(items: Sequence[str], *, separator: str = ", ", limit: int = 12) -> str:
    shown = separator.join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


def render_event_chart(event: Event, data: ChartData, *, data_source: str) -> EventChart:
    """The chart as a full-size PNG for the reports folder and a small one for the Dagster UI;
    ``data_source`` names where the prices came from, for the footnote."""
    # Dollar signs are text here, not mathtext delimiters.
    with matplotlib.rc_context({"text.parse_math": False, "font.family": "DejaVu Sans"}):
        figure = _figure(event, data, data_source)
        png = _png(figure, DPI)
        preview = _png(figure, PREVIEW_DPI)
    return EventChart(event=event, data=data, png=png, preview_png=_fewer_colors(preview))


CACHE_DIR = ".rendered"
# Part of every fingerprint: a change to how charts are drawn re-renders them all.
_RENDERER_VERSION = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def chart_fingerprint(event: Event, data: ChartData, *, data_source: str) -> str:
    """Identifies a chart by everything it draws: the same fingerprint, the same picture."""
    digest = hashlib.sha256()
    for part in (
        _RENDERER_VERSION,
        repr(event),
        data_source,
        # to 9 significant digits, far below what the chart shows: the market-model fit sums in
        # parallel and its last bits differ from run to run
        data.plotted.to_csv(index=False, float_format="%.9g"),
        data.sectors.to_csv(index=False, float_format="%.9g"),
        repr(
            (
                _rounded(data.total_usd_change_bn),
                data.biggest_loser,
                data.equities,
                data.with_return,
                data.with_usd,
                data.notes,
            )
        ),
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _rounded(value: float | None) -> str:
    return "None" if value is None else f"{value:.9g}"


def rendered_event_chart(
    event: Event, data: ChartData, *, data_source: str, reports_dir: Path
) -> tuple[EventChart, bool]:
    """The chart, and whether it had to be drawn: a nightly refresh rarely changes a past event,
    and drawing takes about half a second per chart, so a chart whose fingerprint matches the one
    kept beside ``<reports_dir>/<event_id>.png`` is read back instead."""
    fingerprint = chart_fingerprint(event, data, data_source=data_source)
    full = reports_dir / chart_file_name(event.event_id)
    preview = reports_dir / CACHE_DIR / f"{event.event_id}.preview.png"
    record = reports_dir / CACHE_DIR / f"{event.event_id}.json"
    try:
        if json.loads(record.read_text())["fingerprint"] == fingerprint:
            return EventChart(event, data, full.read_bytes(), preview.read_bytes()), False
    except (OSError, ValueError, KeyError):
        pass  # nothing kept, or unreadable: draw it
    chart = render_event_chart(event, data, data_source=data_source)
    write_atomically(full, chart.png)
    write_atomically(preview, chart.preview_png)
    write_atomically(record, json.dumps({"fingerprint": fingerprint}).encode())
    return chart, True


def _png(figure: Figure, dpi: int) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


def _fewer_colors(png: bytes) -> bytes:
    buffer = io.BytesIO()
    with Image.open(io.BytesIO(png)) as image:
        image.convert("RGB").quantize(colors=PREVIEW_COLORS).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _figure(event: Event, data: ChartData, data_source: str) -> Figure:
    source = f"Data: {data_source}, via {MARTS}. Event id: {event.event_id}."
    footnote = "\n".join(
        textwrap.fill(line, FOOTNOTE_WIDTH_CHARS) for line in [*data.notes, DEFINITIONS, source]
    )
    bottom_margin = TICK_LABELS_IN + (footnote.count("\n") + 1) * FOOTNOTE_LINE_IN + 0.15
    rows = len(data.plotted) + len(data.sectors)
    height = max(MIN_FIGURE_HEIGHT_IN, TOP_MARGIN_IN + bottom_margin + rows * ROW_HEIGHT_IN)
    figure = Figure(figsize=(FIGURE_WIDTH_IN, height))
    figure.text(
        TEXT_LEFT_IN / FIGURE_WIDTH_IN,
        1 - 0.3 / height,
        f"{event.name} \u2014 {event.event_date.day} {event.event_date:%B %Y}",
        fontsize=16,
        fontweight="bold",
        color=INK,
        va="top",
    )
    figure.text(
        TEXT_LEFT_IN / FIGURE_WIDTH_IN,
        1 - 0.68 / height,
        subtitle(data),
        fontsize=11,
        color=MUTED,
        va="top",
    )
    figure.text(
        TEXT_LEFT_IN / FIGURE_WIDTH_IN,
        0.15 / height,
        footnote,
        fontsize=8,
        color=MUTED,
        va="bottom",
        linespacing=1.45,
    )
    if data.plotted.empty:
        figure.text(
            0.5,
            0.55,
            "No equity has a day-0 return for this event (yet).",
            fontsize=14,
            color=MUTED,
            ha="center",
            va="center",
        )
        return figure

    usable = FIGURE_WIDTH_IN - LEFT_MARGIN_IN - RIGHT_MARGIN_IN
    usd_axes, return_axes = figure.subplots(
        1,
        2,
        sharey=True,
        gridspec_kw={
            "width_ratios": [1.15, 1.0],
            "left": LEFT_MARGIN_IN / FIGURE_WIDTH_IN,
            "right": 1 - RIGHT_MARGIN_IN / FIGURE_WIDTH_IN,
            "top": 1 - TOP_MARGIN_IN / height,
            "bottom": bottom_margin / height,
            "wspace": PANEL_GAP_IN / ((usable - PANEL_GAP_IN) / 2),
        },
    )
    header_rows, security_rows = _row_positions(data)
    for axes in (usd_axes, return_axes):
        _style(axes)
        _sector_bands(axes, data, header_rows)
    usd_axes.set_ylim(len(data.plotted) + len(data.sectors) - 0.5, -0.5)
    usd_axes.set_yticks(
        security_rows,
        [
            f"{row.ticker}{MISSING_SESSION_MARK if row.spans_missing_session else ''}"
            for row in data.plotted.itertuples()
        ],
        fontsize=10,
        color=INK,
    )
    usd_axes.tick_params(axis="y", length=0, pad=6)
    return_axes.tick_params(axis="y", length=0)
    _usd_panel(usd_axes, data, header_rows, security_rows)
    _return_panel(return_axes, data, header_rows, security_rows)
    return figure


def subtitle(data: ChartData) -> str:
    """The line under the chart's title: how many equities moved, by how much, and who most."""
    if data.equities == 0:
        return "No rows in marts.fct_event_impact for this event."
    if data.plotted.empty:
        return f"None of the {data.equities} equities has a day-0 return."
    parts = [f"{data.with_return} equities"]
    if data.total_usd_change_bn is not None:
        parts.append(
            f"day-0 market value change {format_usd_bn(data.total_usd_change_bn)} "
            f"({data.with_usd} with a share count)"
        )
    gains = data.plotted.dropna(subset=["usd_change_bn"]).sort_values("usd_change_bn")
    if data.biggest_loser is not None:
        loser = gains[gains["ticker"] == data.biggest_loser]
        amount = f" {format_usd_bn(loser['usd_change_bn'].iloc[0])}" if len(loser) else ""
        parts.append(f"biggest loser {data.biggest_loser}{amount}")
    elif len(gains) and gains["usd_change_bn"].iloc[-1] > 0:
        gainer = gains.iloc[-1]
        parts.append(f"biggest gainer {gainer['ticker']} {format_usd_bn(gainer['usd_change_bn'])}")
    return "  \u00b7  ".join(parts)


def _row_positions(data: ChartData) -> tuple[list[int], list[int]]:
    """y of each sector header and of each security, top to bottom: a header row, then its
    securities."""
    header_rows: list[int] = []
    security_rows: list[int] = []
    row = 0
    for sector in data.sectors["sector"]:
        header_rows.append(row)
        row += 1
        for _ in range(int((data.plotted["sector"] == sector).sum())):
            security_rows.append(row)
            row += 1
    return header_rows, security_rows


def _style(axes: Axes) -> None:
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.spines["bottom"].set_color(GRID_COLOR)
    axes.grid(axis="x", color=GRID_COLOR, linewidth=0.7)
    axes.set_axisbelow(True)
    axes.tick_params(axis="x", colors=MUTED, labelsize=9)
    axes.axvline(0, color=INK, linewidth=0.9, zorder=2)


def _sector_bands(axes: Axes, data: ChartData, header_rows: list[int]) -> None:
    counts = [int((data.plotted["sector"] == sector).sum()) for sector in data.sectors["sector"]]
    for index, (first, count) in enumerate(zip(header_rows, counts, strict=True)):
        axes.axhspan(
            first - 0.5, first + count + 0.5, color=_band_color(index), zorder=0, linewidth=0
        )


def _band_color(index: int) -> str:
    # Alternate shading, so the eye can follow a sector across both panels.
    return BAND_COLOR if index % 2 == 0 else "white"


def _usd_panel(
    axes: Axes, data: ChartData, header_rows: list[int], security_rows: list[int]
) -> None:
    axes.set_title(
        "Market value change on day 0 (USD bn)",
        loc="left",
        fontsize=11,
        fontweight="bold",
        color=INK,
        pad=10,
    )
    usd = data.plotted["usd_change_bn"]
    known = usd.dropna()
    low, high = (min(known.min(), 0.0), max(known.max(), 0.0)) if len(known) else (-1.0, 1.0)
    if low == high:
        low, high = -1.0, 1.0
    span = high - low
    # Room for the value labels beyond the longest bars.
    axes.set_xlim(
        low - (0.3 * span if low < 0 else 0.04 * span),
        high + (0.3 * span if high > 0 else 0.04 * span),
    )
    axes.xaxis.set_major_formatter(FuncFormatter(_tick_label))
    roomy_side_is_left = -low >= high
    for y, value in zip(security_rows, usd, strict=True):
        if pd.isna(value):
            axes.annotate(
                "no share count",
                (0, y),
                xytext=(-6 if roomy_side_is_left else 6, 0),
                textcoords="offset points",
                ha="right" if roomy_side_is_left else "left",
                va="center",
                fontsize=8.5,
                fontstyle="italic",
                color=MUTED,
            )
            continue
        axes.barh(y, value, height=0.66, color=LOSS_COLOR if value < 0 else GAIN_COLOR, zorder=3)
        axes.annotate(
            format_usd_bn(value),
            (value, y),
            xytext=(-4 if value < 0 else 4, 0),
            textcoords="offset points",
            ha="right" if value < 0 else "left",
            va="center",
            fontsize=9,
            color=INK,
        )
    label_x = blended_transform_factory(axes.transAxes, axes.transData)
    for index, (y, band) in enumerate(zip(header_rows, data.sectors.itertuples(), strict=True)):
        total = "no USD value" if pd.isna(band.usd_change_bn) else format_usd_bn(band.usd_change_bn)
        # Backed by its band's colour so the zero line, when near the left edge, stays behind it.
        axes.text(
            0.01,
            y,
            f"{band.sector}   {total}",
            transform=label_x,
            ha="left",
            va="center",
            fontsize=10,
            fontweight="bold",
            color=INK,
            zorder=5,
            bbox={"facecolor": _band_color(index), "edgecolor": "none", "pad": 2},
        )


def _return_panel(
    axes: Axes, data: ChartData, header_rows: list[int], security_rows: list[int]
) -> None:
    axes.set_title(
        "Abnormal return (bars) and raw return (\u25c6) on day 0, %",
        loc="left",
        fontsize=11,
        fontweight="bold",
        color=INK,
        pad=10,
    )
    abnormal = data.plotted["abnormal_return_pct"]
    raw = data.plotted["day0_return_pct"]
    values = pd.concat([abnormal, raw]).dropna()
    low, high = min(values.min(), 0.0), max(values.max(), 0.0)
    pad = 0.08 * (high - low or 1.0)
    axes.set_xlim(low - pad, high + pad)
    axes.xaxis.set_major_formatter(FuncFormatter(_tick_label))
    for y, value in zip(security_rows, abnormal, strict=True):
        if not pd.isna(value):
            axes.barh(
                y,
                value,
                height=0.66,
                color=LOSS_COLOR if value < 0 else GAIN_COLOR,
                alpha=0.8,
                zorder=3,
            )
    axes.scatter(
        raw,
        security_rows,
        marker="D",
        s=30,
        color=INK,
        edgecolors="white",
        linewidths=0.8,
        zorder=4,
    )

    # The numbers sit in columns right of the panel, where no bar or marker can cover them; their
    # headings take the first sector header row, which is empty on this side.
    width_in = axes.get_position().width * FIGURE_WIDTH_IN
    abnormal_x, raw_x = 1 + ABNORMAL_COLUMN_IN / width_in, 1 + RAW_COLUMN_IN / width_in
    column = blended_transform_factory(axes.transAxes, axes.transData)
    for x, heading in ((abnormal_x, "abnormal"), (raw_x, "raw")):
        axes.text(
            x,
            header_rows[0],
            heading,
            transform=column,
            ha="right",
            va="center",
            fontsize=9,
            color=MUTED,
            fontweight="bold",
        )
    for y, ar, r in zip(security_rows, abnormal, raw, strict=True):
        axes.text(
            abnormal_x,
            y,
            "n/a" if pd.isna(ar) else format_percent(ar),
            transform=column,
            ha="right",
            va="center",
            fontsize=9,
            color=MUTED if pd.isna(ar) else (LOSS_COLOR if ar < 0 else GAIN_COLOR),
        )
        axes.text(
            raw_x,
            y,
            format_percent(r),
            transform=column,
            ha="right",
            va="center",
            fontsize=9,
            color=INK,
        )


def _signed(text: str) -> str:
    return text.replace("-", MINUS)


def _tick_label(value: float, _position: int) -> str:
    # `+ 0.0` turns -0.0 into 0.0, so the zero tick never reads "−0".
    return _signed(f"{round(value, 9) + 0.0:,g}")


def format_usd_bn(value: float) -> str:
    """-592.66 -> '−$592.7bn'; +106.4 -> '+$106.4bn'."""
    sign = MINUS if value < 0 else "+"
    return f"{sign}${abs(value):,.1f}bn"


def format_percent(value: float) -> str:
    """-13.26 -> '−13.3%'; a value that rounds to zero reads '0.0%', without a sign."""
    text = f"{value:+.1f}"
    return "0.0%" if float(text) == 0 else _signed(f"{text}%")


def write_atomically(path: Path, content: bytes) -> None:
    """Readers (a browser, the Dagster UI) see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        # mkstemp makes the file private; charts are for anyone who can read the folder.
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def index_html(rendered: Sequence[EventChart], *, generated_at: datetime) -> str:
    """One page with every chart, linking the PNGs next to it, so the folder can be opened or
    served as it is."""
    sections = []
    for chart in rendered:
        event, data = chart.event, chart.data
        total = (
            "n/a" if data.total_usd_change_bn is None else format_usd_bn(data.total_usd_change_bn)
        )
        sections.append(
            f'<section id="{html.escape(event.event_id)}">'
            f"<h2>{html.escape(event.name)} <small>{event.event_date.isoformat()}</small></h2>"
            f"<p>Day-0 market value change {html.escape(total)}; biggest loser "
            f"{html.escape(data.biggest_loser or 'none')}; {len(data.plotted)} of "
            f"{data.equities} equities charted.</p>"
            f'<a href="{chart.file_name}"><img src="{chart.file_name}" '
            f'alt="{html.escape(event.name)} chart"></a></section>'
        )
    contents = "".join(
        f'<li><a href="#{html.escape(c.event.event_id)}">{html.escape(c.event.name)}</a> '
        f"({c.event.event_date.isoformat()})</li>"
        for c in rendered
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>market-warehouse event charts</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:1600px;margin:2em auto;padding:0 1em;"
        "color:#1f2933}img{max-width:100%;border:1px solid #e5e7eb}small{color:#6b7280}"
        "</style></head><body><h1>Event charts</h1>"
        f"<p>Generated {html.escape(generated_at.isoformat(timespec='seconds'))} from the "
        f"warehouse marts.</p><ul>{contents}</ul>{''.join(sections)}</body></html>\n"
    )
