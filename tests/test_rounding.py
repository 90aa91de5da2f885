import itertools

import numpy as np
import pytest

from metarec.evaluation.rounding import WholeStarRounding


def total_error(predictions, ratings):
    return float(np.abs(np.asarray(predictions) - np.asarray(ratings)).sum())


def test_hand_computed_step():
    # Two low scores rated 1 and two high scores rated 5: the best step function
    # predicts 1, 1, 5, 5 (error 0) and jumps between 2.0 and 3.0, at 2.5.
    rounding = WholeStarRounding(levels=[1, 2, 3, 4, 5]).fit([1.0, 2.0, 3.0, 4.0],
                                                            [1, 1, 5, 5])
    np.testing.assert_array_equal(rounding.thresholds_, [2.5, 2.5, 2.5, 2.5])
    np.testing.assert_array_equal(rounding.transform([2.4, 2.6, 9.0]), [1, 5, 5])


def test_median_of_one_group():
    # Every score the same: one level for all, the median rating 4 (error 1 + 0 + 0 + 1
    # = 2, against 2.5 for the mean 3.75 and 3 for predicting 5).
    rounding = WholeStarRounding(levels=[1, 2, 3, 4, 5]).fit([3.7] * 4, [3, 4, 4, 5])
    assert rounding.transform([3.7])[0] == 4


def test_matches_brute_force_on_small_sets():
    rng = np.random.default_rng(0)
    levels = [1, 2, 3]
    for _ in range(30):
        scores = rng.normal(size=7)
        ratings = rng.integers(1, 4, size=7)
        fitted = WholeStarRounding(levels=levels).fit(scores, ratings)
        found = total_error(fitted.transform(scores), ratings)
        order = np.argsort(scores)
        best = min(
            total_error(np.asarray(assignment), ratings[order])
            for assignment in itertools.combinations_with_replacement(levels, 7))
        assert found == pytest.approx(best)


def test_never_worse_than_plain_rounding_where_fitted():
    rng = np.random.default_rng(1)
    ratings = rng.integers(1, 6, size=500)
    scores = 0.6 * ratings + 1.4 + rng.normal(scale=0.6, size=500)
    rounding = WholeStarRounding(levels=[1, 2, 3, 4, 5]).fit(scores, ratings)
    assert total_error(rounding.transform(scores), ratings) <= total_error(
        np.clip(np.round(scores), 1, 5), ratings)
    assert np.all(np.diff(rounding.thresholds_) >= 0)


def test_levels_default_to_the_ratings_seen():
    rounding = WholeStarRounding().fit([0.1, 0.2, 0.9], [2, 2, 4])
    np.testing.assert_array_equal(rounding.levels_, [2, 4])


@pytest.mark.parametrize("scores, ratings, message", [
    ([], [], "non-empty"),
    ([1.0, 2.0], [1], "same length"),
    ([np.nan], [3], "finite"),
])
def test_bad_input_names_the_problem(scores, ratings, message):
    with pytest.raises(ValueError, match=message):
        WholeStarRounding().fit(scores, ratings)


def test_levels_must_increase():
    with pytest.raises(ValueError, match="strictly increasing"):
        WholeStarRounding(levels=[3, 1]).fit([1.0], [1])
