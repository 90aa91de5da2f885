"""The bias model every neural variant builds on: item means plus a shrunk user bias.

The networks predict a residual on top of ``item_mean + b_u``, where ``b_u`` is computed
in closed form from the support ratings. Meta-learning then spends its capacity on what
a bias model cannot capture (tastes, interactions) instead of re-learning averages from
a few ratings per task, and a network starts out exactly as good as the bias model.
"""

from __future__ import annotations

import numpy as np

# Extra entries appended to a user's feature vector: the support bias and log(1 + n).
N_CONTEXT = 2


class ItemPrior:
    """Shrunk item means by table row, and the support summary fed to the networks.

    Parameters
    ----------
    row_means : numpy.ndarray
        ``(n_items + 1,)`` shrunk mean rating of each table row. Row 0 (an unknown item)
        contains the global mean.
    user_shrinkage : float
        Pseudo-ratings pulling the user bias toward 0.
    """

    def __init__(self, row_means, user_shrinkage):
        self.row_means = np.asarray(row_means, dtype=np.float32)
        self.user_shrinkage = float(user_shrinkage)

    @classmethod
    def from_baseline(cls, baseline, encoder) -> "ItemPrior":
        """Take the item means of a fitted :class:`UserBiasBaseline`."""
        ids = np.asarray(encoder.item_ids)
        row_means = np.empty(encoder.n_items + 1, dtype=np.float32)
        row_means[0] = baseline.global_mean_
        row_means[1:] = baseline.predict([], [], ids) if len(ids) else []
        return cls(row_means, baseline.user_shrinkage)

    def context(self, rows, ratings, target="rating") -> np.ndarray:
        """Return ``[b_u, log(1 + n)]`` for a support set given as table rows.

        For the ``like`` task the bias is 0: a like/dislike network has no rating scale
        to offset.
        """
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0 or target == "like":
            return np.array([0.0, np.log1p(len(rows))], dtype=np.float32)
        residual = np.asarray(ratings, dtype=np.float32) - self.row_means[rows]
        bias = residual.sum() / (len(rows) + self.user_shrinkage)
        return np.array([bias, np.log1p(len(rows))], dtype=np.float32)

    def to_dict(self) -> dict:
        return {"row_means": self.row_means.tolist(), "user_shrinkage": self.user_shrinkage}

    @classmethod
    def from_dict(cls, state) -> "ItemPrior":
        return cls(state["row_means"], state["user_shrinkage"])
