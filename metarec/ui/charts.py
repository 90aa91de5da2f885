"""Plotly figures of the dashboard. Each builder takes plain DataFrames."""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go

ROW_HEIGHT_PX = 24
MARGIN_HEIGHT_PX = 140


def variant_colours(variants) -> dict[str, str]:
    """Map each variant to a fixed colour, so one variant looks the same in every chart."""
    # Plotly's ten colours, then three of D3's that none of them resembles.
    palette = px.colors.qualitative.Plotly + ["#8C564B", "#7F7F7F", "#BCBD22"]
    return {name: palette[i % len(palette)] for i, name in enumerate(variants)}


def scores_figure(scores, colours=None) -> go.Figure:
    """Draw a dot chart of each variant's predicted rating for every top-listed title.

    ``scores`` has the columns of :attr:`metarec.ui.compare.Comparison.scores`. A filled
    dot marks a title in that variant's own top list and an open dot one that only other
    variants list. Titles are ordered by their mean score, best on top.
    """
    colours = colours or variant_colours(scores["variant"].unique())
    order = (scores.groupby("title")["score"].mean().sort_values(ascending=True).index)
    figure = go.Figure()
    for variant, rows in scores.groupby("variant", sort=False):
        figure.add_trace(go.Scatter(
            x=rows["score"], y=rows["title"], mode="markers", name=variant,
            marker={"color": colours.get(variant), "size": 11,
                    "symbol": ["circle" if top else "circle-open" for top in rows["in_top"]],
                    "line": {"width": 2, "color": colours.get(variant)}},
            hovertemplate="%{y}<br>" + variant + ": %{x:.2f}<extra></extra>",
        ))
    figure.update_layout(
        title="Predicted rating of every title in some top list (filled: in this "
              "variant's own top list)",
        xaxis_title="predicted rating",
        yaxis={"categoryorder": "array", "categoryarray": list(order), "title": None},
        height=MARGIN_HEIGHT_PX + ROW_HEIGHT_PX * len(order),
        legend={"orientation": "h", "y": -0.12 if len(order) > 15 else -0.25},
        margin={"l": 10, "r": 10, "t": 60},
    )
    return figure


def curves_figure(curves, colours=None) -> go.Figure:
    """Draw the support loss against the inner step, one line per variant.

    ``curves`` has ``variant``, ``step`` and ``loss``. A variant with a single loss (the
    classical baselines and the ensemble take no inner steps) is drawn as a dashed horizontal line
    across the steps of the others, for comparison with their final loss.
    """
    colours = colours or variant_colours(curves["variant"].unique())
    last_step = max(int(curves["step"].max()), 1) if len(curves) else 1
    figure = go.Figure()
    for variant, rows in curves.groupby("variant", sort=False):
        colour = colours.get(variant)
        if len(rows) == 1:
            loss = float(rows["loss"].iloc[0])
            figure.add_trace(go.Scatter(
                x=[0, last_step], y=[loss, loss], mode="lines", name=f"{variant} (no steps)",
                line={"color": colour, "dash": "dash"},
                hovertemplate=variant + ": %{y:.3f}<extra></extra>",
            ))
        else:
            figure.add_trace(go.Scatter(
                x=rows["step"], y=rows["loss"], mode="lines+markers", name=variant,
                line={"color": colour},
                hovertemplate=variant + ", step %{x}: %{y:.3f}<extra></extra>",
            ))
    figure.update_layout(
        title="Support loss during adaptation",
        xaxis={"title": "inner step (0: before adapting)", "dtick": 1},
        yaxis_title="support loss (mean squared error)",
        height=380, margin={"l": 10, "r": 10, "t": 60},
    )
    return figure


def timing_figure(timings, colours=None) -> go.Figure:
    """Draw a bar per variant of its adaptation wall time in milliseconds.

    ``timings`` has ``variant`` and ``milliseconds``.
    """
    colours = colours or variant_colours(timings["variant"])
    figure = go.Figure(go.Bar(
        x=timings["milliseconds"], y=timings["variant"], orientation="h",
        marker={"color": [colours.get(v) for v in timings["variant"]]},
        text=[f"{ms:,.1f} ms" for ms in timings["milliseconds"]], textposition="auto",
        hovertemplate="%{y}: %{x:,.1f} ms<extra></extra>",
    ))
    figure.update_layout(
        title="Adaptation time", xaxis_title="milliseconds (wall time, scoring excluded)",
        yaxis={"autorange": "reversed", "title": None},
        height=MARGIN_HEIGHT_PX + 40 * len(timings), margin={"l": 10, "r": 10, "t": 60},
    )
    return figure
