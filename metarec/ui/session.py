"""Replay a held-out test user's ratings one at a time and score every variant after each.

The user's ratings are split as evaluation splits them (see
:meth:`metarec.tasks.scenarios.ScenarioSplit.tasks`): the same 10 query ratings are held
out, and the rest are revealed one by one. After ``n`` revealed ratings each variant
adapts to exactly those ``n``, so step ``n`` of a replay in the random order from the
start is the evaluation's ``K = n`` task for that user.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ..data import Dataset, like_threshold
from ..data.features import age_text
from ..evaluation.evaluate import task_metrics
from ..serving.recommender import USER_FIELDS, Recommender
from ..tasks.episodes import MAX_RATINGS, MIN_RATINGS, Task
from .compare import ranked_top

ORDERS = {"time": "in the order they were rated", "random": "in evaluation's random order"}
QUERY_METRICS = ("mae", "rmse", "ndcg@3", "auc", "catalogue_ndcg@10", "precision@10",
                 "recall@10")
LOWER_IS_BETTER = ("mae", "rmse")


@dataclass(frozen=True)
class SessionPlan:
    """The order in which one test user's ratings are revealed, and the held-out query.

    Attributes
    ----------
    user_id : int
    user : dict
        The user's demographics, as :meth:`Recommender.adapt` takes them.
    items, ratings : numpy.ndarray
        The ratings to reveal, in order.
    task : Task
        The evaluation task with every revealed rating as support; its query items and
        ratings are the held-out ratings every step is scored on.
    order : str
        A key of :data:`ORDERS`.
    """

    user_id: int
    user: dict
    items: np.ndarray
    ratings: np.ndarray
    task: Task
    order: str

    def __len__(self) -> int:
        return len(self.items)

    def revealed(self, n: int) -> dict:
        """Return the first ``n`` ratings as ``{item_id: rating}``."""
        return {int(i): float(r) for i, r in zip(self.items[:n], self.ratings[:n])}


@dataclass
class StepRecord:
    """One variant adapted to the first ``n`` revealed ratings.

    Attributes
    ----------
    variant : str
    n : int
    top : pandas.DataFrame
        ``rank``, ``item_id``, ``title`` and ``score`` of the best items not yet revealed.
    query_scores : numpy.ndarray
        Scores of the held-out query items, in the task's order.
    metrics : dict
        :data:`QUERY_METRICS` on the query; rating errors are NaN for a ranking variant.
    seconds : float
        Wall time of the adaptation, scoring excluded. For the ensemble, the sum of its
        members' adaptations.
    weights : dict
        For the ensemble, the member weights used for ``n`` ratings; empty otherwise.
    all_tied : bool
        Whether ``top`` is an arbitrary pick among equal scores, as
        :attr:`metarec.ui.compare.VariantResult.all_tied`.
    """

    variant: str
    n: int
    top: pd.DataFrame
    query_scores: np.ndarray
    metrics: dict
    seconds: float
    weights: dict = field(default_factory=dict)
    all_tied: bool = False


def session_tasks(recommender: Recommender, dataset: Dataset, query_size=10) -> dict:
    """Return ``{user_id: Task}`` for every test user of the split the models saved.

    Each task holds out ``query_size`` ratings, drawn with the split's seed as
    evaluation draws them, and has every other rating of the user as support. Users
    with no rating left to reveal are left out.
    """
    from ..evaluation.evaluate import saved_scenario

    split = saved_scenario(recommender.manifest)
    tasks = split.tasks(dataset.ratings, "test", "all", seed=split.users.seed,
                        min_ratings=None, max_ratings=None, query_size=query_size)
    return {int(task.user_id): task for task in tasks}


def session_users(tasks: dict, dataset: Dataset) -> pd.DataFrame:
    """Return one row per test user: ``user_id``, ``ratings``, ``evaluated``, ``label``.

    Rows are sorted by id. ``ratings`` counts all the user's ratings, and ``evaluated``
    is whether evaluation scores the user by default (:data:`MIN_RATINGS` to
    :data:`MAX_RATINGS` ratings, the defaults of ``evaluate`` and of the Model
    comparison page). The label splits
    the ratings into those to reveal and those held out, as "user 3 · 62 ratings · 52
    to reveal + 10 held out", and ends with a note when evaluation leaves the user out.
    It names the user by the dataset's own id (``uc002`` in a CSV of your own).
    """
    users = dataset.users.set_index("user_id")
    originals = dataset.original_user_ids()
    rows = []
    for user_id, task in sorted(tasks.items()):
        details = _demographics(users, user_id)
        if "age" in details:
            details["age"] = age_text(details["age"], dataset.age_bands)
        described = ", ".join(str(details[f]) for f in ("gender", "age", "occupation")
                              if f in details)
        held_out = len(task.query_items)
        count = task.shots + held_out
        # The page reveals only task.shots of them, so the label splits the count in two.
        name = originals.get(user_id, user_id)
        evaluated = MIN_RATINGS <= count <= MAX_RATINGS
        left_out = ""
        if count > MAX_RATINGS:
            left_out = f" · not scored by evaluate (over {MAX_RATINGS} ratings)"
        elif count < MIN_RATINGS:
            left_out = f" · not scored by evaluate (under {MIN_RATINGS} ratings)"
        rows.append({"user_id": user_id, "ratings": count, "evaluated": evaluated,
                     "label": f"user {name} · {count} ratings · {task.shots} to reveal "
                              f"+ {held_out} held out"
                              + (f" · {described}" if described else "") + left_out})
    return pd.DataFrame(rows, columns=["user_id", "ratings", "evaluated", "label"])


def _demographics(users: pd.DataFrame, user_id: int) -> dict:
    if user_id not in users.index:
        return {}
    row = users.loc[user_id]
    fields = {}
    for name in USER_FIELDS:
        value = row.get(name)
        if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
            continue
        value = value.item() if isinstance(value, np.generic) else value
        if name == "age" and isinstance(value, float) and value.is_integer():
            # Ages of a users CSV are read as floats, which showed as "23.0".
            value = int(value)
        fields[name] = value
    return fields


def session_plan(task: Task, dataset: Dataset, order="time", first=()) -> SessionPlan:
    """Order ``task``'s support ratings for revealing.

    ``order="time"`` reveals them by timestamp, oldest first, as the person rated them;
    ``order="random"`` keeps evaluation's shuffled order. The items in ``first`` come
    before all others, in the given order, so that ratings already revealed keep their
    place when the order changes. With ``first``, step ``n`` is evaluation's ``K = n``
    task only if those items open evaluation's order too.

    Raises
    ------
    ValueError
        If ``order`` is not a key of :data:`ORDERS`, or ``first`` repeats an item or
        names one that is not among the ratings to reveal.
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {list(ORDERS)}, got {order!r}")
    items, ratings = task.support_items, task.support_ratings
    if order == "time":
        rows = dataset.ratings[dataset.ratings["user_id"] == task.user_id]
        stamps = dict(zip(rows["item_id"].tolist(), rows["timestamp"].tolist()))
        position = np.argsort([stamps.get(int(i), 0) for i in items], kind="stable")
        items, ratings = items[position], ratings[position]
    if len(first):
        position = _first_positions(items, first, task.user_id)
        items, ratings = items[position], ratings[position]
    users = dataset.users.set_index("user_id")
    return SessionPlan(int(task.user_id), _demographics(users, int(task.user_id)),
                       np.asarray(items), np.asarray(ratings), task, order)


def _first_positions(items: np.ndarray, first, user_id) -> np.ndarray:
    """Return positions that reorder ``items`` to start with ``first``, the rest kept."""
    where = {int(item): position for position, item in enumerate(items)}
    first = [int(item) for item in first]
    unknown = [item for item in first if item not in where]
    if unknown:
        raise ValueError(f"first contains items {unknown} that are not among the ratings "
                         f"of user {user_id} to reveal")
    if len(set(first)) < len(first):
        raise ValueError(f"first must not repeat an item, got {first}")
    chosen = set(first)
    rest = [position for position, item in enumerate(items) if int(item) not in chosen]
    return np.asarray([where[item] for item in first] + rest, dtype=int)


def run_step(recommender: Recommender, plan: SessionPlan, n: int, variant: str,
             k=10) -> StepRecord:
    """Adapt ``variant`` to the first ``n`` revealed ratings and score the query.

    Raises
    ------
    ValueError
        If ``n`` is outside 0 to ``len(plan)``, or :meth:`Recommender.adapt` rejects
        the variant or the ratings.
    """
    if not 0 <= n <= len(plan):
        raise ValueError(f"n must be between 0 and {len(plan)}, got {n}")
    adaptation = recommender.adapt(plan.revealed(n), variant, user=plan.user)
    is_ranker = recommender.is_ranker(variant)
    top, all_tied = ranked_top(adaptation, k, None if is_ranker else recommender.rating_scale)

    task = replace(plan.task, support_items=plan.items[:n], support_ratings=plan.ratings[:n])
    query_scores = adaptation.predict(task.query_items)
    catalogue = recommender.item_ids
    metrics = task_metrics(task, query_scores, catalogue, adaptation.predict(catalogue),
                           is_ranker, like_threshold(recommender.rating_scale))
    return StepRecord(variant, n, top, query_scores,
                      {name: float(metrics[name]) for name in QUERY_METRICS},
                      adaptation.seconds, dict(adaptation.weights), all_tied)


def rank_changes(previous: pd.DataFrame | None, current: pd.DataFrame) -> pd.Series:
    """Label how each item of ``current`` moved since ``previous`` (two top lists).

    Labels: ``new`` for an item that was not listed, ``▲2`` for one that rose two
    places, ``▼1`` for one that fell one, ``=`` for one that kept its place. With no
    previous list every label is empty. :func:`metarec.ui.views.top_lists` shows them
    in a ``move`` column.
    """
    if previous is None:
        return pd.Series([""] * len(current), index=current.index)
    before = dict(zip(previous["item_id"], previous["rank"]))
    labels = []
    for item, rank in zip(current["item_id"], current["rank"]):
        if item not in before:
            labels.append("new")
        elif before[item] > rank:
            labels.append(f"▲{before[item] - rank}")
        elif before[item] < rank:
            labels.append(f"▼{rank - before[item]}")
        else:
            labels.append("=")
    return pd.Series(labels, index=current.index)


def dropped_items(previous: pd.DataFrame | None, current: pd.DataFrame) -> list[str]:
    """Return the titles of ``previous`` that are not in ``current``."""
    if previous is None:
        return []
    kept = set(current["item_id"])
    return [title for item, title in zip(previous["item_id"], previous["title"])
            if item not in kept]


def metric_history(records) -> pd.DataFrame:
    """Return ``variant``, ``n`` and every query metric, one row per step record."""
    rows = [{"variant": r.variant, "n": r.n, **r.metrics} for r in records]
    return pd.DataFrame(rows, columns=["variant", "n", *QUERY_METRICS]).sort_values(
        ["variant", "n"], kind="stable", ignore_index=True)
