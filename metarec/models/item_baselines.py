"""Classical baselines for a new item that K known users have rated.

Every baseline follows the estimator contract of :mod:`metarec.models.baselines`: the
constructor stores arguments, ``fit(ratings, contents)`` learns from the training ratings
(and the content of the training items) and returns the model, and
``predict(content, support_users, support_ratings, user_ids)`` scores one new item for
``user_ids``. ``get_state`` returns arrays :func:`numpy.savez` stores without pickling,
and ``from_state`` rebuilds the model.

With support ratings, every baseline but :class:`ItemGlobalMean` moves its item estimate
toward them: ``sum(residuals) / (K + beta)`` is added, a mean shrunk by ``beta``
pseudo-ratings toward the content-based estimate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import RidgeCV

# Ridge penalties tried by cross-validation for the content regressor.
RIDGE_ALPHAS = tuple(np.logspace(-1, 3, 9))


def fit_rating_biases(ratings: pd.DataFrame, user_shrinkage=5.0, item_shrinkage=5.0,
                      iterations=3):
    """Fit ``rating ~ mean + b_u + b_i`` with shrunk biases by alternating means.

    Returns
    -------
    mean : float
    user_bias : pandas.Series
        By user id.
    item_bias : pandas.Series
        By item id.
    """
    if ratings.empty:
        raise ValueError("ratings is empty; pass at least one training rating")
    mean = float(ratings["rating"].mean())
    residual = ratings["rating"].to_numpy(dtype=float) - mean
    users, items = ratings["user_id"].to_numpy(), ratings["item_id"].to_numpy()
    user_bias = pd.Series(0.0, index=np.unique(users))
    item_bias = pd.Series(0.0, index=np.unique(items))
    for _ in range(iterations):
        by_item = pd.Series(residual - user_bias.reindex(users).to_numpy()).groupby(items)
        item_bias = by_item.sum() / (by_item.count() + item_shrinkage)
        by_user = pd.Series(residual - item_bias.reindex(items).to_numpy()).groupby(users)
        user_bias = by_user.sum() / (by_user.count() + user_shrinkage)
    return mean, user_bias, item_bias


def support_offset(residuals, shrinkage) -> float:
    """Return ``sum(residuals) / (K + shrinkage)``, 0 for an empty support."""
    residuals = np.asarray(residuals, dtype=float)
    if residuals.size == 0:
        return 0.0
    return float(residuals.sum() / (residuals.size + shrinkage))


class _ItemBaseline:
    """Shared state handling: fitted attributes end in ``_`` and are numpy values."""

    _params = ()
    _state = ()

    def _check_is_fitted(self):
        if not all(hasattr(self, name) for name in self._state):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet; call fit(ratings, contents) first"
            )

    def get_state(self) -> dict:
        """Return the constructor arguments and fitted attributes as numpy values."""
        self._check_is_fitted()
        return {name: np.asarray(getattr(self, name)) for name in (*self._params, *self._state)}

    @classmethod
    def from_state(cls, state) -> "_ItemBaseline":
        """Rebuild a fitted model from :meth:`get_state`."""
        model = cls(**{name: float(state[name]) for name in cls._params})
        for name in cls._state:
            value = np.asarray(state[name])
            setattr(model, name, value.item() if value.ndim == 0 else value)
        return model


class _UserBiases(_ItemBaseline):
    """Known users' shrunk biases, 0 for a user the training ratings lack."""

    def _fit_biases(self, ratings):
        mean, user_bias, _ = fit_rating_biases(ratings, self.user_shrinkage,
                                               self.item_shrinkage)
        self.mean_ = mean
        self.user_ids_ = user_bias.index.to_numpy(dtype=np.int64)
        self.user_bias_ = user_bias.to_numpy(dtype=float)

    def user_bias(self, user_ids) -> np.ndarray:
        """Return each user's shrunk bias; users the training ratings lack get 0."""
        self._check_is_fitted()
        user_ids = np.asarray(user_ids, dtype=np.int64)
        positions = np.searchsorted(self.user_ids_, user_ids)
        positions = np.clip(positions, 0, max(len(self.user_ids_) - 1, 0))
        found = (self.user_ids_[positions] == user_ids) if len(self.user_ids_) else (
            np.zeros(len(user_ids), dtype=bool))
        return np.where(found, self.user_bias_[positions], 0.0)


class ItemGlobalMean(_ItemBaseline):
    """Predict the mean training rating for everyone, whatever the support."""

    _state = ("mean_",)

    def fit(self, ratings, contents=None) -> "ItemGlobalMean":
        self.mean_ = float(ratings["rating"].mean())
        return self

    def predict(self, content, support_users, support_ratings, user_ids) -> np.ndarray:
        self._check_is_fitted()
        return np.full(len(user_ids), self.mean_)


class GenreMean(_ItemBaseline):
    """Predict the mean rating of training items that share the new item's genres.

    Each genre gets the mean of the training item means with that genre. A new item gets
    the average over its genres, or the mean of all item means when it has none of the
    known genres, moved toward its support ratings. Users are not told apart.

    Parameters
    ----------
    beta : float
        Pseudo-ratings of the genre estimate when support ratings are averaged in.
    """

    _params = ("beta",)
    _state = ("genres_", "genre_means_", "fallback_")

    def __init__(self, beta=5.0):
        self.beta = beta

    def fit(self, ratings, contents) -> "GenreMean":
        item_means = ratings.groupby("item_id")["rating"].mean()
        genre_items = {}
        for item, mean in item_means.items():
            for genre in contents[int(item)].genres:
                genre_items.setdefault(genre, []).append(mean)
        self.genres_ = np.array(sorted(genre_items), dtype=str)
        self.genre_means_ = np.array([np.mean(genre_items[g]) for g in self.genres_])
        self.fallback_ = float(item_means.mean())
        return self

    def prior(self, content) -> float:
        """Return the genre estimate of ``content`` before any rating."""
        self._check_is_fitted()
        means = [self.genre_means_[i] for i, genre in enumerate(self.genres_.tolist())
                 if genre in set(content.genres)]
        return float(np.mean(means)) if means else float(self.fallback_)

    def predict(self, content, support_users, support_ratings, user_ids) -> np.ndarray:
        prior = self.prior(content)
        offset = support_offset(np.asarray(support_ratings, dtype=float) - prior, self.beta)
        return np.full(len(user_ids), prior + offset)


class ItemUserBias(_UserBiases):
    """Predict ``mean + b_u`` plus the item's shrunk support residual.

    Parameters
    ----------
    user_shrinkage, item_shrinkage : float
        Pseudo-ratings pulling the user biases and the new item's offset toward 0.
    """

    _params = ("user_shrinkage", "item_shrinkage")
    _state = ("mean_", "user_ids_", "user_bias_")

    def __init__(self, user_shrinkage=5.0, item_shrinkage=5.0):
        self.user_shrinkage = user_shrinkage
        self.item_shrinkage = item_shrinkage

    def fit(self, ratings, contents=None) -> "ItemUserBias":
        self._fit_biases(ratings)
        return self

    def predict(self, content, support_users, support_ratings, user_ids) -> np.ndarray:
        base = self.mean_ + self.user_bias(support_users)
        offset = support_offset(np.asarray(support_ratings, dtype=float) - base,
                                self.item_shrinkage)
        return self.mean_ + self.user_bias(user_ids) + offset


class ContentRegressor(_UserBiases):
    """Predict ``mean + b_u + f(content)`` plus the item's shrunk support residual.

    ``f`` is a ridge regression (penalty chosen by cross-validation) from the item's
    content features and sentence embedding to its bias ``b_i`` in the training
    ratings, each training item weighted by its number of ratings over that number
    plus ``item_shrinkage``.

    Parameters
    ----------
    user_shrinkage, item_shrinkage : float
        Pseudo-ratings pulling the user biases and the item offsets toward 0.
    """

    _params = ("user_shrinkage", "item_shrinkage")
    _state = ("mean_", "user_ids_", "user_bias_", "coef_", "intercept_")

    def __init__(self, user_shrinkage=5.0, item_shrinkage=5.0):
        self.user_shrinkage = user_shrinkage
        self.item_shrinkage = item_shrinkage

    @staticmethod
    def design(content) -> np.ndarray:
        return np.concatenate([content.features, content.text]).astype(float)

    def fit(self, ratings, contents) -> "ContentRegressor":
        self._fit_biases(ratings)
        _, _, item_bias = fit_rating_biases(ratings, self.user_shrinkage, 0.0)
        counts = ratings.groupby("item_id").size().reindex(item_bias.index).to_numpy()
        X = np.stack([self.design(contents[int(item)]) for item in item_bias.index])
        weights = counts / (counts + self.item_shrinkage)
        model = RidgeCV(alphas=RIDGE_ALPHAS).fit(X, item_bias.to_numpy(), sample_weight=weights)
        self.coef_ = model.coef_.astype(float)
        self.intercept_ = float(model.intercept_)
        return self

    def content_bias(self, content) -> float:
        """Return ``f(content)``, the item bias the content predicts."""
        self._check_is_fitted()
        return float(self.design(content) @ self.coef_ + self.intercept_)

    def predict(self, content, support_users, support_ratings, user_ids) -> np.ndarray:
        item = self.content_bias(content)
        base = self.mean_ + self.user_bias(support_users) + item
        offset = support_offset(np.asarray(support_ratings, dtype=float) - base,
                                self.item_shrinkage)
        return self.mean_ + self.user_bias(user_ids) + item + offset


ITEM_BASELINES = {"global-mean": ItemGlobalMean, "genre-mean": GenreMean,
                  "user-bias": ItemUserBias, "content-only": ContentRegressor}
