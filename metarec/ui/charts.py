"""Plotly figures of the dashboard. Each builder takes plain DataFrames.

Builders write plain figure specs and wrap them with :func:`figure`, which skips plotly's
per-property validation. On a busy 2-core CPU, validation made building the New user
page's three charts take about 40 ms of each rerun instead of under 3 ms. The tests
validate every builder's output once instead.
"""

from __future__ import annotations

import numpy as np
import plotly.express as px
import plotly.graph_objects as go

ROW_HEIGHT_PX = 24
MARGIN_HEIGHT_PX = 140
# Dot charts give each variant a lane in every row (Plotly's grouped scatter mode), and
# a row is at least LANE_PX per variant tall, so neighbouring dots overlap only a little.
LANE_PX = 11
DOT_SIZE_PX = 9
LANE_GAP = 0.2
POSITIVE, NEGATIVE = "#2CA02C", "#D62728"
MARGIN = {"l": 10, "r": 10, "t": 60}
# Left margin of a chart with a y-axis title, wide enough for the title and the ticks.
AXIS_TITLE_MARGIN_PX = 70
# Pixels from the bottom of a plot area to the top of a legend below it: room for the
# tick labels and the axis title.
LEGEND_OFFSET_PX = 55
EFFECT_AXIS_TITLE = "score change<br>(with − without)"


def figure(data: list, layout: dict) -> go.Figure:
    """Return a figure of ``data`` (trace dicts with a ``type``) and ``layout``, unvalidated."""
    # plotly's own templates are built with the private _validate=False for the same
    # reason; a misspelt property would only show as a chart that ignores it.
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _values(series) -> list:
    return np.asarray(series).tolist()


# Plotly's ten colours, then three of D3's and two dark ones of Plotly's Dark24, chosen to
# look distinct from the ten.
PALETTE = (*px.colors.qualitative.Plotly, "#8C564B", "#7F7F7F", "#BCBD22", "#222A2A",
           "#B68100")
# The palette index of every variant metarec trains, so that a variant keeps its colour on
# every page and whichever variants are selected.
VARIANT_COLOUR_INDEX = {
    "teacher": 0, "student": 1, "ensemble": 2, "finetune": 3, "melu-1": 4, "melu-5": 5,
    "student-like": 6, "user-bias": 7, "mf-als": 8, "item-mean": 9, "global-mean": 10,
    "random": 11, "popularity": 12, "genre-mean": 13, "content-only": 14,
}


def variant_colours(variants) -> dict[str, str]:
    """Map each variant to its colour, so one variant looks the same in every chart.

    Variants that metarec trains always get the same colour. Other names take the
    palette's colours that none of ``variants`` uses, in order.
    """
    variants = list(dict.fromkeys(variants))
    used = {VARIANT_COLOUR_INDEX[v] for v in variants if v in VARIANT_COLOUR_INDEX}
    free = [i for i in range(len(PALETTE)) if i not in used] or list(range(len(PALETTE)))
    colours, next_free = {}, 0
    for name in variants:
        if name in VARIANT_COLOUR_INDEX:
            colours[name] = PALETTE[VARIANT_COLOUR_INDEX[name]]
        else:
            colours[name] = PALETTE[free[next_free % len(free)]]
            next_free += 1
    return colours


def legend_below(plot_px) -> dict:
    """Return a horizontal legend placed just under the x-axis title of a plot area
    ``plot_px`` pixels tall, at any height (a fixed fraction leaves a gap on tall ones)."""
    return {"orientation": "h", "yanchor": "top", "y": -LEGEND_OFFSET_PX / max(plot_px, 1)}


def lane_row_height(n_variants) -> int:
    """Return the pixel height of one row of a dot chart with ``n_variants`` lanes."""
    return max(ROW_HEIGHT_PX, LANE_PX * n_variants)


def milliseconds_text(ms) -> str:
    """Format a time for a bar label: one decimal, and "under 0.1 ms" below that."""
    return "under 0.1 ms" if ms < 0.05 else f"{ms:,.1f} ms"


def dot_axis_range(values) -> list[float]:
    """Return an x-axis range that spans ``values`` with a margin, for horizontal dots.

    With autorange, Chromium showed the axis of these dot charts from 0, which squeezed
    ratings of 3 to 5 into the right half.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    margin = max(0.1, 0.05 * (high - low))
    return [low - margin, high + margin]


# Room beyond a scale's ends, as a share of the scale, so that dots at an end are not cut.
SCALE_PADDING = 0.03
# Tick steps tried for a bounded axis, times a power of ten.
NICE_STEPS = (1.0, 2.0, 2.5, 5.0)
TARGET_TICKS = 6


def bounded_axis(values, low, high) -> dict:
    """Return an axis ``range`` and ``tickvals`` that span ``values`` within ``low``..``high``.

    The range spans the values with a margin but never reaches further than
    :data:`SCALE_PADDING` beyond the scale, and every tick lies on the scale. Plotly's
    own ticks on a margin past the top showed values such as 5.1 on a scale of 1 to 5.
    """
    values = np.asarray(values, dtype=float)
    values = np.clip(values[np.isfinite(values)], low, high)
    first, last = (float(values.min()), float(values.max())) if values.size else (low, high)
    span = high - low
    margin = max(0.05 * (last - first), 0.025 * span)
    bottom = max(first - margin, low - SCALE_PADDING * span)
    top = min(last + margin, high + SCALE_PADDING * span)

    # The smallest step of the form NICE_STEPS × 10^k that gives at most TARGET_TICKS.
    raw_step = (top - bottom) / TARGET_TICKS
    power = 10.0 ** np.floor(np.log10(raw_step))
    step = next((nice * power for nice in NICE_STEPS if nice * power >= raw_step),
                10 * power)
    start = np.ceil(max(bottom, low) / step - 1e-9) * step
    stop = min(top, high)
    ticks = [round(float(tick), 10) for tick in np.arange(start, stop + step * 1e-6, step)]
    return {"range": [bottom, top], "tickvals": ticks}


def scores_figure(scores, colours=None) -> go.Figure:
    """Draw a dot chart of each variant's predicted rating for every top-listed title.

    ``scores`` has the columns of :attr:`metarec.ui.compare.Comparison.scores`. A filled
    dot marks a title in that variant's own top list and an open dot one that only other
    variants list. Titles are ordered by their mean score, best on top.
    """
    colours = colours or variant_colours(scores["variant"].unique())
    order = (scores.groupby("title")["score"].mean().sort_values(ascending=True).index)
    data = []
    for variant, rows in scores.groupby("variant", sort=False):
        data.append({
            "type": "scatter", "x": _values(rows["score"]), "y": _values(rows["title"]),
            "mode": "markers", "name": variant, "orientation": "h",
            "marker": {"color": colours.get(variant), "size": DOT_SIZE_PX,
                       "symbol": ["circle" if top else "circle-open"
                                  for top in rows["in_top"]],
                       "line": {"width": 2, "color": colours.get(variant)}},
            "hovertemplate": "%{y}<br>" + variant + ": %{x:.2f}<extra></extra>",
        })
    return figure(data, {
        "title": {"text": "Predicted rating of every title in some top list (filled: in "
                          "this variant's own top list)"},
        "xaxis": {"title": {"text": "predicted rating"}, "range": dot_axis_range(scores["score"])},
        "yaxis": {"categoryorder": "array", "categoryarray": list(order), "title": None},
        # Each variant gets its own lane within a title's row, so a variant that predicts
        # what another does (the ensemble serving one member) stays visible.
        "scattermode": "group", "scattergap": LANE_GAP,
        "height": MARGIN_HEIGHT_PX + lane_row_height(len(data)) * len(order),
        "legend": legend_below(lane_row_height(len(data)) * len(order)),
        "margin": MARGIN,
    })


def curves_figure(curves, colours=None, flat_labels=None, loss="mean squared error",
                  title="Support loss during adaptation") -> go.Figure:
    """Draw the support loss against the inner step, one line per variant.

    ``curves`` has ``variant``, ``step`` and ``loss``. A variant with a single loss (the
    classical baselines and the ensemble take no inner steps) is drawn as a dashed
    horizontal line across the steps of the others, for comparison with their final
    loss. Its legend entry reads "VARIANT (no steps)", or "VARIANT (LABEL)" with the
    label that ``flat_labels`` maps it to. ``loss`` names the loss on the y-axis and
    ``title`` is the chart's title.
    """
    colours = colours or variant_colours(curves["variant"].unique())
    flat_labels = flat_labels or {}
    last_step = max(int(curves["step"].max()), 1) if len(curves) else 1
    data = []
    for variant, rows in curves.groupby("variant", sort=False):
        colour = colours.get(variant)
        if len(rows) == 1:
            final = float(rows["loss"].iloc[0])
            data.append({
                "type": "scatter", "x": [0, last_step], "y": [final, final], "mode": "lines",
                "name": f"{variant} ({flat_labels.get(variant, 'no steps')})",
                "line": {"color": colour, "dash": "dash"},
                "hovertemplate": variant + ": %{y:.3f}<extra></extra>",
            })
        else:
            data.append({
                "type": "scatter", "x": _values(rows["step"]), "y": _values(rows["loss"]),
                "mode": "lines+markers", "name": variant, "line": {"color": colour},
                "hovertemplate": variant + ", step %{x}: %{y:.3f}<extra></extra>",
            })
    return figure(data, {
        "title": {"text": title},
        "xaxis": {"title": {"text": "inner step (0: before adapting)"}, "dtick": 1},
        # automargin makes room for the tick labels and the title: with MARGIN's 10 px
        # alone the title's first letter was cut off.
        "yaxis": {"title": {"text": f"support loss ({loss})"},
                  "automargin": True},
        "height": 380, "margin": {**MARGIN, "l": AXIS_TITLE_MARGIN_PX},
    })


def timing_figure(timings, colours=None) -> go.Figure:
    """Draw a bar per variant of its adaptation wall time in milliseconds.

    ``timings`` has ``variant`` and ``milliseconds``.
    """
    colours = colours or variant_colours(timings["variant"])
    return figure([{
        "type": "bar", "x": _values(timings["milliseconds"]),
        "y": _values(timings["variant"]), "orientation": "h",
        "marker": {"color": [colours.get(v) for v in timings["variant"]]},
        # The same wording as the top lists' captions, where one decimal would show 0.0.
        "text": [milliseconds_text(ms)
                 for ms in timings["milliseconds"]], "textposition": "auto",
        "hovertemplate": "%{y}: %{x:,.1f} ms<extra></extra>",
    }], {
        "title": {"text": "Adaptation time"},
        "xaxis": {"title": {"text": "milliseconds (wall time, scoring excluded)"}},
        "yaxis": {"autorange": "reversed", "title": None},
        "height": MARGIN_HEIGHT_PX + 40 * len(timings), "margin": MARGIN,
    })


def effects_figure(effects, label_column, title) -> go.Figure:
    """Draw a horizontal bar per row of ``effects``: green pushed up, red pulled down.

    ``effects`` has ``effect`` and ``label_column``; bars are sorted by effect, the
    strongest push up on top.
    """
    rows = effects.sort_values("effect")
    return figure([{
        "type": "bar", "x": _values(rows["effect"]), "y": _values(rows[label_column]),
        "orientation": "h",
        "marker": {"color": [POSITIVE if e >= 0 else NEGATIVE for e in rows["effect"]]},
        "text": [f"{e:+.2f}" for e in rows["effect"]], "textposition": "auto",
        "hovertemplate": "%{y}: %{x:+.3f}<extra></extra>",
    }], {
        "title": {"text": title},
        # Two short lines, because the title is centred under the plot area, which long
        # labels leave narrow. One long line was cut off at the figure's edge.
        "xaxis": {"title": {"text": EFFECT_AXIS_TITLE}},
        "yaxis": {"title": None, "type": "category"},
        "height": MARGIN_HEIGHT_PX + ROW_HEIGHT_PX * len(rows), "margin": MARGIN,
    })


def prediction_vs_mean_figure(items, is_ranker=False,
                              score_label="ranking score") -> go.Figure:
    """Draw each explained item's score next to its mean rating in the data.

    ``items`` has the columns of :attr:`metarec.ui.explain.Explanation.items`. A line
    joins the two dots of one item, so its length is how far the person's prediction
    is from what everyone else gave it. Ranking scores, named by ``score_label`` (such
    as "like probability"), get no mean, because they are not ratings.
    """
    order = list(items.sort_values("score")["title"])
    data = []
    if not is_ranker:
        for row in items.itertuples(index=False):
            data.append({
                "type": "scatter", "x": [row.item_mean, row.score], "y": [row.title] * 2,
                "mode": "lines", "line": {"color": "#BBBBBB", "width": 2},
                "showlegend": False, "hoverinfo": "skip"})
        data.append({
            "type": "scatter", "x": _values(items["item_mean"]), "y": _values(items["title"]),
            "mode": "markers", "name": "item mean", "marker": {"color": "#7F7F7F", "size": 10},
            "customdata": _values(items["item_ratings"]),
            "hovertemplate": "%{y}<br>mean %{x:.2f} of %{customdata} ratings<extra></extra>"})
    data.append({
        "type": "scatter", "x": _values(items["score"]), "y": _values(items["title"]),
        "mode": "markers",
        "name": f"{score_label} for you" if is_ranker else "predicted for you",
        "marker": {"color": POSITIVE, "size": 12},
        "hovertemplate": "%{y}<br>for you: %{x:.2f}<extra></extra>"})
    title = (f"Your {score_label} of each item" if is_ranker
             else "Predicted for you against the item's mean rating")
    return figure(data, {
        "title": {"text": title},
        "xaxis": {"title": {"text": score_label if is_ranker else "rating"}},
        "yaxis": {"categoryorder": "array", "categoryarray": order, "title": None},
        "height": MARGIN_HEIGHT_PX + ROW_HEIGHT_PX * len(items),
        "legend": {"orientation": "h", "y": -0.25}, "margin": MARGIN,
    })
