"""Whole-star predictions: what MAE alone rewards.

Ratings are whole stars, and the point prediction with the lowest expected absolute
error is the median of the predicted rating distribution, which is a whole star as
well. A model trained for squared error predicts the mean instead, for example 3.6
where the truth is often 4. Rounding its predictions at well-chosen thresholds lowers
MAE without the model knowing anything more about the person, and raises RMSE.

:class:`WholeStarRounding` fits those thresholds on held-out predictions, so that a
benchmark can show how much of a MAE difference such rounding explains. Apply it to
every variant alike or to none.
"""

from __future__ import annotations

import numpy as np


class WholeStarRounding:
    """A non-decreasing step function from scores to rating levels, fitted for MAE.

    ``fit`` finds the step function with the lowest total absolute error on the given
    pairs, exactly, by dynamic programming over the distinct scores in order (isotonic regression
    under absolute error, restricted to ``levels``). Plain rounding is one such step
    function, so on the fitted pairs the result is never worse than rounding.

    Parameters
    ----------
    levels : sequence of float, optional
        Allowed predictions in increasing order; defaults to the distinct ratings
        passed to ``fit``.

    Attributes
    ----------
    levels_ : numpy.ndarray
        The allowed predictions.
    thresholds_ : numpy.ndarray
        ``len(levels_) - 1`` non-decreasing cut points: a score of at least
        ``thresholds_[j]`` (and below the next one) predicts ``levels_[j + 1]``.
        ``-inf`` and ``inf`` mark levels that no fitted score reached.
    """

    def __init__(self, levels=None):
        self.levels = levels

    def fit(self, scores, ratings) -> "WholeStarRounding":
        scores = np.asarray(scores, dtype=float).ravel()
        ratings = np.asarray(ratings, dtype=float).ravel()
        if scores.size == 0 or scores.size != ratings.size:
            raise ValueError(
                f"scores and ratings must be non-empty and of the same length, got "
                f"{scores.size} scores and {ratings.size} ratings"
            )
        if not (np.isfinite(scores).all() and np.isfinite(ratings).all()):
            raise ValueError("scores and ratings must be finite; drop NaN or inf first")
        levels = np.unique(ratings) if self.levels is None else np.asarray(
            self.levels, dtype=float)
        if levels.ndim != 1 or levels.size == 0 or np.any(np.diff(levels) <= 0):
            raise ValueError(f"levels must be strictly increasing, got {self.levels!r}")

        # Equal scores are indistinguishable, so they share a level: the cost of each
        # distinct score at each level sums over the ratings given at that score.
        scores, group = np.unique(scores, return_inverse=True)
        cost = np.zeros((scores.size, levels.size))
        np.add.at(cost, group, np.abs(ratings[:, None] - levels[None, :]))
        # best[i, k]: lowest total error of points 0..i with point i at a level <= k.
        best = np.empty_like(cost)
        running = np.zeros(levels.size)
        for i in range(scores.size):
            running = np.minimum.accumulate(running + cost[i])
            best[i] = running
        # Walk back: each point takes the lowest level that attains the optimum, at or
        # below the level of the point after it.
        assigned = np.empty(scores.size, dtype=int)
        ceiling = levels.size - 1
        for i in range(scores.size - 1, -1, -1):
            before = best[i - 1, : ceiling + 1] if i else np.zeros(ceiling + 1)
            totals = before + cost[i, : ceiling + 1]
            ceiling = int(np.argmin(totals))
            assigned[i] = ceiling

        thresholds = np.empty(levels.size - 1)
        for j in range(1, levels.size):
            above = np.flatnonzero(assigned >= j)
            if above.size == 0:
                thresholds[j - 1] = np.inf
            elif above[0] == 0:
                thresholds[j - 1] = -np.inf
            else:
                thresholds[j - 1] = (scores[above[0] - 1] + scores[above[0]]) / 2
        self.levels_ = levels
        self.thresholds_ = thresholds
        return self

    def transform(self, scores) -> np.ndarray:
        """Map scores to levels; raises AttributeError before ``fit``."""
        positions = np.searchsorted(self.thresholds_, np.asarray(scores, dtype=float),
                                    side="right")
        return self.levels_[positions]
