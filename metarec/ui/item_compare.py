"""Adapt several item-side variants to one new item and gather what the page shows.

The result contains only plain data (lists, dicts, DataFrames), so the dashboard can
cache it and draw it without touching the models again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from ..serving import items as serving_items
from ..serving.items import ENSEMBLE, ItemRecommender


@dataclass
class ItemVariantResult:
    """The audience of one adapted variant and the record of its adaptation.

    Attributes
    ----------
    variant : str
    top : pandas.DataFrame
        The users predicted to like the item most relative to their usual rating (see
        :func:`audience_top`), with ``rank`` from 1.
    support_losses : list of float
    seconds : float
        Wall time of the adaptation; encoding and scoring excluded.
    weights : dict
        Ensemble member weights; empty for the other variants.
    """

    variant: str
    top: pd.DataFrame
    support_losses: list
    seconds: float
    weights: dict


@dataclass
class ItemComparison:
    """Every chosen variant adapted to the same new item.

    Attributes
    ----------
    results : dict of str to ItemVariantResult
        In the order the variants were requested.
    predictions : pandas.DataFrame
        ``variant``, ``user_id`` and ``predicted`` for every dataset user.
    groups : pandas.DataFrame
        ``variant``, ``group``, ``value``, ``users`` and ``mean predicted``.
    encode_seconds : float
        Wall time of validating and embedding the item's text, shared by every variant.
    text_cached : bool
        True if the text embedding came from the cache of texts embedded before, so
        ``encode_seconds`` contains no embedding.
    """

    results: dict
    predictions: pd.DataFrame
    groups: pd.DataFrame
    encode_seconds: float
    text_cached: bool = False

    def curves(self) -> pd.DataFrame:
        """Return the support losses as rows of ``variant``, ``step`` and ``loss``."""
        rows = [{"variant": name, "step": step, "loss": loss}
                for name, result in self.results.items()
                for step, loss in enumerate(result.support_losses)]
        return pd.DataFrame(rows, columns=["variant", "step", "loss"])

    def timings(self) -> pd.DataFrame:
        """Return ``variant`` and ``milliseconds``, the wall time of each adaptation."""
        return pd.DataFrame({
            "variant": list(self.results),
            "milliseconds": [r.seconds * 1000.0 for r in self.results.values()],
        })


def compare_item_variants(recommender: ItemRecommender, variants, ratings=None, *, title,
                          genres=(), year=None, description=None, k=10) -> ItemComparison:
    """Adapt each of ``variants`` to one new item and collect its audience.

    The item's text is embedded once and shared by every variant.

    Raises
    ------
    ValueError
        If ``variants`` is empty or names an unknown variant, ``k`` is below 1, or
        :meth:`ItemRecommender.adapt_item` rejects the ratings or the content.
    """
    variants = list(variants)
    if not variants:
        raise ValueError(f"choose at least one variant of {recommender.variants}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    # NOTE: the serving layer does not report cache hits, so this counts the misses of
    # its private per-text embedding cache. Another thread embedding at the same moment
    # would turn a hit into a reported miss, but the dashboard embeds on one thread.
    misses_before = serving_items._embed.cache_info().misses
    started = time.perf_counter()
    content = recommender.new_item_content(title, genres, year, description)
    encode_seconds = time.perf_counter() - started
    text_cached = serving_items._embed.cache_info().misses == misses_before

    usual = usual_ratings(recommender)
    # The ensemble reuses the adaptations of its members that are also chosen, so its
    # time is the sum of theirs as shown, and they are not adapted twice.
    adaptations = {name: recommender.adapt_item(name, ratings, content=content)
                   for name in variants if name != ENSEMBLE}
    if ENSEMBLE in variants:
        adaptations[ENSEMBLE] = recommender.adapt_item(ENSEMBLE, ratings, content=content,
                                                       members=adaptations)
    results, predictions, groups = {}, [], []
    for name in variants:
        adaptation = adaptations[name]
        everyone = adaptation.predictions()
        top = audience_top(everyone, usual, k)
        results[name] = ItemVariantResult(name, top, list(adaptation.support_losses),
                                          adaptation.seconds, dict(adaptation.weights))
        predictions.append(pd.DataFrame({"variant": name, "user_id": everyone["user_id"],
                                         "predicted": everyone["predicted"]}))
        group_means = adaptation.group_means()
        group_means.insert(0, "variant", name)
        groups.append(group_means)
    return ItemComparison(results, pd.concat(predictions, ignore_index=True),
                          pd.concat(groups, ignore_index=True), encode_seconds,
                          text_cached)


def new_user_ratings(recommender: ItemRecommender, variants, ratings=None, *, title,
                     genres=(), year=None, description=None, person=None) -> pd.DataFrame:
    """Return how a new user would rate a new item: both are unknown to the models.

    Each of ``variants`` adapts to the item's ``ratings`` by known users. It then scores
    a person described only by ``person``, a dict with any of ``age``, ``gender``,
    ``occupation`` and ``zip_code``. Without them the person is wholly unknown.

    Returns
    -------
    pandas.DataFrame
        ``variant`` and ``predicted``, one row per variant in the order given.

    Raises
    ------
    ValueError
        As :func:`compare_item_variants`, or if a field of ``person`` is invalid.
    """
    variants = list(variants)
    if not variants:
        raise ValueError(f"choose at least one variant of {recommender.variants}")
    content = recommender.new_item_content(title, genres, year, description)
    adaptations = {name: recommender.adapt_item(name, ratings, content=content)
                   for name in variants if name != ENSEMBLE}
    if ENSEMBLE in variants:
        adaptations[ENSEMBLE] = recommender.adapt_item(ENSEMBLE, ratings, content=content,
                                                       members=adaptations)
    person = dict(person or {})
    return pd.DataFrame({"variant": variants,
                         "predicted": [adaptations[name].predict_new_user(**person)
                                       for name in variants]})


def usual_ratings(recommender: ItemRecommender) -> pd.Series | None:
    """Return each user's usual rating, by user id, or None without a user-bias baseline.

    The usual rating is the training mean plus the user's shrunk bias, as the
    ``user-bias`` baseline estimated it from the training ratings. A user those ratings
    lack gets the training mean.
    """
    baseline = recommender.classical.get("user-bias")
    if baseline is None:
        return None
    usual = baseline.mean_ + baseline.user_bias(recommender.user_ids)
    return pd.Series(usual, index=recommender.user_ids)


def audience_top(predictions: pd.DataFrame, usual: pd.Series | None, k: int) -> pd.DataFrame:
    """Return the ``k`` users who have not rated the item, most drawn to it first.

    ``predictions`` has ``user_id``, ``rated`` and ``predicted``, as
    :meth:`~metarec.serving.items.ItemAdaptation.predictions` returns it. Users are
    ranked by ``lift``, the predicted rating minus their ``usual`` rating, so a user who
    rates everything high does not top every item's list. Without ``usual`` the lift is
    NaN and users are ranked by predicted rating. Ties go to the lower user id. The
    result has ``rank`` from 1, the prediction columns, ``usual`` and ``lift``.
    """
    frame = predictions[~predictions["rated"]].drop(columns=["rated"])
    if usual is None:
        frame = frame.assign(usual=float("nan"), lift=float("nan"))
        order = "predicted"
    else:
        frame = frame.assign(usual=frame["user_id"].map(usual).to_numpy(dtype=float))
        frame["lift"] = frame["predicted"] - frame["usual"]
        order = "lift"
    top = frame.sort_values([order, "user_id"], ascending=[False, True],
                            kind="stable").head(k).reset_index(drop=True)
    top.insert(0, "rank", range(1, len(top) + 1))
    return top
