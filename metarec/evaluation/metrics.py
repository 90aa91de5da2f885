"""Rating-prediction and ranking metrics for one user (or one item) at a time.

Every function takes plain numpy arrays or sequences and returns a Python float. Averaging
over users, and skipping users for whom a metric is undefined (NaN), is left to the
caller. Invalid input raises :class:`ValueError` with a message that names the argument,
the value received and what is allowed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np
from scipy import stats


def _as_vector(name, values) -> np.ndarray:
    """Convert ``values`` to a non-empty 1-D float array or raise ValueError."""
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(
            f"{name} must be one-dimensional, got an array of shape {array.shape}."
        )
    if array.size == 0:
        raise ValueError(f"{name} is empty; pass at least one value.")
    return array


def _as_pair(true_name, y_true, other_name, other) -> tuple[np.ndarray, np.ndarray]:
    """Convert two aligned arguments to 1-D float arrays of the same length."""
    first = _as_vector(true_name, y_true)
    second = _as_vector(other_name, other)
    if first.size != second.size:
        raise ValueError(
            f"{other_name} has {second.size} values but {true_name} has {first.size}; "
            f"pass one value of {other_name} per value of {true_name}."
        )
    return first, second


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}.")
    return int(k)


def _check_finite(name, array):
    n_invalid = int(np.sum(~np.isfinite(array)))
    if n_invalid:
        raise ValueError(
            f"{name} contains {n_invalid} NaN or infinite values out of {array.size}; "
            f"pass finite numbers only."
        )


def mae(y_true, y_pred) -> float:
    """Return the mean absolute error between true and predicted ratings."""
    y_true, y_pred = _as_pair("y_true", y_true, "y_pred", y_pred)
    _check_finite("y_true", y_true)
    _check_finite("y_pred", y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))


def rmse(y_true, y_pred) -> float:
    """Return the root mean squared error between true and predicted ratings."""
    y_true, y_pred = _as_pair("y_true", y_true, "y_pred", y_pred)
    _check_finite("y_true", y_true)
    _check_finite("y_pred", y_pred)
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def _dcg(gains_in_rank_order: np.ndarray) -> float:
    """Sum ``gain / log2(rank + 1)`` over ranks 1, 2, ..."""
    ranks = np.arange(1, gains_in_rank_order.size + 1)
    return float(np.sum(gains_in_rank_order / np.log2(ranks + 1)))


def ndcg_at_k(y_true, y_score, k) -> float:
    """Compute the NDCG@k of a scored list of items against their true ratings.

    The items (for example a user's query items) are ranked by ``y_score``, highest
    first. Item at rank ``r`` (counting from 1) contributes
    ``(2**y_true - 1) / log2(r + 1)``, and the sum over the top ``k`` is divided by the
    same sum for the items sorted by ``y_true``, the ideal DCG.

    Parameters
    ----------
    y_true : array-like of shape (n_items,)
        Graded relevance of each item, e.g. its rating. Must be >= 0.
    y_score : array-like of shape (n_items,)
        Predicted score of each item, in the same order as ``y_true``.
    k : int
        Number of top-ranked items that count. A ``k`` larger than ``n_items`` counts
        every item.

    Returns
    -------
    float
        NDCG@k in [0, 1]. It is 0.0 when the ideal DCG is 0, that is when every item
        in the top ``k`` of the ideal order has relevance 0.

    Notes
    -----
    Tied scores keep the order in which the items were given, so the first of two
    items with equal scores is ranked higher. The result is therefore deterministic,
    but it depends on the input order when the model produces ties.
    """
    y_true, y_score = _as_pair("y_true", y_true, "y_score", y_score)
    k = _check_k(k)
    _check_finite("y_true", y_true)
    _check_finite("y_score", y_score)
    if np.any(y_true < 0):
        raise ValueError(
            f"y_true must be >= 0 (graded relevance), got minimum {y_true.min():g}."
        )

    gains = 2.0**y_true - 1.0
    # A stable sort of the negated scores ranks high scores first and keeps ties in
    # input order.
    ranked = np.argsort(-y_score, kind="stable")[:k]
    ideal = np.sort(gains)[::-1][:k]

    ideal_dcg = _dcg(ideal)
    if ideal_dcg == 0.0:
        return 0.0
    return _dcg(gains[ranked]) / ideal_dcg


def _as_recommendations(recommended) -> np.ndarray:
    """Convert a ranked list of item ids to a 1-D array and reject duplicates."""
    array = np.asarray(recommended)
    if array.ndim != 1:
        raise ValueError(
            f"recommended must be a one-dimensional array of item ids, got an array "
            f"of shape {array.shape}."
        )
    if array.size == 0:
        raise ValueError("recommended is empty; pass at least one item id.")
    unique, counts = np.unique(array, return_counts=True)
    if np.any(counts > 1):
        raise ValueError(
            f"recommended contains duplicate item ids "
            f"{unique[counts > 1].tolist()!r}; each item may be recommended once."
        )
    return array


def _count_hits(recommended, relevant, k) -> tuple[int, int, int]:
    """Validate the arguments and return the top-``k`` hits, ``|relevant|`` and ``k``."""
    recommended = _as_recommendations(recommended)
    k = _check_k(k)
    relevant = np.unique(np.asarray(list(relevant)))
    hits = int(np.isin(recommended[:k], relevant).sum())
    return hits, relevant.size, k


def precision_at_k(recommended, relevant: Collection, k) -> float:
    """Return the fraction of the top ``k`` recommendations that are relevant.

    Parameters
    ----------
    recommended : array-like of item ids
        The user's recommendations, best first, without duplicates.
    relevant : collection of item ids
        Items that count as relevant for this user. The caller decides relevance, for
        example query items rated 4 or higher.
    k : int
        Length of the list that counts. The denominator is ``k`` even when fewer than
        ``k`` items are recommended, so missing places count as misses.

    Returns
    -------
    float
        Precision@k, or NaN when ``relevant`` is empty, so that the caller can skip
        users without relevant items the same way for every catalogue metric.
    """
    hits, n_relevant, k = _count_hits(recommended, relevant, k)
    if n_relevant == 0:
        return float("nan")
    return hits / k


def recall_at_k(recommended, relevant: Collection, k) -> float:
    """Return the fraction of relevant items found in the top ``k`` recommendations.

    The arguments are those of :func:`precision_at_k`. The denominator is the number
    of relevant items, ``|hits| / |relevant|``, so recall@k stays below 1 when there
    are more than ``k`` relevant items.

    Returns
    -------
    float
        Recall@k, or NaN when ``relevant`` is empty.
    """
    hits, n_relevant, _ = _count_hits(recommended, relevant, k)
    if n_relevant == 0:
        return float("nan")
    return hits / n_relevant


def catalogue_ndcg_at_k(recommended, relevant_gains: Mapping, k) -> float:
    """Compute the graded NDCG@k of a ranked list of recommended item ids.

    Parameters
    ----------
    recommended : array-like of item ids
        The user's recommendations, best first, without duplicates.
    relevant_gains : mapping of item id to float
        Graded relevance (e.g. the rating) of each relevant item. Items that are
        missing from the mapping have relevance 0. The caller decides which items to
        include, for example query items rated 4 or higher with their rating.
    k : int
        Number of top-ranked items that count.

    Returns
    -------
    float
        NDCG@k in [0, 1], with gain ``2**relevance - 1`` and discount
        ``log2(rank + 1)`` as in :func:`ndcg_at_k`. The ideal DCG is that of the
        ``k`` most relevant items in ``relevant_gains``, whether or not they were
        recommended. NaN when ``relevant_gains`` is empty or every relevance in it is 0,
        so that the caller can skip the user.
    """
    recommended = _as_recommendations(recommended)
    k = _check_k(k)
    if not isinstance(relevant_gains, Mapping):
        raise ValueError(
            f"relevant_gains must be a mapping of item id to relevance, got "
            f"{type(relevant_gains).__name__}."
        )
    relevance = np.asarray(list(relevant_gains.values()), dtype=float)
    if relevance.size:
        _check_finite("relevant_gains", relevance)
    if np.any(relevance < 0):
        raise ValueError(
            f"relevant_gains must contain relevances >= 0, got minimum {relevance.min():g}."
        )

    ideal = np.sort(2.0**relevance - 1.0)[::-1][:k]
    ideal_dcg = _dcg(ideal)
    if ideal_dcg == 0.0:
        return float("nan")

    top = recommended[:k]
    gains = np.array([2.0 ** relevant_gains.get(item, 0.0) - 1.0 for item in top.tolist()])
    return _dcg(gains) / ideal_dcg


def auc(y_true_binary, y_score) -> float:
    """Return the ROC AUC of ``y_score`` for binary labels.

    The AUC is the probability that a random positive scores higher than a random
    negative, with ties counted as 1/2. It is computed from average ranks (the
    Mann-Whitney U statistic).

    Parameters
    ----------
    y_true_binary : array-like of shape (n_items,)
        Labels, each 0 or 1 (or False/True).
    y_score : array-like of shape (n_items,)
        Score of each item; higher means more likely positive.

    Returns
    -------
    float
        AUC in [0, 1], or NaN when only one class is present.
    """
    labels, y_score = _as_pair("y_true_binary", y_true_binary, "y_score", y_score)
    invalid = ~np.isin(labels, (0.0, 1.0))
    if np.any(invalid):
        raise ValueError(
            f"y_true_binary must contain only 0 and 1, got {labels[invalid][0]:g}."
        )
    _check_finite("y_score", y_score)

    positive = labels == 1.0
    n_positive = int(positive.sum())
    n_negative = labels.size - n_positive
    if n_positive == 0 or n_negative == 0:
        return float("nan")

    # Average ranks give tied pairs half a win each.
    ranks = stats.rankdata(y_score, method="average")
    u_statistic = ranks[positive].sum() - n_positive * (n_positive + 1) / 2.0
    return float(u_statistic / (n_positive * n_negative))


def mean_confidence_interval(values, confidence=0.95) -> tuple[float, float]:
    """Return the mean of ``values`` and the half-width of its confidence interval.

    The interval is Student's t interval, ``mean ± t * s / sqrt(n)`` with ``s`` the
    sample standard deviation and ``n - 1`` degrees of freedom. It suits a handful of
    independent runs, such as one metric over several random seeds.

    Parameters
    ----------
    values : array-like of shape (n,)
        Finite values, one per run.
    confidence : float, default=0.95
        Coverage of the interval, strictly between 0 and 1.

    Returns
    -------
    mean : float
    half_width : float
        NaN when there is only one value, because its spread cannot be estimated.
    """
    values = _as_vector("values", values)
    _check_finite("values", values)
    if not 0.0 < confidence < 1.0:
        raise ValueError(
            f"confidence must be strictly between 0 and 1, got {confidence!r}."
        )

    mean = float(values.mean())
    if values.size == 1:
        return mean, float("nan")

    standard_error = values.std(ddof=1) / np.sqrt(values.size)
    t_quantile = stats.t.ppf((1.0 + confidence) / 2.0, df=values.size - 1)
    return mean, float(t_quantile * standard_error)
