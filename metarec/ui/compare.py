"""Adapt several variants to one new user and gather what the dashboard shows.

The result contains only plain data (lists, dicts, DataFrames), so the dashboard can cache
it and draw it without touching the models again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..models.baselines import RandomRanker
from ..serving.recommender import ENSEMBLE, Recommender

SCORE_COLUMNS = ["variant", "item_id", "title", "score", "in_top"]


@dataclass
class VariantResult:
    """The top list of one adapted variant and the record of its adaptation.

    Attributes
    ----------
    variant : str
    top : pandas.DataFrame
        ``rank`` (from 1), ``item_id``, ``title`` and ``score`` (predicted rating) of
        the best-scored items the user has not rated.
    support_losses : list of float
        Support loss before each inner step and after the last, as
        :attr:`metarec.serving.recommender.Adaptation.support_losses`.
    seconds : float
        Wall time of the adaptation, scoring excluded.
    weights : dict
        Ensemble member weights for this number of ratings. Empty for the other variants.
    is_ranker : bool
        Whether ``score`` is a ranking score (popularity, random) instead of a
        predicted rating.
    weight_bin : tuple
        For the ensemble, the minimum and maximum number of ratings that get the same
        ``weights``, as :func:`support_bin` returns them. Empty for the other variants.
    score_label : str
        The kind of ``score``, as :meth:`Recommender.score_label` names it.
    top_of_scale : float or None
        The top of the rating scale, at which predicted ratings are capped. None for a
        ranking score, or where not known.
    all_tied : bool
        Whether every item in ``top`` and the best item left out of it have exactly the
        same score, so that the list is an arbitrary pick (global-mean's always is).
    """

    variant: str
    top: pd.DataFrame
    support_losses: list
    seconds: float
    weights: dict
    is_ranker: bool = False
    weight_bin: tuple = ()
    score_label: str = "predicted rating"
    top_of_scale: float | None = None
    all_tied: bool = False


@dataclass
class Comparison:
    """Every chosen variant adapted to the same ratings.

    Attributes
    ----------
    results : dict of str to VariantResult
        In the order the variants were requested.
    scores : pandas.DataFrame
        ``variant``, ``item_id``, ``title``, ``score`` and ``in_top`` (whether the item
        is in that variant's own top list, never for a list that is
        :attr:`VariantResult.all_tied`, which adds no items): each rating variant's
        predicted rating for
        every item that some rating variant puts in its top list. Ranking baselines are
        left out, because their scores are on another scale.
    """

    results: dict
    scores: pd.DataFrame

    def curves(self) -> pd.DataFrame:
        """Return the support losses as rows of ``variant``, ``step`` and ``loss``.

        Ranking baselines are left out, because the squared error of a ranking score
        against a rating means nothing.
        """
        rows = [
            {"variant": name, "step": step, "loss": loss}
            for name, result in self.results.items() if not result.is_ranker
            for step, loss in enumerate(result.support_losses)
        ]
        return pd.DataFrame(rows, columns=["variant", "step", "loss"])

    def classifier_curves(self) -> pd.DataFrame:
        """Return the support losses of like/dislike classifiers, as :meth:`curves` does.

        Those are ranking variants that take inner steps (student-like). Their loss is
        the log loss of like against dislike, on another scale than a squared error.
        """
        rows = [
            {"variant": name, "step": step, "loss": loss}
            for name, result in self.results.items()
            if result.is_ranker and len(result.support_losses) > 1
            for step, loss in enumerate(result.support_losses)
        ]
        return pd.DataFrame(rows, columns=["variant", "step", "loss"])

    def timings(self) -> pd.DataFrame:
        """Return ``variant`` and ``milliseconds``, the wall time of each adaptation."""
        return pd.DataFrame({
            "variant": list(self.results),
            "milliseconds": [r.seconds * 1000.0 for r in self.results.values()],
        })


def ranked_top(adaptation, k: int, rating_scale=None):
    """Return ``adaptation``'s top ``k`` with a ``rank`` column, and whether it is all tied.

    The second value is :attr:`VariantResult.all_tied`. ``rating_scale`` (low, high)
    is where predicted ratings are capped, None for ranking scores. Scores capped at
    either end do not count as tied, because capping makes different scores equal.
    """
    extended = adaptation.top_k(k + 1)
    top = extended.iloc[:k].reset_index(drop=True)
    top.insert(0, "rank", np.arange(1, len(top) + 1))
    scores = extended["score"].to_numpy()
    capped = rating_scale is not None and not rating_scale[0] < scores[0] < rating_scale[1]
    all_tied = bool(len(extended) > k and np.all(scores == scores[0]) and not capped)
    return top, all_tied


def starting_scores(recommender: Recommender, variant: str, user=None) -> np.ndarray:
    """Return ``variant``'s raw score of every catalogue item when adapted to no ratings.

    The scores are in the order of ``recommender.item_ids`` and unclipped, as
    :meth:`Adaptation.top_k` ranks by them. They are the variant's starting point, from
    which :func:`count_new_picks` measures how much a person's ratings changed its list.
    """
    adaptation = recommender.adapt({}, variant, user=user)
    return adaptation.predict(recommender.item_ids, clip=False)


def count_new_picks(top_items, start_scores, catalogue, rated, k=None) -> int:
    """Count the items of ``top_items`` that are not in the starting top list.

    The starting top list is the ``k`` best of ``start_scores`` (scores of the items of
    ``catalogue``, as :func:`starting_scores` returns them), leaving out the ``rated``
    items as the adapted list does. ``k`` defaults to the length of ``top_items``. Ties
    go to the earlier catalogue item, as in :meth:`Adaptation.top_k`.
    """
    top_items = [int(item) for item in top_items]
    k = len(top_items) if k is None else int(k)
    scores = np.asarray(start_scores, dtype=float).copy()
    catalogue = np.asarray(catalogue)
    if rated:
        scores[np.isin(catalogue, list(rated))] = -np.inf
    order = np.argsort(-scores, kind="stable")[:k]
    start_top = set(catalogue[order].tolist())
    return sum(item not in start_top for item in top_items)


def has_starting_point(recommender: Recommender, variant: str) -> bool:
    """Return whether comparing ``variant``'s list with its no-ratings list means anything.

    The random baseline draws new scores for every set of ratings, so its list differs
    from its starting one without being any more personal.
    """
    return not isinstance(recommender.classical.get(variant), RandomRanker)


def support_bin(bin_edges, n_ratings) -> tuple:
    """Return the minimum and maximum support size of the bin that ``n_ratings`` is in.

    ``bin_edges`` are the ensemble's increasing lower bin edges, starting at 1. The
    maximum is None for the last bin. No ratings count as one, as in the ensemble itself.
    """
    edges = list(bin_edges)
    index = int(np.searchsorted(edges, max(int(n_ratings), 1), side="right")) - 1
    upper = edges[index + 1] - 1 if index + 1 < len(edges) else None
    return edges[index], upper


def compare_variants(recommender: Recommender, ratings, variants, user=None,
                     k=10) -> Comparison:
    """Adapt each of ``variants`` to ``ratings`` and ``user``, and score their top items.

    Raises
    ------
    ValueError
        If ``variants`` is empty or names an unknown variant, if ``k`` is below 1, or if
        :meth:`Recommender.adapt` rejects the ratings or the user fields.
    """
    variants = list(variants)
    if not variants:
        raise ValueError(f"choose at least one variant of {recommender.variants}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")

    # The ensemble reuses the adaptations of its members that are also chosen, so its
    # time is the sum of theirs as shown, and they are not adapted twice.
    adaptations = {name: recommender.adapt(ratings, name, user=user)
                   for name in variants if name != ENSEMBLE}
    if ENSEMBLE in variants:
        adaptations[ENSEMBLE] = recommender.adapt(ratings, ENSEMBLE, user=user,
                                                  members=adaptations)
    adaptations = {name: adaptations[name] for name in variants}

    results = {}
    for name, adaptation in adaptations.items():
        scale = None if adaptation.is_ranker else recommender.rating_scale
        top, all_tied = ranked_top(adaptation, k, scale)
        top_of_scale = None if scale is None else float(scale[1])
        weight_bin = ()
        if adaptation.weights:
            weight_bin = support_bin(recommender.ensemble.bin_edges, len(adaptation.rated))
        results[name] = VariantResult(name, top, list(adaptation.support_losses),
                                      adaptation.seconds, dict(adaptation.weights),
                                      adaptation.is_ranker, weight_bin,
                                      recommender.score_label(name), top_of_scale,
                                      all_tied)
    rating_variants = [name for name, result in results.items() if not result.is_ranker]

    # Score the union of the top lists with every variant, so that the chart can show
    # how far each variant ranks the others' picks below its own. A list picked among
    # equal scores is no choice of the variant's, so it adds no titles.
    titles = {}
    for name in rating_variants:
        if results[name].all_tied:
            continue
        top = results[name].top
        titles.update(zip(top["item_id"].tolist(), top["title"]))
    union = np.array(list(titles), dtype=np.int64)
    frames = []
    for name in rating_variants:
        adaptation = adaptations[name]
        own = set() if results[name].all_tied else set(results[name].top["item_id"].tolist())
        frames.append(pd.DataFrame({
            "variant": name,
            "item_id": union,
            "title": [titles[i] for i in union.tolist()],
            "score": adaptation.predict(union),
            "in_top": [int(i) in own for i in union],
        }))
    if not frames:
        return Comparison(results, pd.DataFrame(columns=SCORE_COLUMNS))
    return Comparison(results, pd.concat(frames, ignore_index=True))
