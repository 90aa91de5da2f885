"""Implicit feedback (who interacted with what) as like/dislike data.

Many products log clicks, plays or purchases rather than ratings. Such a log has
positives only, so a classifier needs negatives: for each person, items they never
touched are drawn at random from the catalogue and labelled as dislikes. The result is a
:class:`Dataset` whose interactions read as 5 (a like: 4 or more) and whose sampled
negatives read as 1, which the ``like`` task of every meta-learner trains on unchanged.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .dataset import Dataset

LIKE, DISLIKE = 5.0, 1.0


def implicit_to_like(dataset: Dataset, negatives=1.0, seed=0) -> Dataset:
    """Label every interaction a like and add sampled non-interactions as dislikes.

    Parameters
    ----------
    dataset : Dataset
        Interactions; the ``rating`` column is ignored (a count, a 1, or a rating).
        Repeated user–item pairs count once.
    negatives : float
        Sampled dislikes per interaction of each person, at most as many as the items
        the person never touched.
    seed : int
        Seed of the negative sampling.

    Returns
    -------
    Dataset
        Named ``<name>-implicit``, with rating scale 1 to 5.

    Raises
    ------
    ValueError
        If ``negatives`` is not positive or the dataset has no interactions.
    """
    if not negatives > 0:
        raise ValueError(f"negatives must be positive, got {negatives!r}")
    positives = dataset.ratings.drop_duplicates(["user_id", "item_id"])
    if positives.empty:
        raise ValueError(f"{dataset.name} has no interactions to learn likes from")
    catalogue = np.asarray(dataset.items["item_id"])
    rng = np.random.default_rng(seed)
    sampled = []
    for user, rows in positives.groupby("user_id", sort=True):
        unseen = np.setdiff1d(catalogue, rows["item_id"].to_numpy(), assume_unique=False)
        count = min(len(unseen), int(round(negatives * len(rows))))
        if count == 0:
            continue
        items = rng.choice(unseen, size=count, replace=False)
        sampled.append(pd.DataFrame({"user_id": user, "item_id": items, "rating": DISLIKE,
                                     "timestamp": int(rows["timestamp"].max())}))
    likes = positives.assign(rating=LIKE)
    ratings = pd.concat([likes, *sampled], ignore_index=True)
    ratings = ratings.astype({"rating": float}).sort_values(["user_id", "timestamp"],
                                                            kind="stable")
    return replace(dataset, name=f"{dataset.name}-implicit",
                   ratings=ratings.reset_index(drop=True), rating_scale=(DISLIKE, LIKE),
                   source=f"{dataset.source} (implicit feedback, {negatives:g} sampled "
                          f"dislikes per interaction, seed {seed})")
