"""Tests of the K-shot charts' shading of support sizes scored on fewer users, their
count ranges, and a classifier's explanation named by its score."""

import json

import numpy as np
import pandas as pd

from metarec.ui import charts, evaluation_charts


def test_few_shots_within_ten_percent():
    # K=20 on 238 users beside K=all on 320: its lower error is another subset's.
    assert evaluation_charts.few_shots({"5": 320, "20": 238, "all": 320}) == ["20"]
    assert evaluation_charts.few_shots({"5": 320, "20": 300, "all": 320}) == []


def test_kshot_labels_show_count_ranges():
    summary = pd.DataFrame({"variant": "student", "shots": ["1", "all"],
                            "mean": [0.85, 0.78], "ci95": [0.1, 0.1]})
    figure = evaluation_charts.kshot_figure(summary, "mae", counts={"1": 325, "all": 325},
                                            count_labels={"1": "320 to 325"})
    labels = figure.to_dict()["data"][0]["x"]
    assert list(labels) == ["K=1<br>320 to 325 users", "K=all<br>325 users"]


def test_kshot_labels_without_ranges():
    summary = pd.DataFrame({"variant": "student", "shots": ["1"], "mean": [0.85],
                            "ci95": [np.nan]})
    figure = evaluation_charts.kshot_figure(summary, "mae", counts={"1": 1234})
    assert list(figure.to_dict()["data"][0]["x"]) == ["K=1<br>1,234 users"]


def test_count_ranges_per_seed():
    from metarec.ui.results import EvaluationResults
    from metarec.ui.results_view import count_ranges

    rows = pd.DataFrame({"split_seed": [0, 0, 1, 1], "variant": ["student"] * 4,
                         "shots": ["1", "all", "1", "all"], "users": [320, 320, 325, 320]})
    results = EvaluationResults(rows=rows.assign(mae=0.8))
    assert count_ranges(results) == {"1": "320 to 325", "all": "320"}


def test_classifier_explanation_named_by_score():
    items = pd.DataFrame({"item_id": [1, 2], "title": ["A", "B"], "score": [0.9, 0.7],
                          "item_mean": [4.5, 3.0], "item_ratings": [100, 20]})
    figure = charts.prediction_vs_mean_figure(items, True, "like probability").to_dict()
    [dots] = figure["data"]
    assert dots["name"] == "like probability for you"
    assert figure["layout"]["xaxis"]["title"]["text"] == "like probability"
    assert figure["layout"]["title"]["text"] == "Your like probability of each item"


def test_classifier_curves_in_own_chart(recommender):
    from metarec.ui.compare import compare_variants

    comparison = compare_variants(recommender, {1: 5.0, 2: 1.0, 3: 4.0},
                                  ["student", "student-like", "popularity"])
    rating_curves = comparison.curves()
    classifier_curves = comparison.classifier_curves()
    assert set(rating_curves["variant"]) == {"student"}
    assert set(classifier_curves["variant"]) == {"student-like"}
    losses = comparison.results["student-like"].support_losses
    assert classifier_curves["loss"].tolist() == losses

    figure = charts.curves_figure(classifier_curves, loss="log loss",
                                  title="Support loss of the like/dislike classifiers")
    layout = figure.to_dict()["layout"]
    assert layout["yaxis"]["title"]["text"] == "support loss (log loss)"
    assert layout["title"]["text"] == "Support loss of the like/dislike classifiers"


def test_page_draws_classifier_curves(app_env):
    from page_helpers import open_page

    app = open_page("pages/1_New_user.py", 60, "new_user.ratings", {1: 5.0, 2: 1.0})
    app.multiselect(key="new_user.variants").set_value(["student", "student-like"]).run()
    app.toggle(key="new_user.details").set_value(True).run()
    assert not app.exception, [e.value for e in app.exception]
    titles = [json.loads(chart.proto.spec)["layout"]["title"]["text"]
              for chart in app.get("plotly_chart")]
    assert "Support loss during adaptation" in titles
    assert "Support loss of the like/dislike classifiers" in titles


def test_curves_axis_names_loss_with_flat_line():
    # A variant with one loss is drawn as a dashed line, whose level once replaced the
    # loss's name in the axis title.
    curves = pd.DataFrame({"variant": ["teacher"] * 3 + ["user-bias"],
                           "step": [0, 1, 2, 0], "loss": [1.2, 1.0, 0.9, 1.1]})
    layout = charts.curves_figure(curves).to_dict()["layout"]
    assert layout["yaxis"]["title"]["text"] == "support loss (mean squared error)"


def test_zip_without_digit_warned(app_env):
    from page_helpers import open_page

    app = open_page("pages/1_New_user.py", 60)
    app.text_input(key="new_user.zip").set_value("abc!!").run()
    assert not app.exception, [e.value for e in app.exception]
    assert ("Zip code 'abc!!' does not start with a digit, so the models read its region "
            "as unknown. Type a zip code such as 55105, or clear the field."
            in [warning.value for warning in app.warning])

    app.text_input(key="new_user.zip").set_value("55105").run()
    assert not [w.value for w in app.warning if w.value.startswith("Zip code")]


def test_new_item_page_shows_validation(app_env, tiny_item_models, monkeypatch):
    from page_helpers import captions, open_page

    monkeypatch.setenv("METAREC_ITEM_MODELS_DIR", str(tiny_item_models))
    app = open_page("pages/2_New_item.py", 60, "new_item.ratings", {1: 5.0})
    assert not app.exception, [e.value for e in app.exception]
    [table] = [t for t in app.table if "MAE K=0" in t.value.columns]
    assert "teacher" in table.value.index
    assert table.value.loc["teacher"].notna().all()
    assert any(caption.startswith("Mean absolute error on the held-out ratings of ")
               and "validation items" in caption for caption in captions(app))
