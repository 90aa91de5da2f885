"""A weighted blend of adapted variants whose weights depend on the support size."""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

# Lower edges of the support-size bins: 1-2, 3-5, 6-10, 11-20 and 21 or more ratings.
DEFAULT_BIN_EDGES = (1, 3, 6, 11, 21)


# Minimum validation ratings per member for a bin to get weights of its own.
MIN_RATINGS_PER_MEMBER = 50
# Folds of the cross-validation that scores a bin's blend on people it was not fitted on.
CV_FOLDS = 5
# Standard errors by which a bin's blend or another member must beat the default member,
# per person on validation, to replace it.
SIGNIFICANCE = 2.0


def convex_weights(X, y) -> np.ndarray:
    """Least-squares weights that are non-negative and sum to 1.

    The sum constraint is imposed by a heavily weighted extra row of ones in a
    non-negative least-squares problem. Weights on the simplex keep the blend inside the
    range of its members, which makes it hard to do worse than the best member on new
    users even when the validation set is small.
    """
    penalty = 1e3 * max(1.0, float(np.abs(X).max()))
    A = np.vstack([X, np.full((1, X.shape[1]), penalty)])
    b = np.concatenate([y, [penalty]])
    weights, _ = nnls(A, b)
    return weights / weights.sum()


class SupportSizeEnsemble:
    """Blend member predictions with convex weights fitted per support-size bin.

    A person with one rating is best served by a different mix than one with fifty (the
    baseline's item means matter more, the adapted networks less), so each bin gets its
    own weights, fitted on validation users (see :func:`convex_weights`).

    Validation users are few (about a hundred on MovieLens-100K), and their errors vary
    far more from person to person than the members differ on average. A choice made on
    such noise can serve new people worse than one fixed member: on one MovieLens-100K
    split the bin of 3 to 5 ratings chose the teacher, which was 0.012 MAE worse than the
    student on test users at K=5. So every bin starts from the *default member*, the one
    with the lowest mean absolute error over all validation ratings, and moves away from
    it only on clear evidence: the bin's convex blend (scored by cross-validation over
    people, ``groups``) or another member replaces it when its mean absolute error per
    person is lower by more than ``SIGNIFICANCE`` standard errors of the paired
    per-person differences. A bin with too few validation ratings keeps the default
    member.

    Absolute error is what the product reports (MAE), and a member can have the lower
    squared error but the higher absolute error. On MovieLens-100K, for one or two
    ratings, squared error chose the user-bias baseline on two of three splits where
    absolute error chose the student, which was also better on test users.

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

    def fit(self, predictions, shots, targets, groups=None):
        """Fit the weights of every bin.

        Parameters
        ----------
        predictions : dict of str to numpy.ndarray
            Each member's predictions for the same query ratings, ``(n,)``.
        shots : numpy.ndarray
            Support size of the task each query rating belongs to, ``(n,)``.
        targets : numpy.ndarray
            True ratings, ``(n,)``.
        groups : numpy.ndarray, optional
            Who each rating belongs to, ``(n,)``; the cross-validation folds never split
            a person. Without it, ratings are assigned to folds one by one.
        """
        missing = [m for m in self.members if m not in predictions]
        if missing:
            raise ValueError(f"predictions lack members {missing}; expected {self.members}")
        X = np.column_stack([predictions[m] for m in self.members])
        targets = np.asarray(targets, dtype=float)
        if len(targets) == 0:
            raise ValueError("cannot fit the ensemble on zero validation ratings")
        groups = np.arange(len(targets)) if groups is None else np.asarray(groups)
        _, group_index = np.unique(groups, return_inverse=True)
        folds = np.random.default_rng(0).permutation(group_index.max() + 1)[group_index] % CV_FOLDS
        bins = self._bin(shots)
        default = int(np.argmin(np.abs(X - targets[:, None]).mean(axis=0)))
        self.weights_ = np.zeros((len(self.bin_edges), len(self.members)))
        self.weights_[:, default] = 1.0
        self.intercepts_ = np.zeros(len(self.bin_edges))
        for b in range(len(self.bin_edges)):
            rows = bins == b
            if rows.sum() >= MIN_RATINGS_PER_MEMBER * len(self.members):
                self.weights_[b] = self._choose(X[rows], targets[rows], folds[rows],
                                                group_index[rows], default)
        return self

    @staticmethod
    def _choose(X, y, folds, people, default) -> np.ndarray:
        """Return one bin's weights: the default member's, unless another choice is
        clearly better on validation (see the class description)."""
        chosen = np.zeros(X.shape[1])
        chosen[default] = 1.0
        held_out = np.empty_like(y)
        for fold in np.unique(folds):
            test = folds == fold
            if test.all():
                # One fold: the blend cannot be scored on people it was not fitted on.
                return chosen
            held_out[test] = X[test] @ convex_weights(X[~test], y[~test])
        _, person = np.unique(people, return_inverse=True)
        counts = np.bincount(person)
        if len(counts) < 2:
            return chosen
        baseline = np.abs(X[:, default] - y)
        candidates = {"blend": np.abs(held_out - y)}
        candidates.update({j: np.abs(X[:, j] - y) for j in range(X.shape[1]) if j != default})
        best, best_gain = None, 0.0
        for name, errors in candidates.items():
            per_person = np.bincount(person, errors - baseline) / counts
            gain = -per_person.mean()
            standard_error = per_person.std(ddof=1) / np.sqrt(len(per_person))
            if gain > SIGNIFICANCE * standard_error and gain > best_gain:
                best, best_gain = name, gain
        if best == "blend":
            return convex_weights(X, y)
        if best is not None:
            chosen = np.zeros(X.shape[1])
            chosen[best] = 1.0
        return chosen

    def weights_for(self, shots) -> dict:
        """Return the member weights used for a support of ``shots`` ratings."""
        b = int(self._bin(shots))
        return dict(zip(self.members, self.weights_[b].tolist()))

    def active_members(self, shots) -> list[str]:
        """Return the members whose weight is not 0 for a support of ``shots`` ratings.

        Only they need adapting: :meth:`predict` accepts predictions without the others.
        """
        return [name for name, weight in self.weights_for(shots).items() if weight != 0.0]

    def predict(self, predictions, shots):
        """Blend ``predictions`` (member name to scores) with the weights of ``shots``.

        Members whose weight is 0 in every bin used may be left out of ``predictions``.
        """
        if not hasattr(self, "weights_"):
            raise RuntimeError("SupportSizeEnsemble is not fitted yet; call fit first")
        present = [np.asarray(predictions[m]) for m in self.members if m in predictions]
        if not present:
            raise ValueError(f"predictions contains none of the members {self.members}")
        rows = len(present[0])
        bins = np.broadcast_to(self._bin(shots), (rows,))
        columns = []
        for index, name in enumerate(self.members):
            if name in predictions:
                columns.append(np.asarray(predictions[name], dtype=float))
            elif np.any(self.weights_[bins, index] != 0.0):
                raise ValueError(f"predictions lacks {name!r}, whose weight for this support "
                                 f"size is not 0; adapt every member of active_members")
            else:
                columns.append(np.zeros(rows))
        X = np.column_stack(columns)
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
