"""Blend item-side variants with weights that depend on how many ratings the item has."""

from __future__ import annotations

import numpy as np

from ..meta.ensemble import SupportSizeEnsemble

# Lower edges of the support-size bins: 0, 1-2, 3-5, 6-10, 11-20 and 21 or more ratings.
ITEM_BIN_EDGES = (0, 1, 3, 6, 11, 21)


class ItemSupportEnsemble:
    """A :class:`SupportSizeEnsemble` whose first bin is an item with no ratings.

    The user-side ensemble counts a support of 0 as 1, because a new user always rates
    something. A new item often has no rating at all, and then content alone must
    predict, so here K = 0 gets weights of its own. The wrapped ensemble is keyed by
    ``K + 1``.

    Parameters
    ----------
    members : list of str
    bin_edges : tuple of int
        Lower edge of each support-size bin, increasing, starting at 0.
    """

    def __init__(self, members, bin_edges=ITEM_BIN_EDGES):
        if not bin_edges or bin_edges[0] != 0:
            raise ValueError(f"bin_edges must start at 0, got {tuple(bin_edges)}")
        self.members = list(members)
        self.bin_edges = tuple(int(edge) for edge in bin_edges)
        self._blend = SupportSizeEnsemble(self.members, [edge + 1 for edge in self.bin_edges])

    def fit(self, predictions, shots, targets) -> "ItemSupportEnsemble":
        """Fit the weights of every bin; arguments as :meth:`SupportSizeEnsemble.fit`."""
        self._blend.fit(predictions, np.asarray(shots) + 1, targets)
        return self

    def weights_for(self, shots) -> dict:
        return self._blend.weights_for(int(shots) + 1)

    def active_members(self, shots) -> list[str]:
        return self._blend.active_members(int(shots) + 1)

    def predict(self, predictions, shots) -> np.ndarray:
        return self._blend.predict(predictions, np.asarray(shots) + 1)

    def to_dict(self) -> dict:
        state = self._blend.to_dict()
        state["bin_edges"] = list(self.bin_edges)
        return state

    @classmethod
    def from_dict(cls, state) -> "ItemSupportEnsemble":
        ensemble = cls(state["members"], state["bin_edges"])
        shifted = {**state, "bin_edges": [edge + 1 for edge in state["bin_edges"]]}
        ensemble._blend = SupportSizeEnsemble.from_dict(shifted)
        return ensemble
