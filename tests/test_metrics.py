import math

import numpy as np
import pytest

from metarec.evaluation.metrics import (
    auc,
    catalogue_ndcg_at_k,
    mae,
    mean_confidence_interval,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    rmse,
)

TOLERANCE = 1e-9


def test_mae_hand_computed():
    # |1-2| + |2-2| + |3-5| = 1 + 0 + 2 = 3, over 3 ratings = 1.0
    assert mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0, abs=TOLERANCE)


def test_rmse_hand_computed():
    # squared errors 1 + 0 + 4 = 5, mean 5/3, root sqrt(5/3) = 1.2910 ...
    assert rmse([1, 2, 3], [2, 2, 5]) == pytest.approx(math.sqrt(5 / 3), abs=TOLERANCE)


@pytest.mark.parametrize("metric", [mae, rmse])
def test_rating_errors_reject_nan(metric):
    with pytest.raises(ValueError, match="y_pred contains 1 NaN or infinite values out of 2"):
        metric([4.0, 3.0], [np.nan, 3.0])


def test_rmse_at_least_mae():
    y_true = np.array([1.0, 4.0, 5.0, 3.0])
    y_pred = np.array([2.0, 4.5, 3.0, 3.0])
    assert rmse(y_true, y_pred) >= mae(y_true, y_pred)


@pytest.mark.parametrize("metric", [mae, rmse])
def test_rating_error_rejects_length_mismatch(metric):
    with pytest.raises(ValueError, match=r"y_pred has 2 values but y_true has 3"):
        metric([1, 2, 3], [1, 2])


@pytest.mark.parametrize("metric", [mae, rmse])
def test_rating_error_rejects_empty(metric):
    with pytest.raises(ValueError, match=r"y_true is empty"):
        metric([], [])


def test_rating_error_rejects_2d():
    with pytest.raises(ValueError, match=r"y_true must be one-dimensional.*\(2, 2\)"):
        mae([[1, 2], [3, 4]], [1, 2, 3, 4])


def test_ndcg_hand_computed():
    # gains 2**r - 1 of y_true [3, 2, 0, 1]: [7, 3, 0, 1]
    # order by score [0.1, 0.9, 0.5, 0.3]: items 1, 2, 3, 0 with gains 3, 0, 1, 7
    # DCG@3  = 3/log2(2) + 0/log2(3) + 1/log2(4) = 3 + 0 + 0.5 = 3.5
    # IDCG@3 = 7/log2(2) + 3/log2(3) + 1/log2(4) = 7 + 1.8928 + 0.5 = 9.3928
    expected = 3.5 / (7 + 3 / math.log2(3) + 0.5)
    result = ndcg_at_k([3, 2, 0, 1], [0.1, 0.9, 0.5, 0.3], k=3)
    assert result == pytest.approx(expected, abs=TOLERANCE)
    assert result == pytest.approx(0.372627, abs=1e-6)


def test_ndcg_perfect_order_is_one():
    assert ndcg_at_k([5, 4, 3, 1], [0.9, 0.8, 0.7, 0.1], k=2) == pytest.approx(1.0)


def test_ndcg_k_beyond_length_counts_all():
    # k = 10 > 3 items: same as k = 3
    y_true, y_score = [1, 3, 2], [0.3, 0.2, 0.1]
    assert ndcg_at_k(y_true, y_score, k=10) == ndcg_at_k(y_true, y_score, k=3)


def test_ndcg_ties_keep_input_order():
    # Equal scores: the first item given ranks first.
    # [1, 2]: DCG@1 = 2**1 - 1 = 1, IDCG@1 = 2**2 - 1 = 3, NDCG = 1/3
    assert ndcg_at_k([1, 2], [0.5, 0.5], k=1) == pytest.approx(1 / 3, abs=TOLERANCE)
    # [2, 1]: the better item is first, NDCG = 1
    assert ndcg_at_k([2, 1], [0.5, 0.5], k=1) == pytest.approx(1.0, abs=TOLERANCE)


def test_ndcg_zero_ideal_returns_zero():
    assert ndcg_at_k([0, 0, 0], [0.3, 0.2, 0.1], k=2) == 0.0


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_ndcg_rejects_invalid_k(k):
    with pytest.raises(ValueError, match=rf"k must be an integer >= 1, got {k!r}"):
        ndcg_at_k([1, 2], [0.1, 0.2], k=k)


def test_ndcg_rejects_length_mismatch():
    with pytest.raises(ValueError, match=r"y_score has 1 values but y_true has 2"):
        ndcg_at_k([1, 2], [0.1], k=1)


def test_ndcg_rejects_nan_score():
    with pytest.raises(ValueError, match=r"y_score contains 1 NaN or infinite values"):
        ndcg_at_k([1, 2], [0.1, np.nan], k=1)


def test_ndcg_rejects_negative_relevance():
    with pytest.raises(ValueError, match=r"y_true must be >= 0.*got minimum -1"):
        ndcg_at_k([1, -1], [0.1, 0.2], k=1)


def test_precision_recall_hand_computed():
    recommended = [10, 20, 30, 40, 50]
    relevant = {20, 50, 60}
    # top 3 = 10, 20, 30: one hit (20)
    assert precision_at_k(recommended, relevant, 3) == pytest.approx(1 / 3)
    assert recall_at_k(recommended, relevant, 3) == pytest.approx(1 / 3)
    # top 5: two hits (20, 50), out of 5 places and 3 relevant items
    assert precision_at_k(recommended, relevant, 5) == pytest.approx(2 / 5)
    assert recall_at_k(recommended, relevant, 5) == pytest.approx(2 / 3)


def test_precision_short_list_counts_missing_places():
    # two recommendations, k = 4: 1 hit / 4 places; recall 1 hit / 1 relevant
    assert precision_at_k([10, 20], [20], 4) == pytest.approx(0.25)
    assert recall_at_k([10, 20], [20], 4) == pytest.approx(1.0)


def test_relevant_as_array_matches_set():
    recommended = np.array([3, 1, 2])
    assert recall_at_k(recommended, np.array([1, 2]), 2) == recall_at_k(
        recommended, {1, 2}, 2
    )


@pytest.mark.parametrize("metric", [precision_at_k, recall_at_k])
def test_empty_relevant_returns_nan(metric):
    assert math.isnan(metric([1, 2, 3], set(), 2))


@pytest.mark.parametrize("metric", [precision_at_k, recall_at_k])
def test_catalogue_metric_rejects_duplicates(metric):
    with pytest.raises(ValueError, match=r"recommended contains duplicate item ids \[2\]"):
        metric([1, 2, 2], {1}, 2)


@pytest.mark.parametrize("metric", [precision_at_k, recall_at_k])
def test_catalogue_metric_rejects_empty_list(metric):
    with pytest.raises(ValueError, match=r"recommended is empty"):
        metric([], {1}, 2)


@pytest.mark.parametrize("metric", [precision_at_k, recall_at_k])
def test_catalogue_metric_rejects_zero_k(metric):
    with pytest.raises(ValueError, match=r"k must be an integer >= 1, got 0"):
        metric([1, 2], {1}, 0)


def test_catalogue_ndcg_hand_computed():
    # gains 2**r - 1: item 7 -> 31, item 9 -> 15, item 11 -> 31, item 5 -> 0
    # DCG@3 of [5, 7, 9]  = 0/log2(2) + 31/log2(3) + 15/log2(4) = 19.5588 + 7.5
    # IDCG@3 from [31, 31, 15] = 31/log2(2) + 31/log2(3) + 15/log2(4) = 31 + 19.5588 + 7.5
    dcg = 31 / math.log2(3) + 7.5
    ideal = 31 + 31 / math.log2(3) + 7.5
    result = catalogue_ndcg_at_k([5, 7, 9], {7: 5, 9: 4, 11: 5}, 3)
    assert result == pytest.approx(dcg / ideal, abs=TOLERANCE)
    assert result == pytest.approx(0.466059, abs=1e-6)


def test_catalogue_ndcg_perfect_list_is_one():
    assert catalogue_ndcg_at_k([2, 1, 3], {1: 4, 2: 5}, 2) == pytest.approx(1.0)


def test_catalogue_ndcg_empty_relevant_returns_nan():
    assert math.isnan(catalogue_ndcg_at_k([1, 2], {}, 2))


def test_catalogue_ndcg_rejects_set():
    with pytest.raises(ValueError, match=r"relevant_gains must be a mapping.*got set"):
        catalogue_ndcg_at_k([1, 2], {1, 2}, 2)


def test_auc_hand_computed():
    # positives score 0.9, 0.3; negatives 0.9, 0.1
    # pairs: (0.9, 0.9) tie = 0.5, (0.9, 0.1) = 1, (0.3, 0.9) = 0, (0.3, 0.1) = 1
    # AUC = 2.5 / 4 = 0.625
    assert auc([1, 0, 1, 0], [0.9, 0.9, 0.3, 0.1]) == pytest.approx(0.625)


def test_auc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=200)
    scores = rng.integers(0, 5, size=200).astype(float)  # many ties
    assert auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))


def test_auc_accepts_booleans():
    assert auc([True, False], [0.8, 0.2]) == pytest.approx(1.0)


def test_auc_single_class_returns_nan():
    assert math.isnan(auc([1, 1, 1], [0.1, 0.2, 0.3]))


def test_auc_rejects_non_binary_labels():
    with pytest.raises(ValueError, match=r"y_true_binary must contain only 0 and 1, got 2"):
        auc([0, 1, 2], [0.1, 0.2, 0.3])


def test_auc_rejects_length_mismatch():
    with pytest.raises(ValueError, match=r"y_score has 1 values but y_true_binary has 2"):
        auc([0, 1], [0.5])


def test_confidence_interval_hand_computed():
    # mean 3, sample sd sqrt(2.5), standard error sqrt(2.5 / 5) = sqrt(0.5)
    # t quantile 0.975 with 4 degrees of freedom = 2.776445 (t tables)
    mean, half_width = mean_confidence_interval([1, 2, 3, 4, 5])
    assert mean == pytest.approx(3.0)
    assert half_width == pytest.approx(2.776445 * math.sqrt(0.5), abs=1e-6)


def test_confidence_interval_widens_with_confidence():
    values = [0.81, 0.79, 0.80, 0.83]
    _, narrow = mean_confidence_interval(values, confidence=0.9)
    _, wide = mean_confidence_interval(values, confidence=0.99)
    assert narrow < wide


def test_confidence_interval_single_value_nan_width():
    mean, half_width = mean_confidence_interval([0.8])
    assert mean == pytest.approx(0.8)
    assert math.isnan(half_width)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5])
def test_confidence_interval_rejects_confidence(confidence):
    with pytest.raises(
        ValueError, match=rf"confidence must be strictly between 0 and 1, got {confidence}"
    ):
        mean_confidence_interval([1.0, 2.0], confidence=confidence)


def test_confidence_interval_rejects_empty():
    with pytest.raises(ValueError, match=r"values is empty"):
        mean_confidence_interval([])


def test_confidence_interval_rejects_nan():
    with pytest.raises(ValueError, match=r"values contains 1 NaN or infinite values"):
        mean_confidence_interval([1.0, float("nan")])


def test_catalogue_ties_are_ordered_at_random_per_task():
    from metarec.evaluation.evaluate import task_metrics
    from metarec.tasks import Task

    catalogue = np.arange(1, 201, dtype=np.int64)
    # The relevant items have the lowest ids: ranking ties by id would find them all.
    task = Task(7, np.array([150]), np.array([3.0]), np.arange(1, 11),
                np.full(10, 5.0))
    constant = np.full(len(catalogue), 3.5)
    row = task_metrics(task, np.full(10, 3.5), catalogue, constant)
    assert row["recall@10"] < 0.5
    again = task_metrics(task, np.full(10, 3.5), catalogue, constant)
    assert again["catalogue_ndcg@10"] == row["catalogue_ndcg@10"]
    # Distinct scores still decide the order.
    best_first = -catalogue.astype(float)
    assert task_metrics(task, np.full(10, 3.5), catalogue, best_first)["recall@10"] == 1.0
