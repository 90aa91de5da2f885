"""Explain a top list: which ratings and genres pushed each recommended item up.

Explanations are measured by leaving ratings out, with the variant itself as a black
box. The effect of one rated item on a recommended item is the item's score with every
rating minus its score after adapting again without that rating. The effect of a genre
is the same with every rated item of that genre left out at once. So an effect is
exactly how much the score would change without those ratings, for any variant,
including the ensemble and the classical baselines.

Effects need not add up: leaving two ratings out together can change a score by more or
less than the two effects summed, because adaptation is not linear in the ratings.
:attr:`Explanation.items` reports the sum of the single-rating effects next to the total
change from the unadapted start, so the page can show how much of the change the
single-rating effects account for.

Variants whose scores ignore the ratings (:func:`ignores_ratings`) are not adapted again:
every effect would be noise, and the random ranking would be drawn anew for each left-out
rating. Their explanation has no effects, a :attr:`Explanation.note` that explains why, and
the scores of the top list.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data import Dataset
from ..models.baselines import GlobalMean, ItemMean, PopularityRanker, RandomRanker
from ..serving.recommender import Recommender

ITEM_COLUMNS = ["item_id", "title", "score", "start_score", "change", "single_effects_sum",
                "item_mean", "item_ratings"]
RATED_COLUMNS = ["item_id", "rated_item_id", "rated_title", "rating", "effect"]
GENRE_COLUMNS = ["item_id", "genre", "rated_items", "effect"]
# Baselines whose scores do not depend on the ratings. Exact types, because
# UserBiasBaseline subclasses ItemMean and does use them.
RATING_FREE_MODELS = (GlobalMean, ItemMean, PopularityRanker, RandomRanker)
# The reason each of them ignores the ratings, shown in Explanation.note.
RATING_FREE_REASONS = {
    GlobalMean: "predicts the mean training rating for every item",
    ItemMean: "predicts each item's mean training rating",
    PopularityRanker: "ranks items by their number of training ratings",
    RandomRanker: "ranks items at random, and your ratings only seed the draw",
}


@dataclass
class Explanation:
    """Why one variant scores some items as it does for one person's ratings.

    Attributes
    ----------
    variant : str
    is_ranker : bool
        Whether scores are ranking scores instead of predicted ratings; then
        ``item_mean`` cannot be compared with them.
    items : pandas.DataFrame
        One row per explained item. ``score`` is its score with every rating and
        ``start_score`` with none (the meta-learned start, or the baseline's prior).
        ``change`` is ``score - start_score`` and ``single_effects_sum`` the sum of the
        rated-item effects. ``item_mean`` and ``item_ratings`` are the item's mean
        rating and number of ratings in the dataset. ``item_id`` and ``title`` name it.
        For a variant that ignores the ratings, ``start_score`` is ``score``.
    rated : pandas.DataFrame
        One row per explained item and rated item: ``effect`` is the explained item's
        score minus its score without that one rating. Positive effects pushed it up.
    genres : pandas.DataFrame
        One row per explained item and genre of the rated items: ``effect`` is the
        score minus the score without every rated item of that genre, and
        ``rated_items`` counts those items.
    adaptations : int
        Number of adaptations the explanation took.
    seconds : float
        Wall time of the whole explanation.
    note : str
        The reason there are no effects, for a variant whose scores ignore the
        ratings. Empty for the other variants.
    """

    variant: str
    is_ranker: bool
    items: pd.DataFrame
    rated: pd.DataFrame
    genres: pd.DataFrame
    adaptations: int
    seconds: float
    note: str = ""

    def drivers(self, item_id, limit=3) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Return the rated items that pushed ``item_id`` up most and down most.

        Each frame has at most ``limit`` rows of :attr:`rated` with an effect above
        (or below) zero, strongest first.
        """
        rows = self.rated[self.rated["item_id"] == item_id]
        up = rows[rows["effect"] > 0].sort_values("effect", ascending=False)
        down = rows[rows["effect"] < 0].sort_values("effect")
        return up.head(limit), down.head(limit)


def raw_scores(adaptation, item_ids) -> np.ndarray:
    """Return an adaptation's scores for ``item_ids`` without clipping to the scale.

    :meth:`~metarec.serving.recommender.Adaptation.predict` clips ratings to the scale,
    which would hide what pushed an item predicted above the top of the scale.
    """
    return adaptation.predict(item_ids, clip=False)


def ignores_ratings(recommender: Recommender, variant: str) -> bool:
    """Return whether ``variant``'s scores do not depend on the person's ratings."""
    classical = getattr(recommender, "classical", {})
    return type(classical.get(variant)) in RATING_FREE_MODELS


def item_statistics(dataset: Dataset) -> pd.DataFrame:
    """Return each item's mean rating and number of ratings, indexed by item id."""
    grouped = dataset.ratings.groupby("item_id")["rating"]
    return pd.DataFrame({"mean": grouped.mean(), "count": grouped.size()})


def explain_items(recommender: Recommender, dataset: Dataset, ratings: dict, variant: str,
                  item_ids, user=None) -> Explanation:
    """Measure how each rating and each rated genre moves ``variant``'s score of items.

    Parameters
    ----------
    recommender : Recommender
    dataset : Dataset
        The data the models were trained on; gives titles, genres and item means.
    ratings : dict of int to float
        The person's ratings, ``{item_id: rating}``.
    variant : str
        One of ``recommender.variants``.
    item_ids : sequence of int
        Items to explain, usually the variant's top list.
    user : dict, optional
        Demographics, passed to every adaptation unchanged.

    Returns
    -------
    Explanation

    Raises
    ------
    ValueError
        If ``ratings`` is empty (there is nothing to explain), or if
        :meth:`Recommender.adapt` rejects the ratings, the variant or the user.
    """
    if not ratings:
        raise ValueError("rate at least one item to explain recommendations")
    started = time.perf_counter()
    items = np.asarray(list(item_ids), dtype=np.int64)
    ratings = {int(item): float(value) for item, value in ratings.items()}
    titles = dataset.item_titles()
    genres_of = dict(zip(dataset.items["item_id"], dataset.items["genres"]))

    if ignores_ratings(recommender, variant):
        return _rating_free_explanation(recommender, dataset, ratings, variant, items, user,
                                        started)

    def scores(subset):
        return raw_scores(recommender.adapt(subset, variant, user=user), items)

    full = scores(ratings)
    start = scores({})
    adaptations = 2

    # Leave each rating out in turn.
    rated_frames = []
    single_sum = np.zeros(len(items))
    for rated_item, value in ratings.items():
        without = {item: r for item, r in ratings.items() if item != rated_item}
        effect = full - scores(without)
        adaptations += 1
        single_sum += effect
        rated_frames.append(pd.DataFrame({
            "item_id": items, "rated_item_id": rated_item,
            "rated_title": titles.get(rated_item, str(rated_item)), "rating": value,
            "effect": effect}))

    # Leave every rated item of one genre out at once.
    rated_genres = {}
    for rated_item in ratings:
        for genre in genres_of.get(rated_item, ()):
            rated_genres.setdefault(genre, []).append(rated_item)
    genre_frames = []
    for genre in [g for g in dataset.genres if g in rated_genres]:
        members = set(rated_genres[genre])
        without = {item: r for item, r in ratings.items() if item not in members}
        effect = full - scores(without)
        adaptations += 1
        genre_frames.append(pd.DataFrame({
            "item_id": items, "genre": genre, "rated_items": len(members),
            "effect": effect}))

    return Explanation(
        variant=variant,
        is_ranker=recommender.is_ranker(variant),
        items=_item_rows(dataset, items, full, start, single_sum),
        rated=_concat(rated_frames, RATED_COLUMNS),
        genres=_concat(genre_frames, GENRE_COLUMNS),
        adaptations=adaptations,
        seconds=time.perf_counter() - started,
    )


def _rating_free_explanation(recommender, dataset, ratings, variant, items, user,
                             started) -> Explanation:
    """Explain a variant that ignores the ratings: its top-list scores and no effects."""
    # Score the whole catalogue and pick ``items`` out, as the top list does. The random
    # ranker draws one score per requested position, so scoring only ``items`` would
    # give them other numbers.
    adaptation = recommender.adapt(ratings, variant, user=user)
    catalogue = recommender.item_ids
    positions = pd.Index(catalogue).get_indexer(items)
    if (positions < 0).any():
        unknown = items[positions < 0].tolist()
        raise ValueError(f"items {unknown} are not in the models' catalogue; explain "
                         "items of the variant's top list")
    full = raw_scores(adaptation, catalogue)[positions]
    reason = RATING_FREE_REASONS[type(recommender.classical[variant])]
    note = (f"{variant} {reason}. Your ratings tell it nothing about what you like, so "
            "there are no rating or genre effects to show.")
    return Explanation(
        variant=variant,
        is_ranker=recommender.is_ranker(variant),
        items=_item_rows(dataset, items, full, full, np.zeros(len(items))),
        rated=pd.DataFrame(columns=RATED_COLUMNS),
        genres=pd.DataFrame(columns=GENRE_COLUMNS),
        adaptations=1,
        seconds=time.perf_counter() - started,
        note=note,
    )


def _item_rows(dataset, items, full, start, single_sum) -> pd.DataFrame:
    """Return :attr:`Explanation.items` for scores with all ratings and with none."""
    titles = dataset.item_titles()
    stats = item_statistics(dataset).reindex(items)
    return pd.DataFrame({
        "item_id": items,
        "title": [titles.get(int(i), str(i)) for i in items],
        "score": full,
        "start_score": start,
        "change": full - start,
        "single_effects_sum": single_sum,
        "item_mean": stats["mean"].to_numpy(),
        "item_ratings": stats["count"].fillna(0).astype(int).to_numpy(),
    })


def _concat(frames, columns) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def explanation_table(explanation: Explanation, limit=2) -> pd.DataFrame:
    """Return one readable row per explained item for the dashboard.

    Columns: ``title``, ``score``, ``item mean``, ``pushed up by``, ``pulled down by``
    and ``your genres`` (the genres of rated items whose ratings moved the score most,
    with their effects).
    Effects are in the score's own units, signed, with two decimals.
    """
    rows = []
    for item in explanation.items.itertuples(index=False):
        up, down = explanation.drivers(item.item_id, limit)
        genres = explanation.genres[explanation.genres["item_id"] == item.item_id]
        genres = genres.reindex(genres["effect"].abs().sort_values(ascending=False).index)
        genres = genres[genres["effect"].abs() >= 0.005].head(limit)
        mean = ("–" if np.isnan(item.item_mean)
                else f"{item.item_mean:.2f} ({item.item_ratings:,} ratings)")
        rows.append({
            "title": item.title,
            "score": item.score,
            "item mean": mean,
            "pushed up by": _effects(up) or "–",
            "pulled down by": _effects(down) or "–",
            "your genres": ", ".join(f"{g.genre} {g.effect:+.2f}"
                                     for g in genres.itertuples()) or "–",
        })
    return pd.DataFrame(rows)


def _effects(rows) -> str:
    return ", ".join(f"{r.rated_title} ({r.rating:g}★) {r.effect:+.2f}"
                     for r in rows.itertuples())
