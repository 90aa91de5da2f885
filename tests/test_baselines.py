import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from metarec.evaluation.metrics import mae, rmse
from metarec.models.baselines import (
    ALSMatrixFactorization,
    GlobalMean,
    ItemMean,
    PopularityRanker,
    RandomRanker,
    UserBiasBaseline,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
ML100K_DIR = Path(
    os.environ.get("METAREC_ML100K_DIR", REPO_ROOT.parent / "shared" / "data" / "ml-100k")
)
UNKNOWN_ITEM = 99
EXACT = 1e-12

ALL_MODELS = [
    GlobalMean,
    ItemMean,
    UserBiasBaseline,
    lambda: ALSMatrixFactorization(n_factors=2, n_iterations=5, random_state=0),
    PopularityRanker,
    lambda: RandomRanker(random_state=0),
]
MODEL_IDS = ["global", "item", "user_bias", "als", "popularity", "random"]


@pytest.fixture
def tiny_ratings():
    """Six ratings whose statistics are worked out by hand in the tests.

    Global mean 21 / 6 = 3.5. Item 10: ratings 5, 4, 3 (sum 12, n 3); item 20:
    2, 2 (sum 4, n 2); item 30: 5 (sum 5, n 1).
    """
    return pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2, 3, 3],
            "item_id": [10, 20, 10, 20, 10, 30],
            "rating": [5.0, 2.0, 4.0, 2.0, 3.0, 5.0],
        }
    )


def planted_low_rank(n_users=60, n_items=40, rank=2, density=0.8, seed=0):
    """Return ratings ``3 + b_u + b_i + p_u · q_i`` at random cells, and the full matrix."""
    rng = np.random.default_rng(seed)
    user_factors = rng.normal(0.0, 0.8, size=(n_users, rank))
    item_factors = rng.normal(0.0, 0.8, size=(n_items, rank))
    user_biases = rng.normal(0.0, 0.3, size=n_users)
    item_biases = rng.normal(0.0, 0.3, size=n_items)
    full = 3.0 + user_biases[:, None] + item_biases[None, :] + user_factors @ item_factors.T

    users, items = np.nonzero(rng.random((n_users, n_items)) < density)
    ratings = pd.DataFrame(
        {"user_id": users, "item_id": items, "rating": full[users, items]}
    )
    return ratings, full


def test_global_mean_predicts_mean(tiny_ratings):
    model = GlobalMean().fit(tiny_ratings)
    np.testing.assert_allclose(model.predict([10], [1.0], [10, UNKNOWN_ITEM]), [3.5, 3.5])


def test_item_mean_shrinks_toward_global(tiny_ratings):
    model = ItemMean(beta=1.0).fit(tiny_ratings)
    # item 10: (12 + 1*3.5) / (3 + 1) = 3.875; item 20: (4 + 3.5) / 3 = 2.5
    # item 30: (5 + 3.5) / 2 = 4.25; unknown item: global mean 3.5
    predictions = model.predict([], [], [10, 20, 30, UNKNOWN_ITEM])
    np.testing.assert_allclose(predictions, [3.875, 2.5, 4.25, 3.5], atol=EXACT)


def test_item_mean_without_shrinkage_is_raw(tiny_ratings):
    model = ItemMean(beta=0.0).fit(tiny_ratings)
    np.testing.assert_allclose(model.predict([], [], [10, 20, 30]), [4.0, 2.0, 5.0])


def test_user_bias_hand_computed(tiny_ratings):
    model = UserBiasBaseline(beta=1.0, user_shrinkage=2.0).fit(tiny_ratings)
    # residuals 5 - 3.875 = 1.125 and 3 - 2.5 = 0.5, b_u = 1.625 / (2 + 2) = 0.40625
    assert model.user_bias([10, 20], [5.0, 3.0]) == pytest.approx(0.40625, abs=EXACT)
    # item 30: 4.25 + 0.40625; unknown item: 3.5 + 0.40625
    predictions = model.predict([10, 20], [5.0, 3.0], [30, UNKNOWN_ITEM])
    np.testing.assert_allclose(predictions, [4.65625, 3.90625], atol=EXACT)


def test_user_bias_shrinkage_pulls_to_zero(tiny_ratings):
    # one support rating 5 on item 20 (shrunk mean 2.5): raw residual 2.5
    biases = [
        UserBiasBaseline(beta=1.0, user_shrinkage=shrinkage)
        .fit(tiny_ratings)
        .user_bias([20], [5.0])
        for shrinkage in (0.0, 1.0, 4.0)
    ]
    # 2.5 / (1 + 0), 2.5 / (1 + 1), 2.5 / (1 + 4)
    np.testing.assert_allclose(biases, [2.5, 1.25, 0.5], atol=EXACT)


def test_user_bias_unknown_support_item(tiny_ratings):
    model = UserBiasBaseline(beta=1.0, user_shrinkage=2.0).fit(tiny_ratings)
    # residual against the global mean: (5 - 3.5) / (1 + 2) = 0.5
    assert model.user_bias([UNKNOWN_ITEM], [5.0]) == pytest.approx(0.5, abs=EXACT)


def test_user_bias_empty_support_is_item_mean(tiny_ratings):
    model = UserBiasBaseline(beta=1.0).fit(tiny_ratings)
    item_mean = ItemMean(beta=1.0).fit(tiny_ratings)
    np.testing.assert_allclose(
        model.predict([], [], [10, 20, 30]), item_mean.predict([], [], [10, 20, 30])
    )


def test_user_bias_clips_to_rating_range(tiny_ratings):
    model = UserBiasBaseline(beta=1.0, user_shrinkage=0.0).fit(tiny_ratings)
    # b_u = 5 - 2.5 = 2.5, so item 30 would get 4.25 + 2.5 = 6.75 > 5, the training maximum
    assert model.predict([20], [5.0], [30])[0] == 5.0


def test_popularity_counts_ratings(tiny_ratings):
    model = PopularityRanker().fit(tiny_ratings)
    np.testing.assert_array_equal(
        model.predict([], [], [10, 20, 30, UNKNOWN_ITEM]), [3.0, 2.0, 1.0, 0.0]
    )


def test_random_ranker_seeded(tiny_ratings):
    first = RandomRanker(random_state=7).fit(tiny_ratings).predict([], [], [10, 20, 30])
    second = RandomRanker(random_state=7).fit(tiny_ratings).predict([], [], [10, 20, 30])
    np.testing.assert_array_equal(first, second)
    assert np.all((first >= 0.0) & (first < 1.0))


def test_random_ranker_keeps_its_state(tiny_ratings):
    model = RandomRanker(random_state=7).fit(tiny_ratings)
    state = model.get_state()
    first = model.predict([10], [4.0], [20, 30])
    other = model.predict([20], [2.0], [20, 30])
    # Calls in between do not shift the scores, and another support draws other scores.
    np.testing.assert_array_equal(model.predict([10], [4.0], [20, 30]), first)
    assert not np.array_equal(first, other)
    assert model.get_state().keys() == state.keys()
    assert all(np.array_equal(model.get_state()[k], state[k]) for k in state)


def test_random_ranker_reads_old_saves(tiny_ratings):
    old = {"model": np.array("RandomRanker"), "random_state": 3,
           "rng_": np.array([0, 12345, 0, 1, 0, 0], dtype=np.uint64)}
    model = RandomRanker.from_state(old)
    assert model.seed_ == 12345
    assert model.predict([], [], [10, 20]).shape == (2,)


def test_als_recovers_planted_low_rank():
    ratings, _ = planted_low_rank()
    model = ALSMatrixFactorization(
        n_factors=2, reg=0.01, n_iterations=30, random_state=0
    ).fit(ratings)

    user_index = np.searchsorted(model.user_ids_, ratings["user_id"])
    item_index = np.searchsorted(model.item_ids_, ratings["item_id"])
    fitted = (
        model.global_mean_
        + model.user_biases_[user_index]
        + model.item_biases_[item_index]
        + np.sum(model.user_factors_[user_index] * model.item_factors_[item_index], axis=1)
    )
    assert rmse(ratings["rating"], fitted) < 0.05


def test_als_fold_in_beats_item_mean():
    ratings, full = planted_low_rank()
    held_out = ratings["user_id"] >= 50
    training = ratings[~held_out]
    als = ALSMatrixFactorization(n_factors=2, reg=0.01, n_iterations=30, random_state=0)
    als.fit(training)
    item_mean = ItemMean(beta=0.0).fit(training)

    rng = np.random.default_rng(1)
    als_errors, item_mean_errors = [], []
    for user in range(50, 60):
        items = rng.permutation(full.shape[1])
        support, query = items[:15], items[15:]
        truth = full[user, query]
        als_errors.append(mae(truth, als.predict(support, full[user, support], query)))
        item_mean_predictions = item_mean.predict(support, full[user, support], query)
        item_mean_errors.append(mae(truth, item_mean_predictions))

    assert np.mean(als_errors) < 0.5 * np.mean(item_mean_errors)


def test_als_fold_in_without_support_uses_item_biases():
    ratings, _ = planted_low_rank()
    model = ALSMatrixFactorization(n_factors=2, reg=0.01, random_state=0).fit(ratings)
    expected = np.clip(
        model.global_mean_ + model.item_biases_[:3], model.rating_min_, model.rating_max_
    )
    np.testing.assert_allclose(model.predict([], [], model.item_ids_[:3]), expected)


def test_als_unknown_item_gets_mean_plus_bias():
    ratings, _ = planted_low_rank()
    model = ALSMatrixFactorization(n_factors=2, random_state=0).fit(ratings)
    user_bias, _ = model.fold_in([0, 1, 2], [5.0, 5.0, 5.0])
    prediction = model.predict([0, 1, 2], [5.0, 5.0, 5.0], [10_000])
    assert prediction[0] == pytest.approx(model.global_mean_ + user_bias)


@pytest.mark.parametrize("make_model", ALL_MODELS, ids=MODEL_IDS)
def test_predict_before_fit_raises(make_model):
    with pytest.raises(NotFittedError, match=r"is not fitted yet; call fit\(ratings\)"):
        make_model().predict([10], [4.0], [20])


@pytest.mark.parametrize("make_model", ALL_MODELS, ids=MODEL_IDS)
def test_get_state_before_fit_raises(make_model):
    with pytest.raises(NotFittedError, match=r"is not fitted yet"):
        make_model().get_state()


@pytest.mark.parametrize("make_model", ALL_MODELS, ids=MODEL_IDS)
def test_state_round_trip_through_npz(make_model, tmp_path):
    ratings, _ = planted_low_rank(n_users=20, n_items=15)
    model = make_model().fit(ratings)
    path = tmp_path / "state.npz"
    np.savez(path, **model.get_state())
    with np.load(path, allow_pickle=False) as state:
        restored = type(model).from_state(state)

    support_items, support_ratings = np.array([0, 3, 7]), np.array([4.0, 2.5, 5.0])
    item_ids = np.array([1, 2, 5, 14, UNKNOWN_ITEM])
    np.testing.assert_array_equal(
        restored.predict(support_items, support_ratings, item_ids),
        model.predict(support_items, support_ratings, item_ids),
    )
    assert repr(restored) == repr(model)


def test_als_state_with_string_user_ids(tiny_ratings, tmp_path):
    tiny_ratings["user_id"] = tiny_ratings["user_id"].map({1: "ann", 2: "bob", 3: "cy"})
    model = ALSMatrixFactorization(n_factors=1, random_state=0).fit(tiny_ratings)
    path = tmp_path / "state.npz"
    np.savez(path, **model.get_state())
    with np.load(path, allow_pickle=False) as state:
        restored = ALSMatrixFactorization.from_state(state)
    assert restored.user_ids_.tolist() == ["ann", "bob", "cy"]


def test_from_state_rejects_other_class(tiny_ratings):
    state = ItemMean().fit(tiny_ratings).get_state()
    message = r"state was written by ItemMean.get_state, not GlobalMean.get_state"
    with pytest.raises(ValueError, match=message):
        GlobalMean.from_state(state)


def test_from_state_rejects_missing_attribute(tiny_ratings):
    state = ItemMean().fit(tiny_ratings).get_state()
    del state["item_means_"]
    with pytest.raises(ValueError, match=r"missing the learned attributes \['item_means_'\]"):
        ItemMean.from_state(state)


@pytest.mark.parametrize(
    "model, message",
    [
        (ItemMean(beta=-1.0), r"beta must be a number >= 0.0, got -1.0"),
        (
            UserBiasBaseline(user_shrinkage=-2),
            r"user_shrinkage must be a number >= 0.0, got -2",
        ),
        (ALSMatrixFactorization(reg=0.0), r"reg must be a number > 0.0, got 0.0"),
        (ALSMatrixFactorization(n_factors=0), r"n_factors must be an integer >= 1, got 0"),
        (
            ALSMatrixFactorization(n_iterations=2.5),
            r"n_iterations must be an integer >= 1, got 2.5",
        ),
        (
            ALSMatrixFactorization(random_state=np.random.default_rng(0)),
            r"random_state must be an integer seed or None, got Generator",
        ),
        (RandomRanker(random_state=1.5), r"random_state must be an integer seed or None"),
    ],
)
def test_fit_rejects_invalid_arguments(tiny_ratings, model, message):
    with pytest.raises(ValueError, match=message):
        model.fit(tiny_ratings)


def test_fit_rejects_missing_column(tiny_ratings):
    with pytest.raises(ValueError, match=r"ratings is missing the columns \['rating'\]"):
        GlobalMean().fit(tiny_ratings.drop(columns="rating"))


def test_fit_rejects_missing_user_id(tiny_ratings):
    tiny_ratings["user_id"] = tiny_ratings["user_id"].astype(float)
    tiny_ratings.loc[2, "user_id"] = np.nan
    with pytest.raises(ValueError, match=r"ratings\['user_id'\] has 1 missing values"):
        ALSMatrixFactorization().fit(tiny_ratings)


def test_fit_rejects_empty_frame(tiny_ratings):
    with pytest.raises(ValueError, match=r"ratings is empty"):
        ItemMean().fit(tiny_ratings.iloc[:0])


def test_fit_rejects_nan_rating(tiny_ratings):
    tiny_ratings.loc[0, "rating"] = np.nan
    with pytest.raises(ValueError, match=r"ratings\['rating'\] has 1 missing"):
        UserBiasBaseline().fit(tiny_ratings)


def test_predict_rejects_support_length_mismatch(tiny_ratings):
    model = UserBiasBaseline().fit(tiny_ratings)
    message = r"one rating per support item, got shape \(1,\) for 2 support items"
    with pytest.raises(ValueError, match=message):
        model.predict([10, 20], [4.0], [30])


def test_predict_rejects_float_item_ids(tiny_ratings):
    model = ItemMean().fit(tiny_ratings)
    message = r"item_ids must contain integer item ids, got dtype float64"
    with pytest.raises(ValueError, match=message):
        model.predict([], [], [10.0, 20.0])


def split_episodes(ratings, test_users, rng, n_query=10):
    """Return each test user's ratings shuffled and cut into (query, remaining) arrays."""
    episodes = []
    for _, user_ratings in ratings[ratings["user_id"].isin(test_users)].groupby("user_id"):
        order = rng.permutation(len(user_ratings))
        items = user_ratings["item_id"].to_numpy()[order]
        values = user_ratings["rating"].to_numpy()[order]
        episodes.append((items[:n_query], values[:n_query], items[n_query:], values[n_query:]))
    return episodes


@pytest.mark.movielens
def test_movielens_query_mae():
    if not ML100K_DIR.is_dir():
        pytest.skip(f"MovieLens-100K not found at {ML100K_DIR}; set METAREC_ML100K_DIR")
    from metarec.data import load_movielens_100k

    ratings = load_movielens_100k(ML100K_DIR).ratings
    rng = np.random.default_rng(0)
    users = rng.permutation(np.sort(ratings["user_id"].unique()))
    n_test = len(users) // 5
    test_users, train_users = users[:n_test], users[n_test:]
    training = ratings[ratings["user_id"].isin(train_users)]
    episodes = split_episodes(ratings, test_users, rng)

    models = {
        "GlobalMean": GlobalMean(),
        "ItemMean": ItemMean(),
        "UserBiasBaseline": UserBiasBaseline(),
        "ALSMatrixFactorization": ALSMatrixFactorization(random_state=0),
    }
    support_sizes = {"K=1": 1, "K=5": 5, "K=all": None}
    table = {}
    for name, model in models.items():
        model.fit(training)
        for label, size in support_sizes.items():
            errors = [
                mae(query_ratings, model.predict(items[:size], values[:size], query_items))
                for query_items, query_ratings, items, values in episodes
            ]
            table[name, label] = float(np.mean(errors))
    print(pd.Series(table).unstack().loc[list(models), list(support_sizes)].round(4))

    assert table["UserBiasBaseline", "K=all"] < table["ItemMean", "K=all"]
    assert table["UserBiasBaseline", "K=5"] < table["ItemMean", "K=5"]
    assert table["ALSMatrixFactorization", "K=all"] < table["GlobalMean", "K=all"]
    assert table["ALSMatrixFactorization", "K=all"] < table["UserBiasBaseline", "K=all"]
