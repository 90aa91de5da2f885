"""A weighted blend of adapted variants whose weights depend on the support size."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LinearRegression

# Lower edges of the support-size bins: 1-2, 3-5, 6-10, 11-20 and 21 or more ratings.
DEFAULT_BIN_EDGES = (1, 3, 6, 11, 21)


class SupportSizeEnsemble:
    """Blend member predictions with non-negative weights fitted per support-size bin.

    A person with one rating is best served by a different mix than one with fifty (the
    baseline's item means matter more, the adapted networks less), so each bin gets its
    own weights and intercept, fitted by non-negative least squares on validation users.

    Parameters
    ----------
    members : list of str
        Names of the blended variants, in the order predictions are given.
    bin_edges : tuple of int
        Lower edge of each support-size bin, increasing, starting at 1.
    """

    def __init__(self, members, bin_edges=DEFAULT_BIN_EDGES):
        self.members = list(members)
        self.bin_edges = tuple(int(edge) for edge in bin_edges)

    def _bin(self, shots):
        return np.searchsorted(self.bin_edges, np.maximum(np.asarray(shots), 1), side="right") - 1

    def fit(self, predictions, shots, targets):
        """Fit the weights of every bin.

        Parameters
        ----------
        predictions : dict of str to numpy.ndarray
            Each member's predictions for the same query ratings, ``(n,)``.
        shots : numpy.ndarray
            Support size of the task each query rating belongs to, ``(n,)``.
        targets : numpy.ndarray
            True ratings, ``(n,)``.
        """
        missing = [m for m in self.members if m not in predictions]
        if missing:
            raise ValueError(f"predictions lack members {missing}; expected {self.members}")
        X = np.column_stack([predictions[m] for m in self.members])
        bins = self._bin(shots)
        self.weights_ = np.zeros((len(self.bin_edges), len(self.members)))
        self.intercepts_ = np.zeros(len(self.bin_edges))
        for b in range(len(self.bin_edges)):
            rows = bins == b
            if rows.sum() < 2 * len(self.members):
                # Too little validation data for this bin: an equal blend.
                self.weights_[b] = 1.0 / len(self.members)
                continue
            fit = LinearRegression(positive=True).fit(X[rows], targets[rows])
            self.weights_[b] = fit.coef_
            self.intercepts_[b] = fit.intercept_
        return self

    def weights_for(self, shots) -> dict:
        """Return the member weights used for a support of ``shots`` ratings."""
        b = int(self._bin(shots))
        return dict(zip(self.members, self.weights_[b].tolist()))

    def predict(self, predictions, shots):
        if not hasattr(self, "weights_"):
            raise RuntimeError("SupportSizeEnsemble is not fitted yet; call fit first")
        X = np.column_stack([np.asarray(predictions[m]) for m in self.members])
        bins = np.broadcast_to(self._bin(shots), (X.shape[0],))
        return (X * self.weights_[bins]).sum(axis=1) + self.intercepts_[bins]

    def to_dict(self) -> dict:
        return {"members": self.members, "bin_edges": list(self.bin_edges),
                "weights": self.weights_.tolist(), "intercepts": self.intercepts_.tolist()}

    @classmethod
    def from_dict(cls, state) -> "SupportSizeEnsemble":
        ensemble = cls(state["members"], state["bin_edges"])
        ensemble.weights_ = np.asarray(state["weights"], dtype=float)
        ensemble.intercepts_ = np.asarray(state["intercepts"], dtype=float)
        return ensemble
