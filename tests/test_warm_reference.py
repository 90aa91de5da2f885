"""The warm-reference benchmark: which ratings it scores, and how it averages them."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from benchmark_helpers import load_script

from metarec.tasks import ALL
from metarec.tasks.episodes import make_tasks
from metarec.tasks.scenarios import make_scenario


@pytest.fixture(scope="module")
def script():
    return load_script("run_warm_reference")


class ConstantALS:
    """Stands in for ALS: predicts 3 for everyone, so every error is computable."""

    def __init__(self, random_state=None):
        pass

    def fit(self, ratings):
        self.user_ids_ = np.sort(ratings["user_id"].unique())
        self.user_biases_ = np.zeros(len(self.user_ids_))
        self.user_factors_ = np.zeros((len(self.user_ids_), 2))
        self.fitted_on = ratings
        return self

    def predict(self, support_items, support_ratings, item_ids):
        return np.full(len(item_ids), 3.0)

    def predict_folded(self, user, item_ids):
        return np.full(len(item_ids), 3.0)


def test_warm_split_per_user_average(script, sample_dataset, monkeypatch):
    monkeypatch.setattr(script, "ALSMatrixFactorization", ConstantALS)
    # Ratings out of user order, so that errors gathered user by user must be realigned.
    ratings = sample_dataset.ratings.sample(frac=1.0, random_state=0)
    result = script.warm_split_errors(SimpleNamespace(ratings=ratings), seed=4)

    held_out = np.random.default_rng(4).random(len(ratings)) < script.TEST_SHARE
    test = ratings[held_out]
    errors = (test["rating"] - 3.0).abs()
    counts = ratings.groupby("user_id").size()
    in_range = test["user_id"].map(counts).between(13, 100)
    assert result["mae"] == pytest.approx(errors.mean())
    assert result["rmse"] == pytest.approx(np.sqrt((errors ** 2).mean()))
    assert result["mae_in_range"] == pytest.approx(errors[in_range].mean())
    per_user = errors[in_range].groupby(test["user_id"][in_range]).mean()
    assert result["mae_in_range_per_user"] == pytest.approx(per_user.mean())
    assert result["users_in_range"] == len(per_user)
    # Per-user averaging weighs users equally, so it differs from the per-rating mean.
    assert result["mae_in_range_per_user"] != pytest.approx(result["mae_in_range"], abs=1e-6)


def test_warm_model_fitted_on_supports(script, sample_dataset, monkeypatch):
    fitted = []

    class Recording(ConstantALS):
        def fit(self, ratings):
            fitted.append(ratings)
            return super().fit(ratings)

    monkeypatch.setattr(script, "ALSMatrixFactorization", Recording)
    result = script.new_user_errors(sample_dataset, seed=1)

    split = make_scenario(sample_dataset, "new-user", seed=1)
    tasks = make_tasks(split.held_out_ratings(sample_dataset.ratings, "test"),
                       split.users.test, ALL, seed=1)
    expected = np.mean([np.abs(t.query_ratings - 3.0).mean() for t in tasks])
    assert result["users"] == len(tasks)
    assert result["cold"] == pytest.approx(expected)
    assert result["warm"] == pytest.approx(expected)

    cold, warm = fitted
    assert set(cold["user_id"]) <= set(split.users.train)
    # The warm model is fitted on the test users' supports, and never on a query rating.
    added = warm.iloc[len(cold):]
    supports = {(t.user_id, i) for t in tasks for i in t.support_items}
    queries = {(t.user_id, i) for t in tasks for i in t.query_items}
    pairs = set(zip(added["user_id"], added["item_id"]))
    assert pairs == supports
    assert not pairs & queries


def test_predict_known_unknown_user(script):
    model = ConstantALS().fit(pd.DataFrame({"user_id": [1, 5], "item_id": [1, 1],
                                            "rating": [4.0, 2.0]}))
    assert script.predict_known(model, 5, [1, 2]).tolist() == [3.0, 3.0]
    for user in (3, 9):
        with pytest.raises(ValueError, match=f"user {user} was not found among"):
            script.predict_known(model, user, [1])


def test_real_als_beats_constant(script, sample_dataset):
    result = script.warm_split_errors(sample_dataset, seed=0)
    ratings = sample_dataset.ratings["rating"]
    assert result["mae"] < (ratings - ratings.median()).abs().mean() - 0.05


def test_report_one_seed_no_interval(script, sample_dataset):
    warm = {"mae": 0.72, "rmse": 0.93, "mae_in_range": 0.75, "mae_in_range_per_user": 0.77,
            "test_ratings": 20000, "users_in_range": 580}
    text = script.report("cmd", sample_dataset, [0], [warm], [{"cold": 0.768, "warm": 0.772,
                                                               "users": 115}])
    assert "±" not in text
    assert "| every test rating (the usual figure) | 0.720 | 0.930 |" in text
    assert "raises MAE by 0.050 over the usual figure" in text
    assert "Folded in minus refitted: -0.004." in text
