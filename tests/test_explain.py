"""Tests for the leave-ratings-out explanations of metarec.ui.explain."""

import numpy as np
import pandas as pd
import pytest

from metarec.data import Dataset
from metarec.serving.recommender import Adaptation
from metarec.ui.explain import Explanation, explain_items, explanation_table, item_statistics

TOLERANCE = 1e-9
# Item id: genres. Items 1 to 3 are rated in the tests, 10 and 11 are explained.
GENRES = {1: ("Sci-Fi",), 2: ("Sci-Fi", "Drama"), 3: ("Romance",), 10: ("Sci-Fi",),
          11: ("Romance",)}
# Linear model: score(item) = BASE[item] + sum over rated j of WEIGHTS[item][j] * rating_j.
BASE = {10: 3.0, 11: 3.5}
WEIGHTS = {10: {1: 0.2, 2: 0.1, 3: -0.05}, 11: {1: -0.1, 2: 0.0, 3: 0.3}}


class LinearRecommender:
    """A stand-in whose adaptation is linear in the ratings, so every effect is known."""

    rating_scale = (1.0, 5.0)

    def __init__(self):
        self.calls = []

    def is_ranker(self, variant):
        return False

    def checked_item_ids(self, item_ids, action=None):
        return np.asarray(item_ids, dtype=np.int64)

    def adapt(self, ratings, variant, user=None):
        self.calls.append(dict(ratings))

        def score(item_ids):
            return np.array([BASE.get(int(i), 0.0) + sum(
                WEIGHTS.get(int(i), {}).get(j, 0.0) * r for j, r in ratings.items())
                for i in item_ids])

        return Adaptation(variant, [], 0.0, score, self, dict(ratings))


@pytest.fixture
def tiny_dataset():
    items = pd.DataFrame({"item_id": list(GENRES), "title": [f"Movie {i}" for i in GENRES],
                          "year": 1995.0, "genres": list(GENRES.values())})
    # Item 10 is rated 4 and 2 by two other users, item 11 is rated once.
    ratings = pd.DataFrame({"user_id": [7, 8, 7], "item_id": [10, 10, 11],
                            "rating": [4.0, 2.0, 5.0], "timestamp": 0})
    users = pd.DataFrame({"user_id": [7, 8], "age": 30, "gender": "F",
                          "occupation": "other", "zip_code": "1"})
    return Dataset("tiny", ratings, items, users, ("Drama", "Romance", "Sci-Fi"), ("other",))


def test_rated_effects_match_linear_weights(tiny_dataset):
    ratings = {1: 5.0, 2: 4.0, 3: 1.0}
    explanation = explain_items(LinearRecommender(), tiny_dataset, ratings, "linear", [10, 11])

    rated = explanation.rated.set_index(["item_id", "rated_item_id"])["effect"]
    for item, weights in WEIGHTS.items():
        for rated_item, rating in ratings.items():
            expected = weights.get(rated_item, 0.0) * rating
            assert abs(rated[(item, rated_item)] - expected) < TOLERANCE


def test_genre_effects_remove_every_rating_of_genre(tiny_dataset):
    ratings = {1: 5.0, 2: 4.0, 3: 1.0}
    explanation = explain_items(LinearRecommender(), tiny_dataset, ratings, "linear", [10, 11])

    genres = explanation.genres.set_index(["item_id", "genre"])
    # Sci-Fi covers items 1 and 2, Drama item 2 only, Romance item 3.
    assert abs(genres.loc[(10, "Sci-Fi"), "effect"] - (0.2 * 5 + 0.1 * 4)) < TOLERANCE
    assert abs(genres.loc[(10, "Drama"), "effect"] - 0.1 * 4) < TOLERANCE
    assert abs(genres.loc[(11, "Romance"), "effect"] - 0.3 * 1) < TOLERANCE
    assert genres.loc[(10, "Sci-Fi"), "rated_items"] == 2
    assert list(explanation.genres["genre"].unique()) == ["Drama", "Romance", "Sci-Fi"]


def test_linear_effects_add_up_to_change(tiny_dataset):
    ratings = {1: 5.0, 2: 4.0, 3: 1.0}
    recommender = LinearRecommender()
    explanation = explain_items(recommender, tiny_dataset, ratings, "linear", [10, 11])

    items = explanation.items.set_index("item_id")
    assert abs(items.loc[10, "start_score"] - BASE[10]) < TOLERANCE
    assert np.allclose(items["change"], items["score"] - items["start_score"])
    assert np.allclose(items["single_effects_sum"], items["change"])
    # Full, empty, one per rating and one per genre (Drama, Romance, Sci-Fi).
    assert explanation.adaptations == 2 + 3 + 3
    assert len(recommender.calls) == explanation.adaptations


def test_item_mean_from_dataset(tiny_dataset):
    explanation = explain_items(LinearRecommender(), tiny_dataset, {1: 5.0}, "linear",
                                [10, 11, 1])

    items = explanation.items.set_index("item_id")
    assert items.loc[10, "item_mean"] == 3.0
    assert items.loc[10, "item_ratings"] == 2
    assert items.loc[11, "item_ratings"] == 1
    assert np.isnan(items.loc[1, "item_mean"])
    assert items.loc[1, "item_ratings"] == 0
    assert item_statistics(tiny_dataset).loc[11, "mean"] == 5.0


def test_drivers_sorted_by_strength(tiny_dataset):
    ratings = {1: 5.0, 2: 4.0, 3: 1.0}
    explanation = explain_items(LinearRecommender(), tiny_dataset, ratings, "linear", [10])
    up, down = explanation.drivers(10)

    assert up["rated_item_id"].tolist() == [1, 2]
    assert down["rated_item_id"].tolist() == [3]


def test_table_names_drivers_and_mean(tiny_dataset):
    ratings = {1: 5.0, 2: 4.0, 3: 1.0}
    explanation = explain_items(LinearRecommender(), tiny_dataset, ratings, "linear", [10])
    row = explanation_table(explanation).iloc[0]

    assert row["title"] == "Movie 10"
    assert row["item mean"] == "3.00 (2 ratings)"
    assert row["pushed up by"] == "Movie 1 (5★) +1.00, Movie 2 (4★) +0.40"
    assert row["pulled down by"] == "Movie 3 (1★) -0.05"
    assert row["your genres"] == "Sci-Fi +1.40, Drama +0.40"


def test_empty_ratings_raise(tiny_dataset):
    with pytest.raises(ValueError, match="rate at least one item"):
        explain_items(LinearRecommender(), tiny_dataset, {}, "linear", [10])


def test_user_bias_effect_is_bias_change(tiny_models, sample_dataset):
    from metarec.serving.recommender import Recommender

    recommender = Recommender.load(tiny_models, sample_dataset)
    ratings = {1: 5.0, 2: 4.0, 3: 1.0}
    top = recommender.adapt(ratings, "user-bias").top_k(5)["item_id"].tolist()
    explanation = explain_items(recommender, sample_dataset, ratings, "user-bias", top)

    # The baseline predicts item mean + the user's bias, so leaving a rating out moves
    # every item by the change of the bias (while no prediction reaches the clip bounds).
    baseline = recommender.classical["user-bias"]
    full_bias = baseline.user_bias(np.array(list(ratings)), np.array(list(ratings.values())))
    for rated_item in ratings:
        rest = {i: r for i, r in ratings.items() if i != rated_item}
        bias = baseline.user_bias(np.array(list(rest)), np.array(list(rest.values())))
        effects = explanation.rated.loc[explanation.rated["rated_item_id"] == rated_item,
                                        "effect"]
        assert np.allclose(effects, full_bias - bias, atol=1e-6)


def test_networks_and_ensemble_explained(tiny_models, sample_dataset):
    from metarec.serving.recommender import Recommender

    recommender = Recommender.load(tiny_models, sample_dataset)
    ratings = {1: 5.0, 2: 4.0, 3: 1.0, 4: 2.0}
    for variant in ("teacher", "student", "ensemble"):
        adaptation = recommender.adapt(ratings, variant)
        top = adaptation.top_k(10)
        explanation = explain_items(recommender, sample_dataset, ratings, variant,
                                    top["item_id"])

        scores = explanation.items["score"].clip(*recommender.rating_scale)
        assert np.allclose(scores, top["score"], atol=1e-5), variant
        assert len(explanation.rated) == 10 * len(ratings)
        assert np.isfinite(explanation.rated["effect"]).all()
        assert np.isfinite(explanation.genres["effect"]).all()


def uniform_case(effects_by_item):
    """An Explanation whose rated item 7 has the given effect on each explained item."""
    items = pd.DataFrame({"item_id": list(effects_by_item)})
    rated = pd.DataFrame({"item_id": list(effects_by_item), "rated_item_id": 7,
                          "rated_title": "x", "rating": 5.0,
                          "effect": list(effects_by_item.values())})
    return Explanation("teacher", False, items, rated, pd.DataFrame(), 1, 0.0)


def test_uniform_effects_are_detected():
    from metarec.ui.views import _effects_are_uniform

    assert _effects_are_uniform(uniform_case({1: 0.21, 2: 0.215, 3: 0.208}))
    assert not _effects_are_uniform(uniform_case({1: 0.21, 2: -0.05, 3: 0.3}))
    # One explained item gives nothing to compare.
    assert not _effects_are_uniform(uniform_case({1: 0.21}))
