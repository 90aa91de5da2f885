"""Cold-start scenarios: which ratings may train a model and which ones score it.

``new-user``
    Users are split at random; test users are new, every item is known.
``new-item``
    Items released in or after a cut year are new (MeLU's protocol). When the data has
    no years, a random share of items is new. Every user is known. Each new item is a task
    whose support is K users' ratings of it.
``new-user-new-item``
    Both: tasks are test users' ratings of new items, and training reads neither
    those users nor those items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .episodes import make_tasks
from .split import UserSplit, split_users

SCENARIOS = ("new-user", "new-item", "new-user-new-item")
# The parts that ``new-item`` splits its new items into; it has no training items.
ITEM_PARTS = ("validation", "test")
NEW_ITEM_SHARE = 0.2


def check_cut_year(items, cut_year):
    """Raise ValueError when ``cut_year`` makes no item of ``items`` new, or every item.

    Without a new item there are no validation or test items, and without an older item
    there are no training ratings, so training could not start. None (the default cut
    year, or random new items) always passes.
    """
    if cut_year is None:
        return
    years = items["year"].dropna()
    if years.empty:
        raise ValueError(
            f"the cut year is {cut_year:g}, but no item has a release year, so no item is "
            f"new; leave cut_year (--cut-year) out to hold out a random "
            f"{NEW_ITEM_SHARE:.0%} of items as new")
    latest = years.max()
    if latest < cut_year:
        raise ValueError(
            f"no item was released in or after the cut year {cut_year:g}, so no item is "
            f"new: the latest release year in the data is {latest:.0f}. Pass a cut_year "
            f"(--cut-year) of {latest:.0f} or earlier, or leave it out for the year that "
            f"makes about {NEW_ITEM_SHARE:.0%} of items new")
    # Items without a year are never new, so they alone keep some items to train on.
    earliest = years.min()
    if len(years) < len(items) or earliest < cut_year:
        return
    if earliest == latest:
        raise ValueError(
            f"every item was released in {earliest:.0f}, so the cut year {cut_year:g} makes "
            f"every item new and none is left to train on, and no other cut year splits "
            f"them; remove the year column to hold out a random {NEW_ITEM_SHARE:.0%} of "
            f"items as new")
    raise ValueError(
        f"no item was released before the cut year {cut_year:g}, so every item is new and "
        f"none is left to train on: the earliest release year in the data is "
        f"{earliest:.0f}. Pass a cut_year (--cut-year) of {earliest + 1:.0f} or later, or "
        f"leave it out for the year that makes about {NEW_ITEM_SHARE:.0%} of items new")


def _check_scenario(scenario):
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}, got {scenario!r}")


@dataclass(frozen=True)
class ScenarioSplit:
    """A saved, repeatable split for one scenario.

    Attributes
    ----------
    scenario : str
    users : UserSplit
        For ``new-item`` every user is in ``users.train``.
    new_items : numpy.ndarray
        Item ids held out as new; empty for ``new-user``.
    cut_year : float or None
        Items released in this year or later are new; None when items were drawn at
        random.
    """

    scenario: str
    users: UserSplit
    new_items: np.ndarray
    cut_year: float | None

    def _known_items(self, ratings):
        return ~ratings["item_id"].isin(self.new_items)

    def training_ratings(self, ratings: pd.DataFrame) -> pd.DataFrame:
        """Ratings a model may learn from: meta-train users on known items."""
        return self.users.ratings_of(ratings, "train")[lambda r: self._known_items(r)]

    def held_out_ratings(self, ratings: pd.DataFrame, part="test") -> pd.DataFrame:
        """Ratings that ``part`` tasks are built from.

        ``part`` is "train", "validation" or "test" for the users of ``new-user`` and
        ``new-user-new-item``, and "validation" or "test" for the new items of
        ``new-item``, which raises ValueError for any other part.
        """
        if self.scenario == "new-user":
            return self.users.ratings_of(ratings, part)
        if self.scenario == "new-item":
            new = ratings[~self._known_items(ratings)]
            items = self._item_part(part)
            return new[new["item_id"].isin(items)]
        users = self.users.ratings_of(ratings, part)
        return users[~self._known_items(users)]

    def _item_part(self, part):
        # New items are split in halves: validation and test entities of new-item tasks.
        if part not in ITEM_PARTS:
            raise ValueError(
                f"scenario 'new-item' has no {part!r} items: the known items' ratings "
                f"train the models, and the new items are split into validation and "
                f"test; pass part='validation' or part='test'")
        half = len(self.new_items) // 2
        return self.new_items[:half] if part == "validation" else self.new_items[half:]

    def held_out_items(self, part="test") -> np.ndarray:
        """Return the new items whose ratings ``part`` tasks are built from.

        For ``new-item`` that is the ``part`` half of the new items ("validation" or
        "test"; any other part raises ValueError), for ``new-user-new-item`` every new
        item, and for ``new-user`` none.
        """
        if self.scenario == "new-item":
            return self._item_part(part)
        return self.new_items

    def tasks(self, ratings, part, shots, seed=0, min_ratings=13, max_ratings=100,
              query_size=10, entity=None):
        """Build the ``part`` ("validation" or "test") tasks with ``shots`` support ratings.

        ``entity`` is "user" or "item"; by default ``new-item`` builds item tasks and the
        other scenarios user tasks. Item tasks of ``new-user-new-item`` are new items
        rated by ``part`` users, who are new too.
        """
        held_out = self.held_out_ratings(ratings, part)
        if entity is None:
            entity = "item" if self.scenario == "new-item" else "user"
        if entity == "item":
            return make_tasks(held_out, self.held_out_items(part), shots, query_size, seed,
                              min_ratings, max_ratings, entity="item")
        if self.scenario == "new-item":
            raise ValueError("scenario 'new-item' has no held-out users, so it has no user "
                             "tasks; pass entity='item'")
        return make_tasks(held_out, getattr(self.users, part), shots, query_size, seed,
                          min_ratings, max_ratings)

    def to_dict(self) -> dict:
        return {"scenario": self.scenario, "users": self.users.to_dict(),
                "new_items": self.new_items.tolist(), "cut_year": self.cut_year}

    @classmethod
    def from_dict(cls, state) -> "ScenarioSplit":
        return cls(state["scenario"], UserSplit.from_dict(state["users"]),
                   np.asarray(state["new_items"], dtype=np.int64), state["cut_year"])


def default_cut_year(items: pd.DataFrame, share=NEW_ITEM_SHARE):
    """Return the latest year such that items from it on make up at least ``share``.

    On MovieLens-100K this is 1997: the 351 items of 1997 and 1998 are about 21% of the
    catalogue.
    """
    years = items["year"].dropna()
    if years.empty:
        return None
    for year in sorted(years.unique(), reverse=True):
        if (years >= year).mean() >= share:
            return float(year)
    return float(years.min())


def make_scenario(dataset, scenario="new-user", seed=0, cut_year=None,
                  validation_fraction=0.1, test_fraction=0.2) -> ScenarioSplit:
    """Split ``dataset`` for ``scenario``; the same arguments give the same split."""
    _check_scenario(scenario)
    users = dataset.ratings["user_id"].unique()
    if scenario == "new-item":
        user_split = UserSplit(np.sort(users), np.array([], dtype=np.int64),
                               np.array([], dtype=np.int64), seed)
    else:
        user_split = split_users(users, seed, validation_fraction, test_fraction)
    if scenario == "new-user":
        return ScenarioSplit(scenario, user_split, np.array([], dtype=np.int64), None)

    items = dataset.items
    check_cut_year(items, cut_year)
    if cut_year is None:
        cut_year = default_cut_year(items)
    if cut_year is not None:
        new_items = items.loc[items["year"] >= cut_year, "item_id"].to_numpy()
    else:
        rng = np.random.default_rng([seed, 1])
        ids = items["item_id"].to_numpy()
        new_items = rng.choice(ids, size=max(1, round(NEW_ITEM_SHARE * len(ids))), replace=False)
    # Shuffle so that validation and test items (the two halves) mix release years.
    new_items = np.random.default_rng([seed, 2]).permutation(np.sort(new_items))
    return ScenarioSplit(scenario, user_split, new_items.astype(np.int64), cut_year)
