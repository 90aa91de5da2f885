"""The bias model every neural variant builds on: item means plus a shrunk user bias.

The networks predict a residual on top of ``item_mean + b_u``, where ``b_u`` is computed
in closed form from the support ratings. Meta-learning then spends its capacity on what
a bias model cannot capture (tastes, interactions) instead of re-learning averages from
a few ratings per task, and a network starts out exactly as good as the bias model.

With factors from a fitted :class:`~metarec.models.baselines.ALSMatrixFactorization`,
the support summary also contains the user's factors folded in by ridge regression on
the support ratings, and the networks see each item's factors among its content
features. A network can then use what matrix factorisation learned from every
meta-train user, which a few inner steps on a small support set cannot learn.
"""

from __future__ import annotations

import numpy as np

from .baselines import ridge_fold_in

# Last entries of a user's feature vector: the support bias and log(1 + n). Folded-in
# factors, when the prior has them, come just before these.
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
    fold_in : dict, optional
        Matrix-factorisation terms by table row, as :meth:`with_factors` builds them:
        ``mean`` (global mean), ``reg`` (ridge penalty), ``biases`` ``(n_items + 1,)``
        and ``factors`` ``(n_items + 1, n_factors)``, zero in row 0.
    """

    def __init__(self, row_means, user_shrinkage, fold_in=None):
        self.row_means = np.asarray(row_means, dtype=np.float32)
        self.user_shrinkage = float(user_shrinkage)
        self.fold_in = None
        if fold_in is not None:
            self.fold_in = {
                "mean": float(fold_in["mean"]), "reg": float(fold_in["reg"]),
                "biases": np.asarray(fold_in["biases"], dtype=np.float64),
                "factors": np.asarray(fold_in["factors"], dtype=np.float64)}

    @property
    def n_context(self) -> int:
        """Number of entries that :meth:`context` returns."""
        extra = 0 if self.fold_in is None else self.fold_in["factors"].shape[1]
        return N_CONTEXT + extra

    def with_factors(self, mf, encoder) -> "ItemPrior":
        """Return a copy that also folds in the factors of a fitted ALS model ``mf``.

        Items that ``mf`` did not see in training get zero bias and factors.
        """
        biases = np.zeros(encoder.n_items + 1)
        factors = np.zeros((encoder.n_items + 1, mf.n_factors))
        if encoder.n_items:
            biases[1:], factors[1:] = mf.item_parameters(np.asarray(encoder.item_ids))
        return ItemPrior(self.row_means, self.user_shrinkage,
                         {"mean": mf.global_mean_, "reg": mf.reg, "biases": biases,
                          "factors": factors})

    @classmethod
    def from_baseline(cls, baseline, encoder) -> "ItemPrior":
        """Take the item means of a fitted :class:`UserBiasBaseline`."""
        ids = np.asarray(encoder.item_ids)
        row_means = np.empty(encoder.n_items + 1, dtype=np.float32)
        row_means[0] = baseline.global_mean_
        row_means[1:] = baseline.predict([], [], ids) if len(ids) else []
        return cls(row_means, baseline.user_shrinkage)

    def context(self, rows, ratings, target="rating") -> np.ndarray:
        """Return ``[p_u..., b_u, log(1 + n)]`` for a support set given as table rows.

        ``p_u`` are the folded-in factors, present only when the prior has factors: the
        ridge solution for ``(b, p_u)`` in ``r - mean - b_i = b + p_u · q_i`` on the
        support, as :meth:`ALSMatrixFactorization.fold_in` computes it. For the ``like``
        task the bias and factors are 0: a like/dislike network has no rating scale to
        offset.
        """
        rows = np.asarray(rows, dtype=np.int64)
        user = np.zeros(self.n_context - N_CONTEXT, dtype=np.float32)
        if len(rows) == 0 or target == "like":
            return np.concatenate([user, [0.0, np.log1p(len(rows))]]).astype(np.float32)
        residual = np.asarray(ratings, dtype=np.float32) - self.row_means[rows]
        bias = residual.sum() / (len(rows) + self.user_shrinkage)
        if self.fold_in is not None:
            fold = self.fold_in
            residuals = (np.asarray(ratings, dtype=np.float64) - fold["mean"]
                         - fold["biases"][rows])
            _, user = ridge_fold_in(residuals, fold["factors"][rows], fold["reg"])
        return np.concatenate([user, [bias, np.log1p(len(rows))]]).astype(np.float32)

    def to_dict(self) -> dict:
        state = {"row_means": self.row_means.tolist(), "user_shrinkage": self.user_shrinkage}
        if self.fold_in is not None:
            state["fold_in"] = {key: value.tolist() if isinstance(value, np.ndarray) else value
                                for key, value in self.fold_in.items()}
        return state

    @classmethod
    def from_dict(cls, state) -> "ItemPrior":
        return cls(state["row_means"], state["user_shrinkage"], state.get("fold_in"))


# Pseudo-ratings at the overall like rate that each item's like rate is shrunk toward, so
# that an item with two likes out of two is not taken as certain.
LIKE_SHRINKAGE = 5.0


def like_log_odds(ratings, encoder, like_threshold, shrinkage=LIKE_SHRINKAGE) -> np.ndarray:
    """Return each item table row's log-odds of a like, the like task's item prior.

    A like is a rating of ``like_threshold`` or more in ``ratings`` (meta-train ratings
    only). Each item's like rate is shrunk toward the overall rate by ``shrinkage``
    pseudo-ratings; row 0, for unknown items, gets the overall rate. A like/dislike
    network that started from the rating prior instead would add a mean rating such as
    3.5 to its logits and call nearly every item a like.
    """
    liked = (np.asarray(ratings["rating"], dtype=float) >= like_threshold).astype(float)
    overall = float(np.clip(liked.mean() if liked.size else 0.5, 1e-3, 1 - 1e-3))
    rows = encoder.item_rows(ratings["item_id"])
    likes = np.bincount(rows, weights=liked, minlength=encoder.n_items + 1)
    counts = np.bincount(rows, minlength=encoder.n_items + 1)
    rate = (likes + shrinkage * overall) / (counts + shrinkage)
    rate[0] = overall
    return np.log(rate / (1.0 - rate)).astype(np.float32)
