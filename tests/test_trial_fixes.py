"""Dashboard captions, prompts, axes, labels and uploads as a new user meets them."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from metarec.cli import MODELS_DIR_ENV, SAMPLE_DIR
from metarec.data import DATA_DIR_ENV
from page_helpers import APP, click, open_page

NEW_USER = "pages/1_New_user.py"
COMPARISON = "pages/4_Model_comparison.py"
RATINGS_KEY = "new_user.ratings"
RUN_TIMEOUT = 60
# How far past a scale's end an axis may reach, as a share of the scale.
AXIS_PADDING = 0.05


@pytest.fixture
def app_env(tiny_models, monkeypatch):
    monkeypatch.setenv(MODELS_DIR_ENV, str(tiny_models))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    return tiny_models


def new_user_page(ratings=None) -> AppTest:
    """Open the New user page, with ``ratings`` of the sample already entered."""
    return open_page(NEW_USER, RUN_TIMEOUT, RATINGS_KEY, ratings)


def download_buttons(app) -> dict:
    return {button.proto.label: button.proto for button in app.get("download_button")}


def assert_axis_within(axis, low, high):
    """Check that ``axis`` sets a range near ``low``..``high`` and ticks only on it."""
    # Building the axis again with plotly's validation raises on an invalid property.
    go.layout.XAxis(axis.to_plotly_json())
    padding = AXIS_PADDING * (high - low)
    bottom, top = axis.range
    assert low - padding <= bottom < top <= high + padding, axis.range
    assert axis.tickvals, "no ticks set"
    assert min(axis.tickvals) >= low, axis.tickvals
    assert max(axis.tickvals) <= high, axis.tickvals


# Model comparison ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def results_file(tiny_models, tmp_path_factory):
    from metarec.cli import main

    out = tmp_path_factory.mktemp("evaluation") / "sample"
    assert main(["evaluate", "--data", str(SAMPLE_DIR), "--models", str(tiny_models),
                 "--shots", "5", "--out", str(out)]) == 0
    return out


def comparison_with_file(path) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)
    app.switch_page(COMPARISON)
    app.run()
    app.file_uploader(key="comparison.file").set_value(
        (path.name, path.read_bytes(), "text/plain")).run()
    return app


@pytest.mark.parametrize("suffix, source", [
    # The JSON file records the models folder it was evaluated with, and the CSV does not.
    (".json", "the folder that the loaded results file records"),
    (".csv", "may differ from the models that produced the loaded results file"),
])
def test_timing_names_timed_models(app_env, results_file, suffix, source):
    app = comparison_with_file(results_file.with_suffix(suffix))

    assert not app.exception, [e.value for e in app.exception]
    timing = [c.value for c in app.caption if "adaptations to 5 ratings" in c.value]
    assert len(timing) == 1, [c.value for c in app.caption]
    assert f"in '{app_env}'" in timing[0]
    assert source in timing[0]
    costs = [c.value for c in app.caption if c.value.startswith("The costs come from")]
    assert len(costs) == 1, [c.value for c in app.caption]
    assert f"in '{app_env}'" in costs[0]


def test_timing_note_names_other_models(app_env, results_file, tmp_path):
    import json

    document = json.loads(results_file.with_suffix(".json").read_text())
    document["models"] = ["elsewhere/models-seed-7"]
    other = tmp_path / "other.json"
    other.write_text(json.dumps(document))
    app = comparison_with_file(other)

    assert not app.exception, [e.value for e in app.exception]
    timing = [c.value for c in app.caption if "adaptations to 5 ratings" in c.value]
    assert len(timing) == 1, [c.value for c in app.caption]
    assert ("The loaded results file records other models ('elsewhere/models-seed-7'), "
            "so these may differ from the models that produced it.") in timing[0]


def test_long_form_download_promises_no_intervals(app_env, results_file):
    app = comparison_with_file(results_file.with_suffix(".csv"))

    assert not app.exception, [e.value for e in app.exception]
    labels = list(download_buttons(app))
    assert labels == ["Download table (CSV)", "Download long form (CSV)"]


def test_long_form_label_with_intervals():
    from metarec.ui.results_view import long_form_label

    summary = pd.DataFrame({"ci95": [0.01, np.nan]})
    assert long_form_label(summary) == "Download with intervals (CSV)"
    assert long_form_label(summary.iloc[1:]) == "Download long form (CSV)"


@pytest.mark.parametrize("metric", ["ndcg@3", "auc", "precision@10", "recall@10",
                                    "catalogue_ndcg@10"])
def test_unit_metric_axes_end_at_one(metric):
    from metarec.ui import evaluation_charts

    kshot = evaluation_charts.kshot_figure(pd.DataFrame(
        {"variant": ["teacher", "student"], "shots": ["5", "5"], "mean": [0.95, 0.97],
         "ci95": [0.06, np.nan]}), metric)
    assert_axis_within(kshot.layout.yaxis, 0.0, 1.0)

    tradeoff = evaluation_charts.tradeoff_figure(pd.DataFrame(
        {"variant": ["teacher", "student"], "cost": [3.0, 1.0], "value": [0.99, 0.97]}),
        metric, "milliseconds")
    assert_axis_within(tradeoff.layout.yaxis, 0.0, 1.0)

    session = evaluation_charts.session_curves_figure(pd.DataFrame(
        {"variant": ["teacher"] * 3, "n": [0, 1, 2], metric: [0.9, 1.0, 1.0]}), metric)
    assert_axis_within(session.layout.yaxis, 0.0, 1.0)


def test_error_axes_left_to_plotly():
    from metarec.ui import evaluation_charts

    figure = evaluation_charts.kshot_figure(pd.DataFrame(
        {"variant": ["teacher"], "shots": ["5"], "mean": [0.8], "ci95": [np.nan]}), "mae")
    assert figure.layout.yaxis.range is None


# Tie note ------------------------------------------------------------------------------

def test_tie_note_names_tied_scores():
    from metarec.ui.views import tied_scores_note

    assert tied_scores_note(["4.48", "4.41", "4.27"]) is None
    note = tied_scores_note(["5.00", "5.00", "4.30", "4.19", "4.19"])
    assert note.startswith("Shown more than once: 5.00, 4.19.")


def draw_new_user_lists():
    import pandas as pd

    from metarec.ui.compare import VariantResult
    from metarec.ui.views import top_lists

    def result(variant, scores):
        top = pd.DataFrame({"rank": [1, 2, 3], "item_id": [1, 2, 3],
                            "title": ["A", "B", "C"], "score": scores})
        return VariantResult(variant, top, [], 0.001, {})

    top_lists({"distinct": result("distinct", [4.48, 4.35, 4.27]),
               "tied": result("tied", [4.48, 4.351, 4.349])})


def test_new_user_tie_note_only_under_ties():
    app = AppTest.from_function(draw_new_user_lists).run()

    assert not app.exception, [e.value for e in app.exception]
    notes = [c.value for c in app.caption if "equal only as shown" in c.value]
    assert notes == [notes[0]]
    assert notes[0].startswith("Shown more than once: 4.35.")


def draw_item_lists():
    from types import SimpleNamespace

    import pandas as pd

    from metarec.ui.item_views import audience_tables

    def result(variant, predicted):
        top = pd.DataFrame({"rank": [1, 2, 3], "user_id": [1, 2, 3], "age": [20, 30, 40],
                            "gender": ["F", "M", "F"], "occupation": ["student"] * 3,
                            "predicted": predicted})
        return SimpleNamespace(variant=variant, top=top, seconds=0.001, weights={})

    # User 4 is outside both top lists, so the capped variant is not flat.
    predictions = pd.DataFrame({"variant": ["capped"] * 4 + ["distinct"] * 4,
                                "user_id": [1, 2, 3, 4] * 2,
                                "predicted": [5.0, 5.0, 5.0, 3.2, 4.9, 4.5, 4.1, 3.0]})
    audience_tables(SimpleNamespace(
        results={"capped": result("capped", [5.0, 5.0, 5.0]),
                 "distinct": result("distinct", [4.9, 4.5, 4.1])},
        predictions=predictions))


def test_new_item_tie_note_under_capped_scores():
    app = AppTest.from_function(draw_item_lists).run()

    assert not app.exception, [e.value for e in app.exception]
    notes = [c.value for c in app.caption if "equal only as shown" in c.value]
    assert len(notes) == 1, [c.value for c in app.caption]
    assert notes[0].startswith("Shown more than once: 5.00.")
    assert app.table[0].value["predicted"].tolist() == ["5.00", "5.00", "5.00"]


def test_audience_axis_within_rating_scale():
    from metarec.ui.item_charts import audience_figure, groups_figure

    top = pd.DataFrame({"variant": ["teacher"] * 2, "user_id": [1, 2],
                        "label": ["user 1", "user 2"]})
    predictions = pd.DataFrame({"variant": ["teacher"] * 2, "user_id": [1, 2],
                                "predicted": [5.0, 4.6]})
    assert_axis_within(audience_figure(top, predictions).layout.xaxis, 1.0, 5.0)

    groups = pd.DataFrame({"variant": ["teacher"] * 2, "group": ["age band"] * 2,
                           "value": ["18-24", "25-34"], "users": [10, 20],
                           "mean predicted": [5.0, 4.8]})
    assert_axis_within(groups_figure(groups, "age band").layout.yaxis, 1.0, 5.0)


def test_bounded_axis_other_scale():
    from metarec.ui.charts import bounded_axis

    axis = bounded_axis([9.5, 10.0, np.nan], 0.0, 10.0)
    assert max(axis["tickvals"]) == 10.0
    assert axis["range"][1] <= 10.0 + AXIS_PADDING * 10


# New user: profile files and star labels -----------------------------------------------

def upload_profile(app, name, content):
    mime = "application/json" if name.endswith(".json") else "text/csv"
    app.file_uploader(key="new_user.profile_file").set_value((name, content, mime)).run()
    return app


@pytest.mark.parametrize("button", ["Replace my profile", "Add to my ratings"])
def test_applied_profile_not_offered_again(app_env, sample_dataset, button):
    from metarec.ui.profile_io import profile_json

    saved = {1: 5.0, 2: 4.0, 3: 1.0}
    app = new_user_page({7: 2.0})
    upload_profile(app, "me.json", profile_json(sample_dataset, saved).encode())
    assert any("Both buttons take the file's stars" in i.value for i in app.info)
    app = click(app, button)

    assert not app.exception, [e.value for e in app.exception]
    assert not [i.value for i in app.info if "Both buttons" in i.value]
    assert not [b for b in app.button if b.label in ("Replace my profile",
                                                     "Add to my ratings")]
    success = [s.value for s in app.success]
    assert len(success) == 1
    assert success[0].startswith(("Loaded 3 ratings", "Added 3 new ratings"))

    # Another rerun keeps the message and still offers no prompt.
    app = click(app, "Add this persona's ratings")
    assert [s.value for s in app.success] == success
    assert not [i.value for i in app.info if "Both buttons" in i.value]


def test_about_you_alone_downloads_json(app_env):
    app = new_user_page()
    buttons = download_buttons(app)
    assert buttons["Download JSON"].disabled
    app.number_input(key="new_user.age").set_value(31)
    app.text_input(key="new_user.zip").set_value("02139").run()

    assert not app.exception, [e.value for e in app.exception]
    buttons = download_buttons(app)
    assert not buttons["Download JSON"].disabled
    assert buttons["Download CSV"].disabled
    assert "keeps only the ratings" in buttons["Download CSV"].help


def test_about_you_alone_loads_back(app_env, sample_dataset):
    from metarec.ui.profile_io import profile_json, read_profile

    content = profile_json(sample_dataset, {}, {"age": 31, "zip_code": "02139"}).encode()
    loaded = read_profile(content, "me.json", sample_dataset)
    assert loaded.ratings == {}
    assert loaded.user == {"age": 31, "zip_code": "02139"}

    app = new_user_page({7: 2.0})
    upload_profile(app, "me.json", content)
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert any("has no ratings, only fields about you: age, zip code" in i.value
               for i in app.info)
    [add] = [b for b in app.button if b.label == "Add to my ratings"]
    assert add.disabled
    app = click(app, "Replace my profile")

    assert app.number_input(key="new_user.age").value == 31
    assert app.text_input(key="new_user.zip").value == "02139"
    assert app.session_state[RATINGS_KEY][str(SAMPLE_DIR)] == {}


def test_star_groups_named_by_title(app_env, sample_dataset):
    titles = sample_dataset.item_titles()
    app = new_user_page({1: 5.0, 2: 4.0})

    assert not app.exception, [e.value for e in app.exception]
    labels = [control.proto.label for control in app.get("button_group")]
    assert f"Rating of {titles[1]}" in labels
    assert f"Rating of {titles[2]}" in labels


# Sidebar upload ------------------------------------------------------------------------

def test_upload_names_file_in_use(app_env, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ratings = "user_id,item_id,rating\n" + "".join(
        f"{user},{item},{(user + item) % 5 + 1}\n" for user in range(1, 6)
        for item in range(1, 6))
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()
    app.sidebar.radio(key="_widget.data.source").set_value("Your own CSV").run()
    app.sidebar.file_uploader(key="data.upload.ratings").set_value(
        ("mine.csv", ratings.encode(), "text/csv")).run()

    assert not app.exception, [e.value for e in app.exception]
    captions = [c.value for c in app.sidebar.caption if c.value.startswith("Using ")]
    assert captions == ["Using 'mine.csv' as the ratings. A file marked as not allowed "
                        "is never used, and the × beside its name removes it."]
