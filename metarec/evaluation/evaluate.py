"""Score variants on held-out users' query ratings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..meta.batching import collate
from ..tasks import make_tasks
from .metrics import mae, ndcg_at_k, rmse

BATCH = 256


def predict_tasks(recommender, variant, tasks, user_features) -> list[np.ndarray]:
    """Adapt ``variant`` to every task's support set and predict its query ratings.

    Neural variants adapt many tasks at once with ``vmap``; predictions are clipped to
    the rating scale. Returns one array of query predictions per task.
    """
    low, high = recommender.rating_scale
    if variant in recommender.learners:
        learner = recommender.learners[variant]
        out = []
        for start in range(0, len(tasks), BATCH):
            chunk = tasks[start:start + BATCH]
            batch = collate(chunk, recommender.encoder, user_features, recommender.prior,
                            target=learner.task)
            with torch.no_grad():
                scores, _, _ = learner.adapt_and_predict(batch, first_order=True)
            scores = scores.clamp(low, high).numpy()
            out += [scores[i, :len(t.query_items)] for i, t in enumerate(chunk)]
        return out
    if variant == "baseline":
        return [recommender.baseline.predict(t.support_items, t.support_ratings, t.query_items)
                for t in tasks]
    if variant == "ensemble":
        members = {m: predict_tasks(recommender, m, tasks, user_features)
                   for m in recommender.ensemble.members}
        return [np.clip(recommender.ensemble.predict({m: p[i] for m, p in members.items()},
                                                     t.shots), low, high)
                for i, t in enumerate(tasks)]
    raise ValueError(f"unknown variant {variant!r}; choose one of {recommender.variants}")


def evaluate_users(recommender, ratings, user_ids, user_features, shots_list, variants=None,
                   seed=0, min_ratings=13, max_ratings=None) -> pd.DataFrame:
    """Return one row per variant and support size: users, MAE, RMSE and nDCG@3.

    Metrics are computed per user on that user's query, then averaged over users.
    """
    variants = variants or recommender.variants
    rows = []
    for shots in shots_list:
        tasks = make_tasks(ratings, user_ids, shots, seed=seed, min_ratings=min_ratings,
                           max_ratings=max_ratings)
        if not tasks:
            continue
        for variant in variants:
            predictions = predict_tasks(recommender, variant, tasks, user_features)
            rows.append({
                "variant": variant,
                "shots": str(shots),
                "users": len(tasks),
                "mae": np.mean([mae(t.query_ratings, p) for t, p in zip(tasks, predictions)]),
                "rmse": np.mean([rmse(t.query_ratings, p) for t, p in zip(tasks, predictions)]),
                "ndcg@3": np.mean([ndcg_at_k(t.query_ratings, p, 3)
                                   for t, p in zip(tasks, predictions)]),
            })
    return pd.DataFrame(rows)
