"""Tests of the warning after a training that leaving the page stopped, of top lists
that are an arbitrary pick among equal scores, and of the explained "unknown" genre."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from page_helpers import captions, open_page, stop_training_at

HOME, NEW_ITEM = "pages/0_Home.py", "pages/2_New_item.py"
RUN_TIMEOUT = 60
STOPPED = "stopped before it finished"


# A training stopped by leaving the page ------------------------------------------------

class PageLeft(BaseException):
    """Stands for Streamlit's exception that stops a script when its page is left."""


def stopped_warnings(app) -> list[str]:
    return [warning.value for warning in app.warning if STOPPED in warning.value]


@pytest.fixture
def runs(monkeypatch):
    """A fresh record of trainings, used by the pages in place of the server's."""
    from metarec.ui.training_runs import TrainingRuns

    fresh = TrainingRuns(poll_seconds=0.01)
    monkeypatch.setattr("metarec.ui.state.training_runs", lambda: fresh)
    return fresh


def leave_training(runs, folder, kind):
    """Start a training into ``folder`` that is stopped as leaving its page stops it."""
    def train(report):
        raise PageLeft()

    with pytest.raises(PageLeft):
        runs.train(folder, kind, train, lambda message, fraction: None)


@pytest.fixture
def empty_models(tmp_path, monkeypatch):
    """Point both models folders at empty folders, with the sample as the data."""
    monkeypatch.setenv("METAREC_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("METAREC_ITEM_MODELS_DIR", str(tmp_path / "item-models"))
    monkeypatch.delenv("METAREC_DATA_DIR", raising=False)
    return tmp_path


def test_runs_record_stopped_training(runs, tmp_path):
    assert runs.stopped(tmp_path, "user") is None
    leave_training(runs, tmp_path, "user")
    assert runs.stopped(tmp_path, "user") is not None
    assert runs.stopped(tmp_path, "item") is None

    # A training that finishes replaces the record.
    runs.train(tmp_path, "user", lambda report: tmp_path / "manifest.json",
               lambda message, fraction: None)
    assert runs.stopped(tmp_path, "user") is None


def test_failed_training_not_recorded_stopped(runs, tmp_path):
    def fail(report):
        raise ImportError("no text encoder")

    with pytest.raises(ImportError):
        runs.train(tmp_path, "user", fail, lambda message, fraction: None)
    assert runs.stopped(tmp_path, "user") is None


@pytest.mark.parametrize("page, kind, folder", [
    (HOME, "user", "models"),
    (NEW_ITEM, "item", "item-models"),
])
def test_stopped_training_is_reported(empty_models, runs, page, kind, folder):
    leave_training(runs, empty_models / folder, kind)
    app = open_page(page, RUN_TIMEOUT)
    assert not app.exception
    [warning] = stopped_warnings(app)
    assert "saved no models" in warning
    assert "press the button again" in warning
    assert str(empty_models / folder) in warning

    # Every run of the page, in any session, until models appear or a training starts.
    assert stopped_warnings(open_page(page, RUN_TIMEOUT)) == [warning]


def test_no_warning_for_other_folder(empty_models, runs):
    leave_training(runs, empty_models / "other", "user")
    assert not stopped_warnings(open_page(HOME, RUN_TIMEOUT))


def test_no_warning_once_models_exist(tiny_models, runs, monkeypatch):
    # The models are older than the stopped training, so a copy is made after it.
    import shutil

    folder = Path(tiny_models).parent / "stopped-then-trained"
    shutil.rmtree(folder, ignore_errors=True)
    leave_training(runs, folder, "user")
    shutil.copytree(tiny_models, folder)
    (folder / "manifest.json").touch()
    monkeypatch.setenv("METAREC_MODELS_DIR", str(folder))
    monkeypatch.delenv("METAREC_DATA_DIR", raising=False)
    assert not stopped_warnings(open_page(HOME, RUN_TIMEOUT))


def test_failed_training_not_called_stopped(empty_models, runs, monkeypatch):
    leave_training(runs, empty_models / "models", "user")
    stop_training_at(monkeypatch, "metarec.pipeline.train_models")
    app = open_page(HOME, RUN_TIMEOUT)
    assert stopped_warnings(app)
    [button] = [b for b in app.button if b.label == "Train models"]
    button.click().run()
    assert "Training failed: stopped before training" in [e.value for e in app.error]
    # The press drops the stopped training's record before the page runs, so no
    # warning shows while the new training runs, nor after it failed.
    assert not stopped_warnings(app)
    app.run()
    assert not stopped_warnings(app)


def test_running_training_noted(empty_models, runs):
    from metarec.ui.training_runs import Run

    leave_training(runs, empty_models / "models", "user")
    key = (str((empty_models / "models").resolve()), "user")
    runs._running[key] = Run(message="epoch 3 of 40")
    app = open_page(HOME, RUN_TIMEOUT)
    assert not stopped_warnings(app)
    [note] = [info.value for info in app.info if "is running" in info.value]
    assert "in this session or another (epoch 3 of 40)" in note
    assert "it stops at its next progress step" in note


# Top lists picked among equal scores ---------------------------------------------------

def test_global_mean_list_is_all_tied(recommender):
    from metarec.ui.compare import compare_variants

    comparison = compare_variants(recommender, {1: 5.0, 2: 4.0},
                                  ["global-mean", "item-mean", "student"])
    assert comparison.results["global-mean"].all_tied
    assert not comparison.results["item-mean"].all_tied
    assert not comparison.results["student"].all_tied
    in_top = comparison.scores.groupby("variant")["in_top"].sum()
    assert in_top["global-mean"] == 0
    # The chart's titles are those of the other lists only.
    listed = set(comparison.results["item-mean"].top["item_id"]) | set(
        comparison.results["student"].top["item_id"])
    assert set(comparison.scores["item_id"]) == listed
    assert in_top["item-mean"] == 10
    assert in_top["student"] == 10
    ranks = comparison.results["global-mean"].top["rank"].tolist()
    assert ranks == list(range(1, 11))


class Scored:
    """An adaptation stand-in whose top_k returns fixed scores."""

    def __init__(self, scores):
        self.scores = np.asarray(scores, dtype=float)

    def top_k(self, k):
        listed = self.scores[:k]
        return pd.DataFrame({"item_id": np.arange(len(listed)), "title": None,
                             "score": listed})


def test_ranked_top_ties():
    from metarec.ui.compare import ranked_top

    scale = (1.0, 5.0)
    top, tied = ranked_top(Scored([3.5] * 4), 3, scale)
    assert tied
    assert top["rank"].tolist() == [1, 2, 3]
    # Different scores capped at either end of the scale are not ties.
    assert not ranked_top(Scored([5.0] * 4), 3, scale)[1]
    assert not ranked_top(Scored([1.0] * 4), 3, scale)[1]
    # Ranking scores have no cap.
    assert ranked_top(Scored([7.0] * 4), 3, None)[1]
    # A list tied within, but above the first title left out.
    assert not ranked_top(Scored([4.0, 4.0, 4.0, 3.9]), 3, scale)[1]
    # Nothing left out: the catalogue is the list.
    assert not ranked_top(Scored([3.5] * 3), 3, scale)[1]


def test_session_step_reports_ties(recommender, sample_dataset):
    from metarec.ui.session import run_step, session_plan, session_tasks

    tasks = session_tasks(recommender, sample_dataset)
    user = next(iter(tasks))
    plan = session_plan(tasks[user], sample_dataset)
    assert run_step(recommender, plan, 2, "global-mean").all_tied
    assert not run_step(recommender, plan, 2, "student").all_tied


def test_new_user_tied_list_note(app_env):
    from metarec.ui.views import ALL_TIED_NOTE

    app = open_page("pages/1_New_user.py", RUN_TIMEOUT, "new_user.ratings",
                    {1: 5.0, 2: 4.0})
    app.multiselect(key="new_user.variants").set_value(["global-mean", "student"]).run()
    app.toggle(key="new_user.scores_chart").set_value(True).run()
    assert not app.exception, [e.value for e in app.exception]
    notes = captions(app)
    assert notes.count(ALL_TIED_NOTE) == 1
    assert ("global-mean scores the titles of its top list exactly as others left out, "
            "so such a list is an arbitrary pick: the chart leaves out its titles and "
            "draws its dots open.") in notes


def test_tied_dots_note_plural():
    from metarec.ui.compare import VariantResult
    from metarec.ui.views import all_tied_dots_note

    top = pd.DataFrame({"rank": [1], "item_id": [1], "title": ["A"], "score": [3.0]})
    results = {name: VariantResult(name, top, [], 0.0, {}, all_tied=True)
               for name in ("global-mean", "flat")}
    results["ranker"] = VariantResult("ranker", top, [], 0.0, {}, is_ranker=True,
                                      all_tied=True)
    assert all_tied_dots_note(results) == (
        "global-mean, flat score the titles of their top lists exactly as others left "
        "out, so such a list is an arbitrary pick: the chart leaves out their titles and "
        "draws their dots open.")
    assert all_tied_dots_note({"student": VariantResult("student", top, [], 0.0, {})}) is None


# The "unknown" genre ---------------------------------------------------------------------

def test_unknown_genre_last_explained(app_env, monkeypatch, tiny_item_models):
    from metarec.ui.item_controls import genre_label

    assert genre_label("unknown") == "unknown (the data's mark for items with no genre)"
    assert genre_label("Drama") == "Drama"

    monkeypatch.setenv("METAREC_ITEM_MODELS_DIR", str(tiny_item_models))
    app = open_page(NEW_ITEM, RUN_TIMEOUT)
    assert not app.exception, [e.value for e in app.exception]
    genres = app.multiselect(key="new_item.genres")
    # The sample lists ML-100K's genres, "unknown" first among them.
    assert genres.options[-1] == "unknown (the data's mark for items with no genre)"
    assert "unknown" not in genres.options
    genres.set_value(["unknown"]).run()
    assert app.multiselect(key="new_item.genres").value == ["unknown"]
