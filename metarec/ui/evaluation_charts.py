"""Plotly figures of metrics over support sizes, costs and timings, one colour a variant."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from ..data import like_threshold
from ..evaluation.evaluate import METRIC_NAMES
from .charts import (LEGEND_OFFSET_PX, MARGIN, MARGIN_HEIGHT_PX, bounded_axis, figure,
                     milliseconds_text, variant_colours)

METRIC_LABELS = {
    "mae": "MAE (lower is better)",
    "rmse": "RMSE (lower is better)",
    "ndcg@1": "nDCG@1 of the query",
    "ndcg@3": "nDCG@3 of the query",
    "auc": "AUC of liked against disliked",
    "catalogue_ndcg@10": "catalogue nDCG@10",
    "precision@10": "catalogue precision@10",
    "recall@10": "catalogue recall@10",
}


# Metrics whose meaning rests on which ratings count as likes.
LIKE_METRICS = ("auc", "catalogue_ndcg@10", "precision@10", "recall@10")


def like_note(metrics, rating_scale) -> str | None:
    """Say which ratings count as likes when ``metrics`` include one that rests on it.

    A like, and a relevant item of the catalogue metrics, is a rating in the top quarter
    of ``rating_scale`` (:func:`metarec.data.like_threshold`).
    """
    names = [METRIC_NAMES.get(m, m) for m in metrics if m in LIKE_METRICS]
    if not names:
        return None
    low, high = rating_scale
    threshold = like_threshold(rating_scale)
    if float(low).is_integer() and float(high).is_integer():
        # Whole-star ratings: 7.75 on 1 to 10 means 8 or more.
        threshold = math.ceil(threshold)
    catalogue = any(m in LIKE_METRICS and m != "auc" for m in metrics)
    counts = ("counts as a like and makes a held-out item relevant" if catalogue
              else "counts as a like")
    return (f"{', '.join(names)}: a rating of {threshold:g} or more, the top quarter of the "
            f"{low:g} to {high:g} scale, {counts}.")


def metric_label(metric: str) -> str:
    """Return the axis and title label of ``metric``, else its display name."""
    return METRIC_LABELS.get(metric, METRIC_NAMES.get(metric, metric))


# d3-format of the ticks of an axis in milliseconds or seconds: plain decimals with
# thousands separators. Plotly's default SI prefixes wrote 0.0002 ms as "200μ", which
# reads as 200 microseconds.
TIME_TICKFORMAT = ",~r"

# Estimates in pixels, at Plotly's default 12 px font, for fitting a horizontal legend
# under a chart. They are the width of a character of a name, the line sample and gaps
# before each name, the height of a legend row and the legend's width. That width is
# below a half-width column of the dashboard's wide layout, so rows are overcounted
# rather than undercounted.
LEGEND_CHAR_PX = 7.0
LEGEND_SYMBOL_PX = 45.0
LEGEND_ROW_PX = 20
LEGEND_WIDTH_PX = 450.0
# Extra room for x-axis tick labels of two lines, such as "K=5" over a count of users.
SECOND_TICK_LINE_PX = 20


def legend_rows(names, width_px=LEGEND_WIDTH_PX) -> int:
    """Return the estimated rows of a horizontal legend of ``names`` ``width_px`` wide."""
    rows, used = 0, width_px
    for name in names:
        entry = LEGEND_SYMBOL_PX + LEGEND_CHAR_PX * len(str(name))
        if used + entry > width_px:
            rows, used = rows + 1, 0.0
        used += entry
    return rows


def legend_under_axis(names, plot_px, axis_px=LEGEND_OFFSET_PX) -> dict:
    """Return the ``legend``, ``margin`` and ``height`` of a legend under the x-axis title.

    The legend's top sits ``axis_px`` under a plot area ``plot_px`` tall, and the
    bottom margin fits the estimated rows of ``names``. A legend anchored at its
    bottom (Plotly's choice for a low ``y``) instead grew upwards over the axis title
    once 13 variants took several rows. The figure grows with the margin, so that
    Plotly need not shrink the plot area, which would move the legend up with it.
    """
    # 10 px: an estimate of the padding around the legend.
    bottom = axis_px + legend_rows(names) * LEGEND_ROW_PX + 10
    return {"legend": {"orientation": "h", "yanchor": "top", "y": -axis_px / plot_px},
            "margin": {**MARGIN, "b": bottom},
            "height": plot_px + MARGIN["t"] + bottom}


# Metrics whose values lie from 0 to 1, named without their cutoff ("@10").
UNIT_METRICS = ("ndcg", "catalogue_ndcg", "precision", "recall", "auc")


def metric_axis(metric: str, values) -> dict:
    """Return the range and ticks of an axis of ``metric``, or {} for Plotly's own.

    Axes of metrics that lie from 0 to 1 stay within that range, because Plotly's
    autorange around a lone value of 0.95 ran to 1.5.
    """
    if metric.split("@")[0] not in UNIT_METRICS:
        return {}
    return bounded_axis(values, 0.0, 1.0)


def _nulls(values) -> list:
    """Return ``values`` as a list with NaN as None, which plotly draws as a gap."""
    return [None if value != value else float(value) for value in values]


def _line_style(values, drawn, colour) -> dict:
    """Return the line and marker style of a curve.

    A curve equal to one already in ``drawn`` (the ensemble serving one member) gets a
    dashed line and open markers, so the line under it still shows. ``values`` is then
    appended to ``drawn``.
    """
    same = any(len(values) == len(other) and np.allclose(values, other, equal_nan=True)
               for other in drawn)
    drawn.append(values)
    return {"line": {"color": colour, "dash": "dash" if same else "solid"},
            "marker": {"size": 8 if same else 5,
                       "symbol": "circle-open" if same else "circle"}}


# Height of the Dynamic session chart's plot area, without its title and legend.
SESSION_PLOT_PX = 260


def session_curves_figure(history, metric, colours=None, current=None) -> go.Figure:
    """Draw ``metric`` against the number of revealed ratings, one line per variant.

    ``history`` has ``variant``, ``n`` and a ``metric`` column, as
    :func:`metarec.ui.session.metric_history` returns. A dotted vertical line marks
    ``current``.
    """
    colours = colours or variant_colours(history["variant"].unique())
    data, drawn = [], []
    for variant, rows in history.groupby("variant", sort=False):
        if rows[metric].isna().all():
            continue
        values = rows[metric].to_numpy(dtype=float)
        data.append({
            "type": "scatter", "x": rows["n"].tolist(), "y": _nulls(rows[metric]),
            "mode": "lines+markers", "name": variant,
            **_line_style(values, drawn, colours.get(variant)),
            "hovertemplate": variant + ", %{x} ratings: %{y:.3f}<extra></extra>"})
    shapes = []
    if current is not None:
        shapes.append({"type": "line", "x0": current, "x1": current, "xref": "x",
                       "y0": 0, "y1": 1, "yref": "paper",
                       "line": {"dash": "dot", "color": "#7F7F7F"}})
    xaxis = {"title": {"text": "ratings revealed"}, "rangemode": "tozero"}
    if len(history) and history["n"].max() <= 20:
        # A count of ratings: on a short axis Plotly would also tick at halves.
        xaxis.update(tick0=0, dtick=1)
    return figure(data, {
        "title": {"text": f"{metric_label(metric)} on the held-out ratings"},
        "xaxis": xaxis,
        "yaxis": {"title": {"text": metric_label(metric)},
                  **metric_axis(metric, history[metric] if len(history) else [])},
        "shapes": shapes,
        **legend_under_axis([trace["name"] for trace in data], SESSION_PLOT_PX),
    })


# A support size scored on fewer than this share of the largest count of users is
# shaded in the K-shot charts, because its mean comes from a smaller, other subset. At
# 0.5, K=20 on 238 users beside K=all on 320 was not shaded, and its lower error read
# as an error that rises with K.
FEW_SHARE = 0.9


def few_shots(counts: dict) -> list:
    """Return the support sizes of ``counts`` ({shots: users}) scored on few users."""
    if not counts:
        return []
    largest = max(counts.values())
    return [shots for shots, count in counts.items() if count < FEW_SHARE * largest]


# Heights in pixels of the plot areas of the K-shot and trade-off charts, without the
# title, the axis labels and the legend.
KSHOT_PLOT_PX = 280
TRADEOFF_PLOT_PX = 340


def kshot_figure(summary, metric, colours=None, counts=None, entity="users",
                 count_labels=None) -> go.Figure:
    """Draw ``metric`` against the support size K, one line per variant.

    ``summary`` has ``variant``, ``shots`` (text: "1", "5", "all"), ``mean`` and
    ``ci95`` for one metric. Shots are placed in the order given, evenly spaced, so
    "all" sits after the largest K; error bars show the 95% interval where there is one.
    ``counts`` maps shots to the number of ``entity`` scored there: each K's label then
    shows it, and the support sizes of :func:`few_shots` are shaded. ``count_labels``
    maps shots to the text shown in place of the count, such as "320 to 325" where
    models folders scored different numbers.
    """
    colours = colours or variant_colours(summary["variant"].unique())
    counts = counts or {}
    shots = list(dict.fromkeys(summary["shots"]))
    count_labels = {s: count_labels.get(s, f"{counts[s]:,}") if count_labels
                    else f"{counts[s]:,}" for s in shots if s in counts}
    labels = [f"K={s}<br>{count_labels[s]} {entity}" if s in count_labels else f"K={s}"
              for s in shots]
    few = set(few_shots({s: counts[s] for s in shots if s in counts}))
    # A category axis puts category i at i, so a band from i - 0.5 to i + 0.5 covers it.
    shapes = [{"type": "rect", "xref": "x", "yref": "paper", "x0": i - 0.5, "x1": i + 0.5,
               "y0": 0, "y1": 1, "fillcolor": "#7F7F7F", "opacity": 0.15,
               "line": {"width": 0}, "layer": "below"}
              for i, s in enumerate(shots) if s in few]
    data, drawn = [], []
    half_width = summary["ci95"].fillna(0.0)
    extent = [*(summary["mean"] - half_width), *(summary["mean"] + half_width)]
    for variant, rows in summary.groupby("variant", sort=False):
        rows = rows.set_index("shots").reindex(shots)
        if rows["mean"].isna().all():
            continue
        error = rows["ci95"].to_numpy(dtype=float)
        data.append({
            "type": "scatter", "x": labels, "y": _nulls(rows["mean"]),
            "mode": "lines+markers", "name": variant,
            **_line_style(rows["mean"].to_numpy(dtype=float), drawn, colours.get(variant)),
            "error_y": {"type": "data", "array": np.nan_to_num(error).tolist(),
                        "visible": bool(np.isfinite(error).any())},
            "hovertemplate": variant + ", %{x}: %{y:.4f}<extra></extra>"})
    per = "item" if entity == "items" else "user"
    # Tick labels with a count take two lines, so the legend moves further down.
    axis_px = LEGEND_OFFSET_PX + (SECOND_TICK_LINE_PX if counts else 0)
    return figure(data, {
        "title": {"text": f"{metric_label(metric)} by support size"},
        "xaxis": {"title": {"text": f"support ratings per {per}"}, "type": "category",
                  "categoryorder": "array", "categoryarray": labels},
        "yaxis": {"title": {"text": metric_label(metric)}, **metric_axis(metric, extent)},
        "shapes": shapes,
        **legend_under_axis([trace["name"] for trace in data], KSHOT_PLOT_PX, axis_px),
    })


# Span in pixels assumed for a trade-off chart's dots when placing labels. An estimate,
# kept below the dashboard's plotting area (which Plotly also pads), so that labels err
# toward more room on the page than assumed here.
PLOT_AREA_PX = (560.0, 260.0)
# Diameter in pixels of the trade-off chart's dots.
DOT_SIZE_PX = 14
# Label positions around a dot, in Plotly's ``textposition`` names, in order of preference.
LABEL_POSITIONS = ("top center", "bottom center", "middle right", "middle left")


def label_positions(xs, ys, names, char_width=7.0, line_height=14.0, dot_size=8.0,
                    crowded="least overlap") -> list:
    """Return where to write each dot's name so that no label covers another or a dot.

    ``xs`` and ``ys`` are the dots' centres in pixels (y grows upwards) and ``dot_size``
    their diameter. Each label is tried above, below, right and left of its dot, and
    takes the first place that overlaps no label placed before it and no dot. Where
    every place overlaps, ``crowded="least overlap"`` takes the place with the least
    overlapping area, and ``crowded="none"`` gives None: no label, for a chart whose
    legend names the dot anyway. The text width is estimated from ``char_width``.
    """
    if crowded not in ("least overlap", "none"):
        raise ValueError(f"crowded must be 'least overlap' or 'none', got {crowded!r}")
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    radius = dot_size / 2
    gap = radius + 2
    dots = [(x - radius, y - radius, x + radius, y + radius) for x, y in zip(xs, ys)]
    placed, chosen = [], [None] * len(xs)
    # Go from the highest dot down, so each label is placed after those above it.
    for index in np.argsort(-ys, kind="stable"):
        x, y, width = xs[index], ys[index], char_width * len(str(names[index]))
        boxes = {
            "top center": (x - width / 2, y + gap, x + width / 2, y + gap + line_height),
            "bottom center": (x - width / 2, y - gap - line_height, x + width / 2, y - gap),
            "middle right": (x + gap, y - line_height / 2, x + gap + width, y + line_height / 2),
            "middle left": (x - gap - width, y - line_height / 2, x - gap, y + line_height / 2),
        }
        others = placed + [dot for i, dot in enumerate(dots) if i != index]
        overlaps = {position: sum(_overlap(box, other) for other in others)
                    for position, box in boxes.items()}
        # min keeps the first of equal values, so a free place goes by preference.
        best = min(LABEL_POSITIONS, key=overlaps.get)
        if overlaps[best] > 0 and crowded == "none":
            continue
        chosen[index] = best
        placed.append(boxes[best])
    return chosen


def _spread(values, length) -> np.ndarray:
    """Return ``values`` mapped linearly onto ``[0, length]``, or the middle if all equal."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return values
    low, high = values.min(), values.max()
    if high == low:
        return np.full(values.shape, length / 2)
    return (values - low) / (high - low) * length


def _overlap(first, second) -> float:
    """Return the area shared by two boxes given as ``(left, bottom, right, top)``."""
    width = min(first[2], second[2]) - max(first[0], second[0])
    height = min(first[3], second[3]) - max(first[1], second[1])
    return max(width, 0.0) * max(height, 0.0)


def tradeoff_figure(points, metric, cost_label, colours=None, log_cost=True,
                    cost_tickformat=None) -> go.Figure:
    """Draw each variant as a dot at its cost (x) and its ``metric`` (y).

    ``points`` has ``variant``, ``cost`` and ``value``; rows with a missing value are
    left out. A legend names every dot, and a dot also gets its name beside it where
    the name covers no other label or dot (see :func:`label_positions`). A log cost
    axis cannot show a cost of 0 or less, so such a dot is in the legend only.
    ``cost_tickformat`` is a d3-format for the cost axis's ticks, such as
    :data:`TIME_TICKFORMAT` for a time; None keeps Plotly's, which uses SI prefixes.
    """
    points = points.dropna(subset=["cost", "value"])
    name = METRIC_NAMES.get(metric, metric)
    colours = colours or variant_colours(points["variant"])
    costs = points["cost"].to_numpy(dtype=float)
    if log_cost:
        # A log axis cannot show a cost of 0, so place such labels at the lowest cost.
        positive = costs[costs > 0]
        costs = np.log10(np.where(costs > 0, costs, positive.min() if positive.size else 1.0))
    # A dot whose name fits nowhere nearby stays unlabelled, and the legend names it.
    positions = label_positions(
        _spread(costs, PLOT_AREA_PX[0]),
        _spread(points["value"].to_numpy(dtype=float), PLOT_AREA_PX[1]),
        points["variant"].tolist(), dot_size=DOT_SIZE_PX, crowded="none")
    data = [{
        "type": "scatter", "x": [float(row.cost)], "y": [float(row.value)],
        "mode": "markers" if position is None else "markers+text", "name": row.variant,
        "text": [row.variant], "textposition": position or "top center",
        "marker": {"color": colours.get(row.variant), "size": DOT_SIZE_PX},
        "hovertemplate": f"{row.variant}<br>{cost_label}: %{{x:,.3g}}<br>{name}: "
                         "%{y:.4f}<extra></extra>",
    } for row, position in zip(points.itertuples(index=False), positions)]
    xaxis = {"title": {"text": cost_label}, "type": "log" if log_cost else "linear"}
    if cost_tickformat is not None:
        xaxis["tickformat"] = cost_tickformat
    return figure(data, {
        "title": {"text": f"{metric_label(metric)} against {cost_label}"},
        "xaxis": xaxis,
        "yaxis": {"title": {"text": metric_label(metric)},
                  **metric_axis(metric, points["value"])},
        **legend_under_axis(points["variant"].tolist(), TRADEOFF_PLOT_PX),
    })


def timing_bars_figure(timings, title, colours=None) -> go.Figure:
    """Draw per-variant milliseconds as bars, one colour a variant.

    ``timings`` has ``variant`` and ``ms_per_user``.
    """
    colours = colours or variant_colours(timings["variant"])
    return figure([{
        "type": "bar", "x": timings["ms_per_user"].tolist(),
        "y": timings["variant"].tolist(), "orientation": "h",
        "marker": {"color": [colours.get(v) for v in timings["variant"]]},
        "text": [milliseconds_text(ms) for ms in timings["ms_per_user"]],
        "textposition": "auto",
        "hovertemplate": "%{y}: %{x:,.2f} ms per user<extra></extra>",
    }], {
        "title": {"text": title},
        "xaxis": {"title": {"text": "milliseconds per user (wall time)"},
                  "tickformat": TIME_TICKFORMAT},
        "yaxis": {"autorange": "reversed", "title": None},
        "height": MARGIN_HEIGHT_PX + 32 * len(timings), "margin": MARGIN,
    })
