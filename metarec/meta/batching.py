"""Pad cold-start tasks into tensors that ``vmap`` can batch over."""

from __future__ import annotations

import numpy as np
import torch

from ..tasks import Task


def collate(tasks: list[Task], encoder, user_features: dict, prior, device="cpu",
            target="rating", like_threshold=4.0) -> dict:
    """Stack tasks into padded tensors, items as table rows, padding masked out.

    ``user_features`` maps a user id to its feature vector; a user missing from it gets
    the all-unknown vector. ``prior`` (an :class:`ItemPrior`) appends each task's
    support context to its user features. With ``target="like"`` the targets are 1 for
    ratings of ``like_threshold`` or more and 0 otherwise.
    """
    if not tasks:
        raise ValueError("cannot collate an empty list of tasks")
    support_len = max(1, max(t.shots for t in tasks))
    query_len = max(len(t.query_items) for t in tasks)
    unknown_user = encoder.encode_user()

    def pad(values, length, dtype):
        out = np.zeros(length, dtype=dtype)
        out[:len(values)] = values
        return out

    def convert(ratings):
        return (ratings >= like_threshold).astype(np.float32) if target == "like" else ratings

    def features(task):
        context = prior.context(encoder.item_rows(task.support_items), task.support_ratings,
                                target)
        return np.concatenate([user_features.get(task.user_id, unknown_user), context])

    batch = {
        "user_features": np.stack([features(t) for t in tasks]),
        "support_rows": np.stack([pad(encoder.item_rows(t.support_items), support_len, np.int64)
                                  for t in tasks]),
        "support_targets": np.stack([pad(convert(t.support_ratings), support_len, np.float32)
                                     for t in tasks]),
        "support_mask": np.stack([pad(np.ones(t.shots), support_len, np.float32)
                                  for t in tasks]),
        "query_rows": np.stack([pad(encoder.item_rows(t.query_items), query_len, np.int64)
                                for t in tasks]),
        "query_targets": np.stack([pad(convert(t.query_ratings), query_len, np.float32)
                                   for t in tasks]),
        "query_mask": np.stack([pad(np.ones(len(t.query_items)), query_len, np.float32)
                                for t in tasks]),
    }
    return {name: torch.as_tensor(value, device=device) for name, value in batch.items()}


class EpisodeSampler:
    """Draw random training tasks from the meta-train users' ratings.

    For each user, ``query_size`` ratings form the query and a support size is drawn
    log-uniformly between 1 and ``max_support`` (or what the user has left), so that
    training meets one-shot users as often as users with dozens of ratings.

    Each task has its own generator, seeded by ``seed``, the epoch and the user's
    position in :attr:`users`. A task therefore does not depend on which tasks were drawn
    before it, and data-parallel workers that each build only their share of a
    meta-batch draw exactly the tasks a single process would.
    """

    def __init__(self, grouped_ratings: dict, query_size=10, max_support=64, seed=0):
        self.users = [u for u, (items, _) in grouped_ratings.items() if len(items) >= 2]
        if not self.users:
            raise ValueError("no training user has the 2 ratings a task needs")
        self.grouped = grouped_ratings
        self.query_size = query_size
        self.max_support = max_support
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.epochs_drawn = 0

    def epoch(self, batch_size, rank=0, world_size=1):
        """Yield lists of tasks covering every training user once, in random order.

        With ``world_size`` workers, each meta-batch of ``batch_size`` tasks is shared
        out by position: worker ``rank`` gets positions ``rank``, ``rank + world_size``,
        and so on, and builds only those tasks. Every worker must call this once per
        epoch with the same ``batch_size``, so that all draw the same order. A worker's
        share of the last, short meta-batch may be empty.
        """
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
        order = self.rng.permutation(len(self.users))
        epoch = self.epochs_drawn
        self.epochs_drawn += 1
        for start in range(0, len(order), batch_size):
            share = order[start:start + batch_size][rank::world_size]
            yield [self.task(self.users[i], np.random.default_rng([self.seed, epoch, i]))
                   for i in share]

    def task(self, user, rng=None) -> Task:
        """Draw one task of ``user`` with ``rng`` (default: the sampler's own generator)."""
        rng = self.rng if rng is None else rng
        items, ratings = self.grouped[user]
        order = rng.permutation(len(items))
        query_len = min(self.query_size, len(items) // 2)
        query, rest = order[:query_len], order[query_len:]
        most = min(self.max_support, len(rest))
        shots = int(np.clip(np.round(np.exp(rng.uniform(0, np.log(most + 0.5)))), 1, most))
        support = rest[:shots]
        return Task(user, items[support], ratings[support], items[query], ratings[query])
