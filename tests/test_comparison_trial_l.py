"""Tests of the Model comparison page: a pinned variant column, run options kept across
page switches, plain time ticks, the trade-off chart's note on variants it leaves out,
why Run evaluation is disabled, and legends clear of the x-axis title."""

import json

import numpy as np
import pandas as pd
import streamlit

from page_helpers import captions, click, open_page

COMPARISON = "pages/4_Model_comparison.py"
RUN_TIMEOUT = 60
ALL_VARIANTS = ["teacher", "student", "finetune", "student-like", "melu-1", "melu-5",
                "user-bias", "mf-als", "item-mean", "global-mean", "popularity", "random",
                "ensemble"]


def load_rows(app, rows: pd.DataFrame, tmp_path):
    """Load ``rows`` as a results CSV on the page and return the page after it."""
    path = tmp_path / "results.csv"
    rows.to_csv(path, index=False)
    app.file_uploader(key="comparison.file").set_value(
        (path.name, path.read_bytes(), "text/csv")).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def plotly_specs(app) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]


# Pinned variant column ------------------------------------------------------------------

def test_metric_table_pins_variants(app_env, tmp_path, monkeypatch):
    from metarec.ui.results_view import PINNED_TABLE_WIDTH_PX

    calls = []
    table = streamlit.table

    def recording_table(data, **kwargs):
        calls.append(kwargs)
        return table(data, **kwargs)

    monkeypatch.setattr(streamlit, "table", recording_table)
    rows = pd.DataFrame([{"split_seed": 0, "variant": variant, "shots": shots,
                          "users": 40, "mae": 0.8, "rmse": 1.0, "ndcg@3": 0.9, "auc": 0.6}
                         for shots in ("1", "5", "all") for variant in ALL_VARIANTS])
    app = load_rows(open_page(COMPARISON, RUN_TIMEOUT), rows, tmp_path)

    assert app.table[0].value.index.tolist()[:2] == ["teacher", "student"]
    assert calls, "the page drew no table"
    # Streamlit pins a table's index only when the table has a width in pixels.
    assert calls[0].get("width") == PINNED_TABLE_WIDTH_PX


# Run options across page switches --------------------------------------------------------

def choose_run_options(app):
    app.radio(key="comparison.source").set_value("Run an evaluation here").run()
    app.multiselect(key="comparison.shots").set_value(["2", "5"])
    app.selectbox(key="comparison.part").set_value("validation")
    app.checkbox(key="comparison.catalogue").check()
    app.multiselect(key="comparison.run_variants").set_value(["user-bias", "popularity"])
    return app.run()


def test_run_options_survive_page_switch(app_env):
    app = choose_run_options(open_page(COMPARISON, RUN_TIMEOUT))
    app.switch_page("app.py").run()
    app.switch_page(COMPARISON).run()

    assert not app.exception, [e.value for e in app.exception]
    assert app.multiselect(key="comparison.shots").value == ["2", "5"]
    assert app.selectbox(key="comparison.part").value == "validation"
    assert app.checkbox(key="comparison.catalogue").value is True
    assert app.multiselect(key="comparison.run_variants").value == ["user-bias",
                                                                    "popularity"]


def test_run_caption_states_settings(app_env):
    app = click(choose_run_options(open_page(COMPARISON, RUN_TIMEOUT)), "Run evaluation")
    assert not app.exception, [e.value for e in app.exception]
    settings = ("The results below are of validation users at K=2 and K=5, ranking the "
                "whole catalogue too, for 2 variants.")
    assert settings in captions(app), captions(app)

    app.switch_page("app.py").run()
    app.switch_page(COMPARISON).run()
    assert settings in captions(app), captions(app)

    app.selectbox(key="comparison.part").set_value("test").run()
    assert settings + (" The options above have changed since, so Run evaluation would "
                       "compute other results.") in captions(app), captions(app)


def test_run_settings_note_without_changes():
    from metarec.ui.results import EvaluationResults
    from metarec.ui.results_view import run_settings_note

    rows = pd.DataFrame({"split_seed": 0, "variant": ["random"], "shots": ["all"],
                         "users": [10], "mae": [1.0]})
    results = EvaluationResults(rows, {"users": "test", "shots": ["all"],
                                       "variants": ["random"], "catalogue": False})

    note = run_settings_note(results, ["all"], "test", False, ["random"])
    assert note == ("The results below are of test users at K=all, without ranking the "
                    "whole catalogue, for 1 variant.")
    assert "changed" in run_settings_note(results, ["all"], "test", True, ["random"])


# Why Run evaluation is disabled ----------------------------------------------------------

def test_run_disabled_says_choose_k(app_env):
    app = open_page(COMPARISON, RUN_TIMEOUT)
    app.radio(key="comparison.source").set_value("Run an evaluation here").run()
    app.multiselect(key="comparison.shots").set_value([]).run()

    run = [button for button in app.button if button.label == "Run evaluation"]
    assert run and run[0].disabled
    assert "Choose at least one support size K to run the evaluation." in captions(app)


def test_missing_choices_note():
    from metarec.ui.results_view import missing_choices_note

    assert missing_choices_note(["5"], ["random"]) == ""
    assert missing_choices_note([], []) == ("Choose at least one support size K and one "
                                            "variant to run the evaluation.")
    assert missing_choices_note(["5"], []) == ("Choose at least one variant to run the "
                                               "evaluation.")


# Millisecond ticks -----------------------------------------------------------------------

def test_time_axes_have_no_si_prefix():
    from metarec.ui.evaluation_charts import (TIME_TICKFORMAT, timing_bars_figure,
                                              tradeoff_figure)

    bars = timing_bars_figure(pd.DataFrame({"variant": ["random", "teacher"],
                                            "ms_per_user": [0.0002, 0.4]}), "Adapting")
    tradeoff = tradeoff_figure(pd.DataFrame(
        {"variant": ["random", "teacher"], "cost": [0.0002, 0.4], "value": [0.5, 0.7]}),
        "auc", "milliseconds", cost_tickformat=TIME_TICKFORMAT)

    assert bars.layout.xaxis.tickformat == TIME_TICKFORMAT
    assert tradeoff.layout.xaxis.tickformat == TIME_TICKFORMAT
    # d3-format's "s" type writes SI prefixes such as "200μ".
    assert "s" not in TIME_TICKFORMAT


def test_page_time_costs_use_plain_ticks(app_env, tmp_path):
    from metarec.ui.evaluation_charts import TIME_TICKFORMAT

    rows = pd.DataFrame([{"split_seed": 0, "variant": variant, "shots": "5", "users": 40,
                          "ndcg@3": 0.9} for variant in ("teacher", "random")])
    app = load_rows(open_page(COMPARISON, RUN_TIMEOUT), rows, tmp_path)
    # nDCG@3 is both the first metric and the one added to it, but is chosen once.
    assert app.multiselect(key="comparison.metrics").value == ["ndcg@3"]
    cost = app.selectbox(key="comparison.tradeoff_cost")
    for choice, expected in [("median_ms", TIME_TICKFORMAT),
                             ("train_seconds", TIME_TICKFORMAT), ("parameters", None)]:
        app = cost.set_value(choice).run()
        cost = app.selectbox(key="comparison.tradeoff_cost")
        specs = plotly_specs(app)
        tradeoff = [spec for spec in specs if " against " in
                    spec["layout"]["title"]["text"]]
        assert len(tradeoff) == 1, choice
        assert tradeoff[0]["layout"]["xaxis"].get("tickformat") == expected, choice
        timing = [spec for spec in specs if spec["layout"]["title"]["text"]
                  == "Adapting to one user (median)"]
        assert timing[0]["layout"]["xaxis"]["tickformat"] == TIME_TICKFORMAT


# Variants left off the trade-off chart ---------------------------------------------------

def test_left_out_note_names_every_variant():
    from metarec.ui.results_view import left_out_note, tradeoff_points

    summary = pd.DataFrame({
        "variant": ["teacher", "user-bias", "random", "teacher"],
        "shots": ["5", "5", "5", "5"], "metric": ["mae", "mae", "ndcg@3", "ndcg@3"],
        "mean": [0.8, 0.9, 0.5, 0.7], "ci95": np.nan, "seeds": 1})
    costs = pd.DataFrame({"variant": ["teacher", "user-bias", "random"],
                          "parameters": [1000.0, np.nan, np.nan],
                          "median_ms": [0.4, 0.0, 0.0005]})

    points = tradeoff_points(summary, costs, "mae", "5", "median_ms")
    assert points["variant"].tolist() == ["teacher", "user-bias", "random"]
    assert left_out_note(points, "mae", "5", "median_ms") == (
        "Not drawn, for lack of a value of MAE at K=5: random, because ranking baselines "
        "and variants trained on likes predict no ratings. Not drawn, because the log "
        "cost axis cannot show a cost of 0: user-bias.")

    points = tradeoff_points(summary, costs, "mae", "5", "parameters")
    assert left_out_note(points, "mae", "5", "parameters") == (
        "Not drawn, for lack of a value of MAE at K=5: random, because ranking baselines "
        "and variants trained on likes predict no ratings. Not drawn, for lack of a "
        "parameters value: user-bias, because only networks have parameters.")

    costs["median_ms"] = [0.4, np.nan, 0.0005]
    points = tradeoff_points(summary, costs, "mae", "5", "median_ms")
    assert left_out_note(points, "mae", "5", "median_ms").endswith(
        "Not drawn, for lack of an adaptation time for one user (median ms) value: "
        "user-bias, because no adaptation of theirs was timed with the dashboard's "
        "models.")

    points = tradeoff_points(summary, costs, "ndcg@3", "5", "median_ms")
    assert left_out_note(points, "ndcg@3", "5", "median_ms") == (
        "Not drawn, for lack of a value of nDCG@3 at K=5: user-bias.")


def test_page_names_variants_without_metric(app_env, tmp_path):
    # popularity and random rank items without predicting ratings, so they have no MAE.
    rows = pd.DataFrame([{"split_seed": 0, "variant": variant, "shots": "5", "users": 40,
                          "mae": np.nan if variant in ("popularity", "random") else 0.8,
                          "ndcg@3": 0.9}
                         for variant in ("teacher", "user-bias", "popularity", "random")])
    app = load_rows(open_page(COMPARISON, RUN_TIMEOUT), rows, tmp_path)
    app.multiselect(key="comparison.metrics").set_value(["mae"]).run()

    for cost in ("median_ms", "parameters"):
        app.selectbox(key="comparison.tradeoff_cost").set_value(cost).run()
        assert not app.exception, [e.value for e in app.exception]
        notes = [text for text in captions(app) if text.startswith("Not drawn")]
        assert notes, (cost, captions(app))
        assert "popularity and random" in notes[0], (cost, notes)
        if cost == "parameters":
            assert "user-bias" in notes[0], notes


# Legends clear of the x-axis title -------------------------------------------------------

def test_legend_below_axis_title():
    from metarec.ui.charts import LEGEND_OFFSET_PX
    from metarec.ui.evaluation_charts import (KSHOT_PLOT_PX, LEGEND_ROW_PX,
                                              TRADEOFF_PLOT_PX, kshot_figure, legend_rows,
                                              tradeoff_figure)

    summary = pd.DataFrame({"variant": ALL_VARIANTS * 2, "shots": ["1"] * 13 + ["5"] * 13,
                            "mean": np.linspace(0.7, 0.9, 26), "ci95": np.nan})
    kshot = kshot_figure(summary, "mae", counts={"1": 40, "5": 40})
    points = pd.DataFrame({"variant": ALL_VARIANTS, "cost": np.linspace(1, 13, 13),
                           "value": np.linspace(0.7, 0.9, 13)})
    tradeoff = tradeoff_figure(points, "mae", "parameters")

    from metarec.ui.evaluation_charts import SESSION_PLOT_PX, session_curves_figure

    history = pd.DataFrame({"variant": np.repeat(ALL_VARIANTS, 3), "n": [0, 1, 2] * 13,
                            "mae": np.linspace(0.7, 0.9, 39)})
    session = session_curves_figure(history, "mae", current=1)

    rows = legend_rows(ALL_VARIANTS)
    assert rows >= 2
    for figure, plot_px in [(kshot, KSHOT_PLOT_PX), (tradeoff, TRADEOFF_PLOT_PX),
                            (session, SESSION_PLOT_PX)]:
        layout = figure.layout
        # Anchored at its top, the legend grows down, away from the axis title.
        assert layout.legend.yanchor == "top"
        assert -layout.legend.y * plot_px >= LEGEND_OFFSET_PX
        assert layout.margin.b >= -layout.legend.y * plot_px + rows * LEGEND_ROW_PX
        assert layout.height == plot_px + layout.margin.t + layout.margin.b
