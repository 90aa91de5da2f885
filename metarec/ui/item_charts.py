"""Plotly figures of the New item page. Each builder takes plain DataFrames.

The adaptation curves and timings use :func:`metarec.ui.charts.curves_figure` and
:func:`metarec.ui.charts.timing_figure`, as on the New user page.
"""

from __future__ import annotations

import plotly.graph_objects as go

from .charts import (DOT_SIZE_PX, LANE_GAP, bounded_axis, lane_row_height, legend_below,
                     variant_colours)

ROW_HEIGHT_PX = 26
MARGIN_HEIGHT_PX = 140


def distribution_figure(predictions, colours=None, rating_scale=(1.0, 5.0)) -> go.Figure:
    """Draw the distribution of every user's predicted rating, one violin per variant.

    ``predictions`` has ``variant`` and ``predicted``. A violin shows the density with
    the quartiles inside, so a variant that predicts one rating for everyone is a line
    instead of a spike that flattens the others, as it would be in a histogram.
    """
    colours = colours or variant_colours(predictions["variant"].unique())
    figure = go.Figure()
    for variant, rows in predictions.groupby("variant", sort=False):
        figure.add_trace(go.Violin(
            x=rows["predicted"], name=variant, orientation="h", side="positive",
            line={"color": colours.get(variant)}, box={"visible": True}, points=False,
            meanline={"visible": True}, spanmode="hard", width=1.8,
            hoverinfo="x+name",
        ))
    figure.update_layout(
        title="Predicted rating of every user",
        xaxis={"title": "predicted rating", "range": list(rating_scale)},
        yaxis={"autorange": "reversed", "title": None}, showlegend=False,
        height=MARGIN_HEIGHT_PX + 70 * predictions["variant"].nunique(),
        margin={"l": 10, "r": 10, "t": 60},
    )
    return figure


def audience_figure(top, predictions, colours=None, rating_scale=(1.0, 5.0)) -> go.Figure:
    """Draw each variant's predicted rating for the users some variant ranks on top.

    ``top`` has ``variant``, ``user_id`` and ``label`` (the union of the top lists);
    ``predictions`` has ``variant``, ``user_id`` and ``predicted`` for every user. Only
    the variants in ``top`` are drawn, so leaving a variant out of ``top`` leaves it out
    of the chart. Users are ordered by their mean predicted rating, best on top. The
    x-axis stays within ``rating_scale`` (see :func:`metarec.ui.charts.bounded_axis`).
    """
    colours = colours or variant_colours(predictions["variant"].unique())
    labels = top.drop_duplicates("user_id").set_index("user_id")["label"]
    shown = predictions[predictions["user_id"].isin(labels.index)
                        & predictions["variant"].isin(top["variant"])].copy()
    shown["label"] = shown["user_id"].map(labels)
    order = shown.groupby("label")["predicted"].mean().sort_values().index
    row_px = max(ROW_HEIGHT_PX, lane_row_height(shown["variant"].nunique()))
    figure = go.Figure()
    for variant, rows in shown.groupby("variant", sort=False):
        own = set(top.loc[top["variant"] == variant, "user_id"])
        # The legend draws a trace's first marker, so a user of the variant's own top
        # list comes first: every legend marker is then filled and means only the variant.
        rows = rows.assign(own=rows["user_id"].isin(own)).sort_values(
            "own", ascending=False, kind="stable")
        figure.add_trace(go.Scatter(
            x=rows["predicted"], y=rows["label"], mode="markers", name=variant,
            orientation="h",
            marker={"color": colours.get(variant), "size": DOT_SIZE_PX,
                    "symbol": ["circle" if u in own else "circle-open"
                               for u in rows["user_id"]],
                    "line": {"width": 2, "color": colours.get(variant)}},
            hovertemplate="%{y}<br>" + variant + ": %{x:.2f}<extra></extra>",
        ))
    figure.update_layout(
        title="Top audience: predicted rating of every user in some top list (filled: in "
              "this variant's own top list)",
        xaxis={"title": "predicted rating",
               **bounded_axis(shown["predicted"], *rating_scale)},
        yaxis={"categoryorder": "array", "categoryarray": list(order), "title": None},
        # One lane per variant in each user's row, as on the New user page, so a variant
        # that predicts what another does stays visible.
        scattermode="group", scattergap=LANE_GAP,
        height=MARGIN_HEIGHT_PX + row_px * len(order),
        legend=legend_below(row_px * len(order)),
        margin={"l": 10, "r": 10, "t": 60},
    )
    return figure


def groups_figure(groups, group, colours=None, rating_scale=(1.0, 5.0)) -> go.Figure:
    """Draw the mean predicted rating per value of ``group``, one dot per variant.

    ``groups`` has ``variant``, ``group``, ``value``, ``users`` and ``mean predicted``.
    Dots, not bars: a bar's length reads as its value, so bars would have to start at 0,
    where means of 3.3 to 3.7 look alike. The y-axis stays within ``rating_scale``.
    """
    colours = colours or variant_colours(groups["variant"].unique())
    chosen = groups[groups["group"] == group]
    figure = go.Figure()
    for variant, rows in chosen.groupby("variant", sort=False):
        figure.add_trace(go.Scatter(
            x=rows["value"], y=rows["mean predicted"], name=variant, mode="markers",
            marker={"color": colours.get(variant), "size": DOT_SIZE_PX},
            customdata=rows["users"],
            hovertemplate="%{x} (%{customdata} users)<br>" + variant
                          + ": %{y:.2f}<extra></extra>",
        ))
    figure.update_layout(
        title=f"Mean predicted rating by {group}",
        yaxis={"title": "mean predicted rating",
               **bounded_axis(chosen["mean predicted"], *rating_scale)},
        xaxis={"title": None, "type": "category", "showgrid": True},
        # One lane per variant in each group, side by side.
        scattermode="group", scattergap=LANE_GAP,
        height=420, margin={"l": 10, "r": 10, "t": 60},
    )
    return figure
