"""Cold-start tasks: a support set a model adapts on and a query set it is scored on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

ALL = "all"
# The minimum and maximum numbers of ratings of a user (or item) that evaluation
# scores by default.
MIN_RATINGS, MAX_RATINGS = 13, 100


@dataclass(frozen=True)
class Task:
    """One entity's episode, in dataset ids.

    For a user task (the default) ``user_id`` is the user and ``*_items`` the items
    rated. For an item task (``entity == "item"``) the roles swap: ``user_id`` is the
    item and ``*_items`` the users who rated it.
    """

    user_id: int
    support_items: np.ndarray
    support_ratings: np.ndarray
    query_items: np.ndarray
    query_ratings: np.ndarray
    entity: str = "user"

    @property
    def shots(self) -> int:
        return len(self.support_items)


def parse_shots(value) -> int | str:
    """Turn ``"5"`` or ``"all"`` into ``5`` or ``"all"``; reject anything else.

    ``0`` is accepted: a task with an empty support, scored from what is known before
    any rating (the prior, demographics, or a new item's content).
    """
    if isinstance(value, str) and value.strip().lower() == ALL:
        return ALL
    try:
        shots = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"shots must be 0, a positive integer or 'all', got {value!r}") from None
    if shots < 0:
        raise ValueError(f"shots must be 0, a positive integer or 'all', got {shots}")
    return shots


def group_ratings(ratings: pd.DataFrame, by="user_id") -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Return ``{user_id: (item_ids, ratings)}`` in the frame's row order.

    With ``by="item_id"`` it returns ``{item_id: (user_ids, ratings)}``.
    """
    other = "item_id" if by == "user_id" else "user_id"
    grouped = {}
    ordered = ratings.sort_values(by, kind="stable")
    users = ordered[by].to_numpy()
    items = ordered[other].to_numpy()
    values = ordered["rating"].to_numpy(dtype=np.float32)
    if len(users) == 0:
        return grouped
    bounds = np.flatnonzero(np.diff(users)) + 1
    for start, stop in zip(np.r_[0, bounds], np.r_[bounds, len(users)]):
        grouped[int(users[start])] = (items[start:stop], values[start:stop])
    return grouped


@dataclass(frozen=True)
class TaskSize:
    """Query size of a task, and the fewest ratings a user needs to get one."""

    query_size: int = 10
    min_ratings: int = 13


def task_size_for(ratings, user_ids, size: TaskSize = TaskSize(), by="user_id") -> TaskSize:
    """Return ``size``, shrunk when none of ``user_ids`` has ``size.min_ratings`` ratings.

    MovieLens keeps users with 20 ratings or more, so the default 10-rating query always
    fits. A person's own file can be much smaller, such as four users with five ratings
    each. There the query becomes half of the largest user's ratings, and the rest is
    left for the support, so small data still trains and evaluates (with noisier
    numbers) instead of finding no task at all.
    """
    counts = ratings.loc[ratings[by].isin([int(u) for u in user_ids]), by].value_counts()
    largest = int(counts.max()) if len(counts) else 0
    if largest >= size.min_ratings:
        return size
    if largest < 2:
        noun = "user" if by == "user_id" else "item"
        raise ValueError(
            f"no held-out {noun} has 2 or more ratings (the most is {largest}), so no "
            f"task can hold both a support and a query rating; add ratings or {noun}s")
    query_size = max(1, min(size.query_size, largest // 2))
    return TaskSize(query_size=query_size, min_ratings=query_size + 1)


def make_tasks(ratings, user_ids, shots, query_size=10, seed=0, min_ratings=MIN_RATINGS,
               max_ratings=MAX_RATINGS, entity="user") -> list[Task]:
    """Build one evaluation task per eligible user (or item, with ``entity="item"``).

    Each user's ratings are shuffled with a generator seeded by ``seed`` and the user id,
    so a user's query set is the same for every ``shots`` value and the support sets are
    nested (the 5-shot support contains the 3-shot one). Users with fewer than
    ``min_ratings`` or more than ``max_ratings`` ratings are left out (``None`` turns
    either limit off), and so are users who cannot fill the query and ``shots`` support
    ratings.
    """
    shots = parse_shots(shots)
    if query_size < 1:
        raise ValueError(f"query_size must be at least 1, got {query_size}")
    if min_ratings is not None and max_ratings is not None and min_ratings > max_ratings:
        raise ValueError(
            f"min_ratings ({min_ratings}) must not exceed max_ratings ({max_ratings})"
        )

    if entity not in ("user", "item"):
        raise ValueError(f"entity must be 'user' or 'item', got {entity!r}")
    by = "user_id" if entity == "user" else "item_id"
    wanted = set(int(u) for u in user_ids)
    grouped = group_ratings(ratings[ratings[by].isin(wanted)], by=by)
    tasks = []
    for user in sorted(grouped):
        items, values = grouped[user]
        count = len(items)
        if (min_ratings is not None and count < min_ratings) or (
                max_ratings is not None and count > max_ratings):
            continue
        order = np.random.default_rng([seed, user]).permutation(count)
        query, pool = order[:query_size], order[query_size:]
        if shots != ALL:
            if len(pool) < shots:
                continue
            pool = pool[:shots]
        if len(pool) == 0 and shots != 0:
            continue
        tasks.append(Task(user, items[pool], values[pool], items[query], values[query],
                          entity))
    return tasks
