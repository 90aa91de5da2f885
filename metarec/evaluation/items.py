"""Score item-side variants on held-out new items.

For each new item, a variant adapts to K users' ratings of it (K = 0: content only), then

* predicts the ratings of 10 other users who rated it (MAE, RMSE, nDCG@1 and @3
  re-ranking those users, AUC of the like/dislike split), and
* optionally ranks every user outside the support as the audience to show the item
  to. A query user who liked it (4 or more on 1 to 5 stars) is relevant (nDCG@10,
  precision@10, recall@10).

The metrics are those of :mod:`metarec.evaluation.evaluate`, computed per item and then
averaged over items.
"""

from __future__ import annotations

import pandas as pd

from ..data.dataset import like_threshold
from ..item_training import item_tasks
from .evaluate import task_metrics


def evaluate_item_tasks(recommender, tasks, variants=None, catalogue=False) -> pd.DataFrame:
    """Return one row per variant with every metric averaged over item ``tasks``."""
    variants = variants or recommender.variants
    users = recommender.user_ids if catalogue else None
    rows = []
    for variant in variants:
        query = recommender.score_tasks(variant, tasks)
        full = (recommender.score_tasks(variant, tasks, users) if catalogue
                else [None] * len(tasks))
        threshold = like_threshold(recommender.rating_scale)
        per_task = pd.DataFrame([task_metrics(t, q, users, c, like_threshold=threshold)
                                 for t, q, c in zip(tasks, query, full)])
        rows.append({"variant": variant, "items": len(tasks),
                     **per_task.mean(skipna=True).to_dict()})
    return pd.DataFrame(rows)


def evaluate_item_scenario(recommender, dataset, shots_list, part="test", variants=None,
                           seed=0, min_ratings=13, max_ratings=100,
                           catalogue=False, query_size=10) -> pd.DataFrame:
    """Score ``part`` items of the scenario the item models were trained for.

    The split saved in the models' manifest decides which items (and, for
    ``new-user-new-item``, which users) form the tasks, so a run repeats exactly. Items
    with fewer than ``min_ratings`` or more than ``max_ratings`` held-out ratings are
    left out, and ``None`` turns a limit off.

    Returns
    -------
    pandas.DataFrame
        One row per variant and support size, with ``shots`` as text.
    """
    from ..tasks.scenarios import ScenarioSplit

    split = ScenarioSplit.from_dict(recommender.manifest["scenario"])
    ratings = split.held_out_ratings(dataset.ratings, part)
    items = split.held_out_items(part)
    frames = []
    for shots in shots_list:
        tasks = item_tasks(ratings, items, shots, seed=seed, query_size=query_size,
                           min_ratings=min_ratings, max_ratings=max_ratings)
        if not tasks:
            continue
        frame = evaluate_item_tasks(recommender, tasks, variants, catalogue)
        frame.insert(1, "shots", str(shots))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
