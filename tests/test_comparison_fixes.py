"""Tests of Model comparison results per data set, results headers, explanations of
rating-free variants and the Dynamic session's ensemble timing."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from metarec.cli import MODELS_DIR_ENV, SAMPLE_DIR
from metarec.data import DATA_DIR_ENV
from metarec.ui.results import EvaluationResults, read_results
from page_helpers import click, open_page

COMPARISON = "pages/4_Model_comparison.py"
SESSION = "pages/3_Dynamic_session.py"
RUN_TIMEOUT = 60
RATING_FREE = ["random", "popularity", "global-mean", "item-mean"]


@pytest.fixture(scope="module")
def recommender(tiny_models, sample_dataset):
    from metarec.serving.recommender import Recommender

    return Recommender.load(tiny_models, sample_dataset)


@pytest.fixture
def app_env(tiny_models, monkeypatch):
    monkeypatch.setenv(MODELS_DIR_ENV, str(tiny_models))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    return tiny_models


def captions(app) -> list[str]:
    return [caption.value for caption in app.caption]


def results_rows(counts: dict) -> pd.DataFrame:
    """Rows of ``evaluate --out``: two variants scored on ``counts[shots]`` users."""
    return pd.DataFrame([{"split_seed": 0, "variant": variant, "shots": shots,
                          "users": users, "mae": 0.8, "ndcg@3": 0.9}
                         for shots, users in counts.items()
                         for variant in ("user-bias", "popularity")])


# Results kept per data set ---------------------------------------------------------------

def choose_data(app, folder=None):
    """Choose the bundled sample, or the MovieLens-100K ``folder``, in the sidebar."""
    from metarec.ui.state import DATA_FOLDER_KEY, DATA_SOURCE_KEY, FOLDER, SAMPLE

    app.session_state[DATA_SOURCE_KEY] = SAMPLE if folder is None else FOLDER
    if folder is not None:
        app.session_state[DATA_FOLDER_KEY] = str(folder)
    return app.run()


def test_run_results_stay_with_their_data(app_env, tmp_path):
    # The same ratings under another folder name: the models load for it too, so only
    # keeping runs per data set hides the sample's run.
    copy = tmp_path / "sample-copy"
    shutil.copytree(SAMPLE_DIR, copy)
    app = open_page(COMPARISON, RUN_TIMEOUT)
    app.radio(key="comparison.source").set_value("Run an evaluation here").run()
    app.multiselect(key="comparison.shots").set_value(["5"]).run()
    app.multiselect(key="comparison.run_variants").set_value(
        ["user-bias", "popularity"]).run()
    app = click(app, "Run evaluation")
    assert not app.exception, [e.value for e in app.exception]
    assert any(text.startswith("Results on dataset 'sample_data'") for text in captions(app))

    app = choose_data(app, copy)
    assert not app.exception, [e.value for e in app.exception]
    assert not any(text.startswith("Results on") for text in captions(app)), captions(app)
    assert not any("used too" in text for text in captions(app)), captions(app)
    assert any("come back when you choose that data" in text for text in captions(app))

    app = choose_data(app)
    assert any(text.startswith("Results on dataset 'sample_data'") for text in captions(app))
    assert any("which the evaluation above used too" in text for text in captions(app))


def test_other_data_file_not_plotted(app_env, tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({
        "dataset": "ratings", "fingerprint": "0" * 64, "scenario": "new-user",
        "users": "test", "models": ["elsewhere"],
        "results": results_rows({"1": 40, "5": 40}).to_dict(orient="records")}))
    app = open_page(COMPARISON, RUN_TIMEOUT)
    app.file_uploader(key="comparison.file").set_value(
        (path.name, path.read_bytes(), "application/json")).run()

    assert not app.exception, [e.value for e in app.exception]
    assert any("These results are for 'ratings'" in w.value for w in app.warning)
    assert any(info.value.startswith("Not drawn: the results are for 'ratings'")
               for info in app.info), [info.value for info in app.info]
    assert not any(text.startswith("The costs come from") for text in captions(app))


def test_other_data_by_fingerprint(sample_dataset):
    from metarec.ui.results_view import other_data_label

    rows = results_rows({"5": 40})
    same = EvaluationResults(rows, {"dataset": "sample_data",
                                    "fingerprint": sample_dataset.fingerprint()})
    edited = EvaluationResults(rows, {"dataset": "sample_data", "fingerprint": "0" * 64})
    named = EvaluationResults(rows, {"dataset": "ml-100k"})

    assert other_data_label(same, sample_dataset) is None
    assert other_data_label(edited, sample_dataset) == "another version of 'sample_data'"
    assert other_data_label(named, sample_dataset) == "'ml-100k'"
    assert other_data_label(EvaluationResults(rows), sample_dataset) is None


def test_costs_note_names_other_run(sample_dataset, tiny_models, monkeypatch):
    from metarec.ui.results_view import measured_models_note

    monkeypatch.setenv(MODELS_DIR_ENV, str(tiny_models))
    timings = pd.DataFrame({"variant": ["user-bias"], "shots": ["5"], "users": [40],
                            "seconds": [0.1]})
    other = EvaluationResults(results_rows({"5": 40}),
                              {"dataset": "ratings", "fingerprint": "0" * 64,
                               "models": ["elsewhere"]}, timings)
    same = EvaluationResults(results_rows({"5": 40}),
                             {"dataset": "sample_data",
                              "fingerprint": sample_dataset.fingerprint(),
                              "models": [str(tiny_models)]}, timings)

    note = measured_models_note(sample_dataset, other, "The costs")
    assert "used too" not in note
    assert "The evaluation above used 'elsewhere' on 'ratings'" in note
    assert measured_models_note(sample_dataset, same, "The costs").endswith(
        "which the evaluation above used too.")


# Results headers -------------------------------------------------------------------------

def test_csv_header_says_what_it_records():
    from metarec.ui.results_view import source_sentence

    data = results_rows({"0": 119, "5": 119}).to_csv(index=False).encode()
    sentence = source_sentence(read_results(data, "run.csv"))

    assert sentence.startswith("Results on users scored per support size (K=0: 119, "
                               "K=5: 119), 1 models folder (one per split seed).")
    assert "does not record the data set or the scenario" in sentence


def test_json_header_names_data():
    from metarec.ui.results_view import source_sentence

    document = {"dataset": "ml-100k", "scenario": "new-user", "users": "test",
                "results": results_rows({"1": 119}).to_dict(orient="records")}
    sentence = source_sentence(read_results(json.dumps(document).encode(), "run.json"))

    assert sentence == ("Results on dataset 'ml-100k', scenario new-user, test users per "
                        "support size (K=1: 119), 1 models folder (one per split seed).")


def test_json_header_gives_user_range_over_seeds():
    from metarec.ui.results_view import source_sentence

    seed_0 = results_rows({"1": 79, "5": 79})
    seed_1 = results_rows({"1": 86, "5": 84}).assign(split_seed=1)
    document = {"dataset": "sample_data", "scenario": "new-user", "users": "test",
                "results": pd.concat([seed_0, seed_1]).to_dict(orient="records")}
    sentence = source_sentence(read_results(json.dumps(document).encode(), "run.json"))

    assert sentence == ("Results on dataset 'sample_data', scenario new-user, test users "
                        "per support size (K=1: 79 to 86, K=5: 79 to 84), 2 models folders "
                        "(one per split seed).")


# Small samples ---------------------------------------------------------------------------

def test_few_users_warned():
    from metarec.ui.results import MIN_RELIABLE_USERS
    from metarec.ui.results_view import unreliable_note

    note = unreliable_note({"1": 119, "5": 1, "all": 2}, "users")
    assert note.startswith(f"Scored on fewer than {MIN_RELIABLE_USERS} users: K=5 on 1, "
                           "K=all on 2.")
    assert "not reliable" in note
    assert unreliable_note({"1": 119, "5": MIN_RELIABLE_USERS}, "users") == ""


def test_few_users_warning_on_page(app_env, tmp_path):
    path = tmp_path / "few.csv"
    results_rows({"5": 1, "all": 2}).to_csv(path, index=False)
    app = open_page(COMPARISON, RUN_TIMEOUT)
    app.file_uploader(key="comparison.file").set_value(
        (path.name, path.read_bytes(), "text/csv")).run()

    assert not app.exception, [e.value for e in app.exception]
    assert any("K=5 on 1, K=all on 2" in w.value for w in app.warning), \
        [w.value for w in app.warning]


# Explanations of variants that ignore the ratings ----------------------------------------

@pytest.fixture(scope="module")
def ratings(sample_dataset):
    """Five ratings of one sample user, with different stars."""
    rows = sample_dataset.ratings[sample_dataset.ratings["user_id"] == 1].head(5)
    return dict(zip(rows["item_id"].astype(int), rows["rating"].astype(float)))


@pytest.mark.parametrize("variant", RATING_FREE)
def test_rating_free_variant_has_no_effects(recommender, sample_dataset, ratings, variant):
    from metarec.ui.explain import explain_items

    top = recommender.adapt(ratings, variant).top_k(10)
    explanation = explain_items(recommender, sample_dataset, ratings, variant,
                                top["item_id"].tolist())

    assert np.allclose(explanation.items["score"], top["score"])
    assert explanation.rated.empty
    assert explanation.genres.empty
    assert (explanation.items["change"] == 0).all()
    assert explanation.note.startswith(f"{variant} ")
    assert "no rating or genre effects" in explanation.note


def test_rating_variant_keeps_effects(recommender, sample_dataset, ratings):
    from metarec.ui.explain import explain_items

    top = recommender.adapt(ratings, "user-bias").top_k(5)
    explanation = explain_items(recommender, sample_dataset, ratings, "user-bias",
                                top["item_id"].tolist())

    assert explanation.note == ""
    assert len(explanation.rated) == len(ratings) * len(top)


# Dynamic session -------------------------------------------------------------------------

def test_session_ensemble_time_worded(app_env):
    app = open_page(SESSION, RUN_TIMEOUT)
    app.multiselect(key="session.variants").set_value(["ensemble", "user-bias"]).run()
    app = click(app, "Reveal next rating")

    assert not app.exception, [e.value for e in app.exception]
    timings = [text for text in captions(app) if text.startswith("adapted in")]
    assert len(timings) == 2, captions(app)
    assert sum("the sum of its members' adaptations" in text for text in timings) == 1


def test_session_mae_chart_names_left_out(app_env):
    app = open_page(SESSION, RUN_TIMEOUT)
    app.multiselect(key="session.variants").set_value(["user-bias", "student-like"]).run()
    app = click(app, "Reveal next rating")

    assert not app.exception, [e.value for e in app.exception]
    note = "Left out of this chart, because their scores are not ratings: student-like ("
    assert sum(text.startswith(note) for text in captions(app)) == 1, captions(app)

    app.selectbox(key="session.metric").set_value("auc").run()
    assert not any(text.startswith(note) for text in captions(app)), captions(app)


def test_session_mae_chart_without_rankers_has_no_note(app_env):
    app = open_page(SESSION, RUN_TIMEOUT)
    app.multiselect(key="session.variants").set_value(["user-bias"]).run()

    assert not app.exception, [e.value for e in app.exception]
    assert not any("Left out of this chart" in text for text in captions(app))
