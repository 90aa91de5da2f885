"""Seeded splits of users into meta-train, validation and test sets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class UserSplit:
    """Disjoint sets of user ids; only ``train`` users' ratings may reach training."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    seed: int

    def ratings_of(self, ratings: pd.DataFrame, part: str) -> pd.DataFrame:
        """Return the rows of ``ratings`` whose user belongs to ``part``."""
        if part not in ("train", "validation", "test"):
            raise ValueError(
                f"part must be 'train', 'validation' or 'test', got {part!r}"
            )
        return ratings[ratings["user_id"].isin(getattr(self, part))]

    def to_dict(self) -> dict:
        return {"seed": self.seed, "train": self.train.tolist(),
                "validation": self.validation.tolist(), "test": self.test.tolist()}

    @classmethod
    def from_dict(cls, state) -> "UserSplit":
        return cls(train=np.asarray(state["train"]), validation=np.asarray(state["validation"]),
                   test=np.asarray(state["test"]), seed=int(state["seed"]))


# Largest seed that training takes: 32 bits, which every generator involved accepts.
# torch's own limit is 64 bits, and seeds are offset before use, so a seed near that
# limit would fail deep inside training with a message that names no argument.
MAX_SEED = 2**32 - 1


def check_seed(seed, name="seed"):
    """Raise ValueError unless ``seed`` is a whole number from 0 to :data:`MAX_SEED`."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"{name} must be a whole number such as 0, got {seed!r}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"{name} must be a whole number from 0 to {MAX_SEED} (2**32 - 1), "
                         f"got {seed}; pass, for example, {abs(int(seed)) % 2**32}")


def split_users(user_ids, seed=0, validation_fraction=0.1, test_fraction=0.2) -> UserSplit:
    """Shuffle users with ``seed`` and cut them into train, validation and test.

    Parameters
    ----------
    user_ids : array-like
        Every user id of the dataset; duplicates are ignored.
    seed : int
        Seed of the shuffle, so the same seed gives the same split.
    validation_fraction, test_fraction : float
        Shares of users held out; each must be in (0, 1) and together below 1.
    """
    for name, value in (("validation_fraction", validation_fraction),
                        ("test_fraction", test_fraction)):
        if not 0.0 < value < 1.0:
            raise ValueError(f"{name} must be between 0 and 1 (exclusive), got {value}")
    if validation_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"validation_fraction + test_fraction must leave users for training, got "
            f"{validation_fraction} + {test_fraction} = {validation_fraction + test_fraction}"
        )
    users = np.unique(np.asarray(user_ids))
    if len(users) < 3:
        raise ValueError(f"need at least 3 users to split into meta-train, validation and "
                         f"test users, got {len(users)}; use data with ratings from more "
                         f"users")

    shuffled = np.random.default_rng(seed).permutation(users)
    n_test = max(1, round(test_fraction * len(users)))
    n_validation = max(1, round(validation_fraction * len(users)))
    return UserSplit(
        test=np.sort(shuffled[:n_test]),
        validation=np.sort(shuffled[n_test:n_test + n_validation]),
        train=np.sort(shuffled[n_test + n_validation:]),
        seed=seed,
    )
