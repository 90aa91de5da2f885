"""Every dashboard figure passes plotly's validation, which the builders skip for speed."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from metarec.ui import charts, evaluation_charts

VARIANTS = ["teacher", "student", "ensemble"]


def validated(figure) -> go.Figure:
    """Build the figure again with validation, which raises on an invalid property."""
    return go.Figure(figure.to_dict())


def scores():
    return pd.DataFrame({"variant": np.repeat(VARIANTS, 2), "item_id": [1, 2] * 3,
                         "title": ["A", "B"] * 3, "score": [4.1, 3.9, 4.0, 4.2, 3.8, 4.4],
                         "in_top": [True, False] * 3})


def explained():
    return pd.DataFrame({"item_id": [1, 2], "title": ["A", "B"], "score": [4.4, 4.1],
                         "item_mean": [4.0, np.nan], "item_ratings": [12, 0]})


BUILDERS = {
    "scores": lambda: charts.scores_figure(scores()),
    "curves": lambda: charts.curves_figure(pd.DataFrame(
        {"variant": ["teacher"] * 3 + ["ensemble"], "step": [0, 1, 2, 0],
         "loss": [1.2, 1.0, 0.9, 1.1]})),
    "timing": lambda: charts.timing_figure(pd.DataFrame(
        {"variant": VARIANTS, "milliseconds": [1.5, 0.4, 3.0]})),
    "effects": lambda: charts.effects_figure(pd.DataFrame(
        {"label": ["A (5★)", "B (1★)"], "effect": [0.2, -0.1]}), "label", "Effects"),
    "prediction vs mean": lambda: charts.prediction_vs_mean_figure(explained()),
    "ranking score vs mean": lambda: charts.prediction_vs_mean_figure(explained(), True),
    "session curves": lambda: evaluation_charts.session_curves_figure(pd.DataFrame(
        {"variant": ["teacher"] * 3 + ["popularity"] * 3, "n": [0, 1, 2] * 2,
         "mae": [0.9, np.nan, 0.8, np.nan, np.nan, np.nan]}), "mae", current=2),
    "k-shot": lambda: evaluation_charts.kshot_figure(pd.DataFrame(
        {"variant": ["teacher", "teacher", "student"], "shots": ["1", "all", "1"],
         "mean": [0.9, 0.8, 0.85], "ci95": [0.01, np.nan, np.nan]}), "mae"),
    "trade-off": lambda: evaluation_charts.tradeoff_figure(pd.DataFrame(
        {"variant": VARIANTS, "cost": [1.5, np.nan, 3.0], "value": [0.8, 0.7, 0.75]}),
        "mae", "milliseconds"),
    "timing bars": lambda: evaluation_charts.timing_bars_figure(pd.DataFrame(
        {"variant": VARIANTS, "ms_per_user": [1.0, 0.5, 2.0]}), "Timing"),
}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_figure_passes_validation(name):
    figure = BUILDERS[name]()
    assert validated(figure).to_dict()["data"] == figure.to_dict()["data"]


def test_session_curve_skips_variant_without_values():
    figure = BUILDERS["session curves"]()
    assert [trace["name"] for trace in figure.to_dict()["data"]] == ["teacher"]
    assert figure.to_dict()["data"][0]["y"] == [0.9, None, 0.8]


def test_tradeoff_leaves_out_missing_cost():
    figure = BUILDERS["trade-off"]()
    assert [trace["name"] for trace in figure.to_dict()["data"]] == ["teacher", "ensemble"]


def test_ranking_scores_drawn_without_mean():
    figure = BUILDERS["ranking score vs mean"]()
    assert [trace.get("name") for trace in figure.to_dict()["data"]] == [
        "ranking score for you"]


def test_lone_label_goes_above():
    assert evaluation_charts.label_positions([100.0], [100.0], ["student"]) == ["top center"]


def test_close_labels_take_different_places():
    # Two dots 5 pixels apart: the second label must not cover the first.
    positions = evaluation_charts.label_positions([100.0, 105.0], [100.0, 98.0],
                                                  ["ensemble", "student"])
    assert positions[0] == "top center"
    assert positions[1] != "top center"


def test_tradeoff_labels_avoid_each_other():
    figure = evaluation_charts.tradeoff_figure(pd.DataFrame(
        {"variant": ["user-bias", "mf-als", "student"], "cost": [0.01, 0.011, 0.4],
         "value": [0.787, 0.786, 0.77]}), "mae", "milliseconds")
    positions = [trace["textposition"] for trace in figure.to_dict()["data"]]
    assert positions[0] != positions[1]


def test_tradeoff_accepts_zero_cost():
    figure = evaluation_charts.tradeoff_figure(pd.DataFrame(
        {"variant": ["user-bias", "student"], "cost": [0.0, 0.4], "value": [0.78, 0.77]}),
        "mae", "milliseconds")
    assert len(figure.to_dict()["data"]) == 2


def test_crowded_label_is_left_out():
    # Five dots on one spot: four names fit around it, the fifth has no free place.
    positions = evaluation_charts.label_positions([100.0] * 5, [100.0] * 5, list("abcde"),
                                                  dot_size=14, crowded="none")
    assert positions[:4] == list(evaluation_charts.LABEL_POSITIONS)
    assert positions[4] is None


def test_tradeoff_names_every_dot_in_legend():
    figure = BUILDERS["trade-off"]()
    assert figure.to_dict()["layout"].get("showlegend", True) is not False


def test_session_curves_tick_whole_ratings():
    layout = BUILDERS["session curves"]().to_dict()["layout"]
    assert layout["xaxis"]["dtick"] == 1


def test_scores_equal_predictions_get_separate_lanes():
    # The ensemble serving the student unchanged predicts exactly what the student does.
    # Grouped horizontal traces give each variant its own lane, so neither hides the other.
    frame = scores()
    frame.loc[frame.variant == "ensemble", "score"] = frame.loc[
        frame.variant == "student", "score"].to_numpy()
    figure = validated(charts.scores_figure(frame))
    assert figure.layout.scattermode == "group"
    assert all(trace.orientation == "h" for trace in figure.data)


def test_session_curve_equal_to_another_is_dashed():
    history = pd.DataFrame({"variant": ["student"] * 3 + ["ensemble"] * 3,
                            "n": [0, 1, 2] * 2, "mae": [0.9, 0.85, 0.8] * 2})
    figure = validated(evaluation_charts.session_curves_figure(history, "mae"))
    student, ensemble = figure.data
    assert student.line.dash == "solid"
    assert ensemble.line.dash == "dash"
    assert ensemble.marker.symbol == "circle-open"


def test_timing_bar_below_a_tenth_of_a_millisecond():
    figure = charts.timing_figure(pd.DataFrame({"variant": ["user-bias", "teacher"],
                                                "milliseconds": [0.02, 1.46]}))
    assert list(figure.data[0].text) == ["under 0.1 ms", "1.5 ms"]


def test_colour_independent_of_selection():
    everything = charts.variant_colours(["ensemble", "teacher", "student", "user-bias"])
    selected = charts.variant_colours(["user-bias", "student"])
    assert selected["student"] == everything["student"]
    assert selected["user-bias"] == everything["user-bias"]
    assert len(set(everything.values())) == 4


def test_unknown_variant_gets_unused_colour():
    colours = charts.variant_colours(["teacher", "my-model", "student", "other"])
    assert len(set(colours.values())) == 4
    assert colours["my-model"] != charts.variant_colours(["teacher"])["teacher"]


def test_scores_axis_spans_the_scores():
    axis = charts.scores_figure(scores()).layout.xaxis.range
    assert 3.6 < axis[0] < 3.8
    assert 4.4 < axis[1] < 4.6


def test_dot_axis_ignores_missing_values():
    assert charts.dot_axis_range([np.nan, 2.0, 4.0]) == [1.9, 4.1]
    assert charts.dot_axis_range([]) == [-0.1, 1.1]


def test_every_trained_variant_has_its_own_colour():
    names = list(charts.VARIANT_COLOUR_INDEX)
    assert len(set(charts.variant_colours(names).values())) == len(names)


def test_kshot_line_equal_to_another_is_dashed():
    summary = pd.DataFrame({"variant": ["student"] * 2 + ["ensemble"] * 2,
                            "shots": ["1", "all"] * 2, "mean": [0.84, 0.76] * 2,
                            "ci95": [0.01] * 4})
    figure = evaluation_charts.kshot_figure(summary, "mae")
    assert [trace.line.dash for trace in figure.data] == ["solid", "dash"]
    assert figure.layout.yaxis.title.text == "MAE (lower is better)"


def test_legend_sits_under_the_axis_title():
    short = charts.scores_figure(scores()).layout.legend.y
    assert -1.0 < short < -0.1
    tall = pd.concat([scores().assign(title=lambda f, i=i: f["title"] + str(i))
                      for i in range(20)])
    assert -0.1 < charts.scores_figure(tall).layout.legend.y < 0


def test_effects_axis_title_fits_plot():
    # The title is centred under the plot area, which long rating labels leave under
    # 200 px wide at 1280 px. One long line was cut off at the figure's edge.
    figure = BUILDERS["effects"]()
    lines = figure.layout.xaxis.title.text.split("<br>")
    assert max(len(line) for line in lines) <= 20, lines
