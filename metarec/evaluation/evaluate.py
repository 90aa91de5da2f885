"""Score variants on held-out users: rating error, query re-ranking, catalogue ranking.

For each task, a variant adapts to the support set, then

* predicts the query ratings (MAE, RMSE, and nDCG@1 and @3 re-ranking the query items;
  AUC of the like/dislike split, a like being a rating in the top quarter of the
  scale, 4 or more on 1 to 5), and
* ranks every catalogue item outside the support (in ``new-user-new-item``, every new
  item), equal scores in a random order seeded by the task; a liked query item is
  relevant (nDCG@10, precision@10, recall@10).

Metrics are computed per task, then averaged over tasks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..data.dataset import like_threshold
from ..meta.batching import collate
from ..tasks import make_tasks
from .metrics import auc, catalogue_ndcg_at_k, mae, ndcg_at_k, precision_at_k, recall_at_k, rmse

QUERY_BATCH, CATALOGUE_BATCH = 256, 32
# The like threshold of a 1-to-5 scale, the default where no scale is given.
LIKE_THRESHOLD = like_threshold((1.0, 5.0))
TOP_K = 10
METRICS = ("mae", "rmse", "ndcg@1", "ndcg@3", "auc", "catalogue_ndcg@10", "precision@10",
           "recall@10")
# Display name of each metric, for tables and the console.
METRIC_NAMES = {"mae": "MAE", "rmse": "RMSE", "ndcg@1": "nDCG@1", "ndcg@3": "nDCG@3",
                "auc": "AUC", "catalogue_ndcg@10": "catalogue nDCG@10",
                "precision@10": "precision@10", "recall@10": "recall@10"}


def score_tasks(recommender, variant, tasks, user_features, items=None) -> list[np.ndarray]:
    """Adapt ``variant`` to every task's support set and score items.

    With ``items=None`` each task's query items are scored. Otherwise every task scores
    the same ``items`` (dataset ids), and the result is one ``(n_items,)`` array per task.
    Rating predictions are clipped to the scale; ranking baselines keep their scores,
    and networks trained for the ``like`` task give like probabilities.
    """
    low, high = recommender.rating_scale
    if variant in recommender.learners:
        return _score_network(recommender, variant, tasks, user_features, items, low, high)
    if variant in recommender.classical:
        model = recommender.classical[variant]
        return [model.predict(t.support_items, t.support_ratings,
                              t.query_items if items is None else items) for t in tasks]
    if variant == "ensemble" and recommender.ensemble is not None:
        members = {m: score_tasks(recommender, m, tasks, user_features, items)
                   for m in recommender.ensemble.members}
        return [np.clip(recommender.ensemble.predict({m: p[i] for m, p in members.items()},
                                                     t.shots), low, high)
                for i, t in enumerate(tasks)]
    raise ValueError(f"unknown variant {variant!r}; choose one of {recommender.variants}")


def _score_network(recommender, variant, tasks, user_features, items, low, high):
    learner = recommender.learners[variant]
    size = QUERY_BATCH if items is None else CATALOGUE_BATCH
    rows = None if items is None else torch.as_tensor(recommender.encoder.item_rows(items))
    out = [None] * len(tasks)
    # Tasks adapt with the steps the serving schedule gives their support size; a batch
    # shares one count, so tasks are grouped by it.
    by_steps = {}
    for position, task in enumerate(tasks):
        by_steps.setdefault(learner.steps_for(task.shots), []).append(position)
    for steps, positions in by_steps.items():
        for start in range(0, len(positions), size):
            chunk_positions = positions[start:start + size]
            chunk = [tasks[p] for p in chunk_positions]
            batch = collate(chunk, recommender.encoder, user_features, recommender.prior,
                            target=learner.task,
                            like_threshold=like_threshold(recommender.rating_scale))
            extra = None if rows is None else rows.expand(len(chunk), -1)
            with torch.no_grad():
                query, _, scored = learner.adapt_and_predict(
                    batch, steps=steps, extra_rows=extra, first_order=True)
            scores = query if rows is None else scored
            scores = (torch.sigmoid(scores) if learner.task == "like"
                      else scores.clamp(low, high)).numpy()
            for i, (p, t) in enumerate(zip(chunk_positions, chunk)):
                out[p] = scores[i, :len(t.query_items)] if rows is None else scores[i]
    return out


def task_metrics(task, query_scores, catalogue_ids=None, catalogue_scores=None,
                 is_ranker=False, like_threshold=LIKE_THRESHOLD) -> dict:
    """Return every metric of one task; rating errors are NaN for a ranking baseline.

    A query rating of ``like_threshold`` or more is a like for AUC and relevant for the
    catalogue metrics.
    """
    truth = task.query_ratings
    liked = (truth >= like_threshold).astype(int)
    row = {
        "mae": np.nan if is_ranker else mae(truth, query_scores),
        "rmse": np.nan if is_ranker else rmse(truth, query_scores),
        "ndcg@1": ndcg_at_k(truth, query_scores, 1),
        "ndcg@3": ndcg_at_k(truth, query_scores, 3),
        "auc": auc(liked, query_scores),
    }
    if catalogue_scores is not None:
        candidates = ~np.isin(catalogue_ids, task.support_items)
        ids, scores = catalogue_ids[candidates], catalogue_scores[candidates]
        # Equal scores are ordered at random, seeded by the task. In item-id order, a
        # variant that scores many items alike (a constant, or the prior of items it
        # never saw) would be credited with whatever the low ids happen to hold.
        tie_order = np.random.default_rng(
            [int(task.user_id), len(task.support_items)]).permutation(len(ids))
        ranked = ids[np.lexsort((tie_order, -scores))[:TOP_K]]
        relevant = {int(i): float(r) for i, r in zip(task.query_items, truth)
                    if r >= like_threshold}
        row["catalogue_ndcg@10"] = catalogue_ndcg_at_k(ranked, relevant, TOP_K)
        row["precision@10"] = precision_at_k(ranked, set(relevant), TOP_K)
        row["recall@10"] = recall_at_k(ranked, set(relevant), TOP_K)
    return row


def evaluate_tasks(recommender, tasks, user_features, variants=None, catalogue=True,
                   shuffle_query_seed=None, candidates=None) -> pd.DataFrame:
    """Return one row per variant with every metric averaged over ``tasks``.

    ``shuffle_query_seed`` replaces each variant's query scores by a random permutation
    of them, a control whose ranking metrics must fall to chance level. ``candidates``
    are the item ids the catalogue metrics rank (default: the whole catalogue).
    """
    variants = variants or recommender.variants
    if not catalogue:
        catalogue_ids = None
    elif candidates is None:
        catalogue_ids = recommender.item_ids
    else:
        catalogue_ids = np.sort(np.asarray(candidates, dtype=np.int64))
    rows = []
    for variant in variants:
        query = score_tasks(recommender, variant, tasks, user_features)
        if shuffle_query_seed is not None:
            rng = np.random.default_rng(shuffle_query_seed)
            query = [rng.permutation(scores) for scores in query]
        full = (score_tasks(recommender, variant, tasks, user_features, catalogue_ids)
                if catalogue else [None] * len(tasks))
        is_ranker = recommender.is_ranker(variant)
        threshold = like_threshold(recommender.rating_scale)
        per_task = pd.DataFrame([
            task_metrics(t, q, catalogue_ids, c, is_ranker, threshold)
            for t, q, c in zip(tasks, query, full)])
        rows.append({"variant": variant, "users": len(tasks),
                     **per_task.mean(skipna=True).to_dict()})
    return pd.DataFrame(rows)


def evaluate_users(recommender, ratings, user_ids, user_features, shots_list, variants=None,
                   seed=0, min_ratings=13, max_ratings=100, catalogue=False,
                   query_size=10) -> pd.DataFrame:
    """Return one row per variant and support size, metrics averaged over users.

    Users with fewer than ``min_ratings`` or more than ``max_ratings`` ratings are left
    out, and ``None`` turns a limit off. Each user's query is ``query_size`` ratings
    drawn with ``seed``.
    """
    def tasks_for(shots):
        return make_tasks(ratings, user_ids, shots, query_size=query_size, seed=seed,
                          min_ratings=min_ratings, max_ratings=max_ratings)

    return _evaluate_by_shots(recommender, tasks_for, user_features, shots_list, variants,
                              catalogue)


def _evaluate_by_shots(recommender, tasks_for, user_features, shots_list, variants,
                       catalogue, candidates=None) -> pd.DataFrame:
    """Evaluate the tasks ``tasks_for(shots)`` builds for each support size."""
    frames = []
    for shots in shots_list:
        tasks = tasks_for(shots)
        if not tasks:
            continue
        frame = evaluate_tasks(recommender, tasks, user_features, variants, catalogue,
                               candidates=candidates)
        frame.insert(1, "shots", str(shots))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def saved_scenario(manifest):
    """Return the :class:`ScenarioSplit` a models directory was trained with.

    Manifests written before scenarios were saved hold only the user split, which is the
    ``new-user`` scenario.
    """
    from ..tasks.scenarios import ScenarioSplit
    from ..tasks.split import UserSplit

    if "scenario" in manifest:
        return ScenarioSplit.from_dict(manifest["scenario"])
    return ScenarioSplit("new-user", UserSplit.from_dict(manifest["split"]),
                         np.array([], dtype=np.int64), None)


def evaluate_scenario(recommender, dataset, shots_list, part="test", variants=None, seed=0,
                      min_ratings=13, max_ratings=100, catalogue=False,
                      query_size=10) -> pd.DataFrame:
    """Score ``part`` users of the scenario the models were trained for.

    The split saved in the models' manifest decides which users (and, for
    ``new-user-new-item``, which items) form the tasks, so a run repeats exactly. In
    ``new-user-new-item`` every query item is new, so the catalogue metrics rank the new
    items only: among the whole catalogue, models that never saw the new items rank
    none of them near the top, and every variant would score 0. For
    item-side models (an :class:`metarec.serving.items.ItemRecommender`) the tasks are
    held-out items instead, see :func:`metarec.evaluation.items.evaluate_item_scenario`.
    """
    if recommender.manifest.get("entity") == "item":
        from .items import evaluate_item_scenario

        return evaluate_item_scenario(recommender, dataset, shots_list, part, variants, seed,
                                      min_ratings, max_ratings, catalogue, query_size)
    split = saved_scenario(recommender.manifest)

    def tasks_for(shots):
        return split.tasks(dataset.ratings, part, shots, seed=seed, min_ratings=min_ratings,
                           max_ratings=max_ratings, query_size=query_size)

    candidates = split.new_items if split.scenario == "new-user-new-item" else None
    return _evaluate_by_shots(recommender, tasks_for,
                              recommender.encoder.encode_users(dataset.users), shots_list,
                              variants, catalogue, candidates)
