"""The in-memory form of a ratings dataset, independent of its file layout."""

from __future__ import annotations

import hashlib
import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


# A like is a rating in the top quarter of the scale: 4 or more from 1 to 5, 8 or more
# from 0 to 10, 1 from 0 to 1.
LIKE_SHARE = 0.75


def like_threshold(rating_scale) -> float:
    """Return the lowest rating that counts as a like on ``rating_scale`` (low, high).

    Three quarters of the way up the scale: 4.0 on 1 to 5 stars, 7.5 on 0 to 10. The
    like/dislike task, AUC and the catalogue metrics' relevant items all use it.
    """
    low, high = (float(v) for v in rating_scale)
    return low + LIKE_SHARE * (high - low)


def on_scale(stars: float, rating_scale) -> float:
    """Return ``stars`` of a 1-to-5 scale at the same place on ``rating_scale``.

    5 and 4 of 5 become 10 and 8 of 1 to 10, so a synthetic fan's ratings mean the same
    on any scale. The result is rounded to whole numbers when both ends of the scale
    are whole, and to halves when both are halves.
    """
    low, high = (float(v) for v in rating_scale)
    value = low + (float(stars) - 1.0) / 4.0 * (high - low)
    for step in (1.0, 0.5):
        if (low / step).is_integer() and (high / step).is_integer():
            return round(value / step) * step
    return value


def stars_text(values, rating_scale) -> str:
    """Return 1-to-5 ``values`` on ``rating_scale`` as words, such as "10 and 8"."""
    texts = dict.fromkeys(f"{on_scale(v, rating_scale):g}" for v in values)
    return " and ".join(texts)


@dataclass(frozen=True, repr=False)
class Dataset:
    """Ratings plus side information, keyed by the dataset's own ids.

    Attributes
    ----------
    name : str
        Short label shown in logs and the dashboard, e.g. ``"ml-100k"``.
    ratings : pandas.DataFrame
        Columns ``user_id``, ``item_id``, ``rating`` (float) and ``timestamp`` (int,
        seconds since the epoch).
    items : pandas.DataFrame
        One row per item: ``item_id``, ``title``, ``year`` (float, NaN when unknown) and
        ``genres`` (a tuple of genre names).
    users : pandas.DataFrame
        One row per user: ``user_id``, ``age`` (int), ``gender``, ``occupation`` and
        ``zip_code`` (str).
    genres : tuple of str
        Every genre name in the catalogue, in the dataset's order.
    occupations : tuple of str
        Every occupation a user may have, in the dataset's order.
    rating_scale : tuple of float
        Lowest and highest possible rating.
    source : str
        Where the data was read from.
    age_bands : bool
        True when ``users["age"]`` holds band codes, the lowest age of each band as in
        MovieLens-1M's users.dat (1 for under 18, 18 for 18 to 24), not ages in years.
    """

    name: str
    ratings: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame
    genres: tuple[str, ...]
    occupations: tuple[str, ...]
    rating_scale: tuple[float, float] = (1.0, 5.0)
    source: str = field(default="", compare=False)
    age_bands: bool = False

    def __repr__(self) -> str:
        low, high = self.rating_scale
        return f"<Dataset {self.summary()}, ratings {low:g} to {high:g}>"

    @property
    def n_ratings(self) -> int:
        return len(self.ratings)

    @property
    def like_threshold(self) -> float:
        """The lowest rating that counts as a like; see :func:`like_threshold`."""
        return like_threshold(self.rating_scale)

    def fingerprint(self) -> str:
        """Return a SHA-256 digest of the ratings and catalogue.

        A saved model records it, so that loading the model against other data can be
        detected instead of silently mispredicting.
        """
        digest = hashlib.sha256()
        ratings = self.ratings.sort_values(["user_id", "item_id"])
        for column in ("user_id", "item_id", "rating"):
            digest.update(np.ascontiguousarray(ratings[column].to_numpy()).tobytes())
        digest.update("\n".join(map(str, self.items["item_id"])).encode())
        digest.update("\n".join(self.items["title"]).encode("utf-8"))
        return digest.hexdigest()

    def item_ids_for(self, original_ids) -> list[int]:
        """Return the item ids of ``original_ids``, the ids as your own files write them.

        A CSV of your own may name items with any text: metarec numbers them and keeps
        the text in ``items["original_id"]``. The models, and
        :meth:`metarec.serving.Recommender.adapt`, take the numbers. For MovieLens the
        two are the same.

        ``original_ids`` is a list (or other iterable) of ids. A single id, such as
        ``"sf-050"`` or ``50``, counts as a list of one and gives a list of one id.

        Raises
        ------
        ValueError
            Naming the ids that are not in the catalogue.
        TypeError
            If ``original_ids`` is neither an id nor an iterable of ids.
        """
        return _ids_for(self.items, "item_id", original_ids, "items")

    def user_ids_for(self, original_ids) -> list[int]:
        """Return the user ids of ``original_ids``; see :meth:`item_ids_for`.

        A single id, such as ``"uc002"``, gives a list of one id.
        """
        return _ids_for(self.users, "user_id", original_ids, "users")

    def original_item_ids(self) -> dict[int, str]:
        """Return ``{item_id: original id}``, the inverse of :meth:`item_ids_for`.

        For data without original ids (MovieLens), each id maps to its own text.
        """
        return _originals(self.items, "item_id")

    def original_user_ids(self) -> dict[int, str]:
        """Return ``{user_id: original id}``, the inverse of :meth:`user_ids_for`."""
        return _originals(self.users, "user_id")

    def item_titles(self) -> dict[int, str]:
        return dict(zip(self.items["item_id"], self.items["title"]))

    def summary(self) -> str:
        """Return the name and counts, e.g. ``"ml-100k: 100,000 ratings from 943 users …"``."""
        return (
            f"{self.name}: {_count(self.n_ratings, 'rating')} from "
            f"{_count(len(self.users), 'user')} on {_count(len(self.items), 'item')}"
        )


def _ids_for(frame: pd.DataFrame, column: str, original_ids, kind: str) -> list[int]:
    if isinstance(original_ids, (str, bytes, numbers.Number, np.generic)):
        # A single id: iterating a string would look up each of its characters.
        original_ids = [original_ids]
    try:
        original_ids = list(original_ids)
    except TypeError:
        noun = kind[:-1]
        raise TypeError(
            f"original ids must be a list of {noun} ids, such as ['{noun}-1', '{noun}-2'], "
            f"or a single id, got {type(original_ids).__name__} {original_ids!r}") from None
    originals = frame["original_id"] if "original_id" in frame else frame[column]
    lookup = dict(zip(originals.astype(str), frame[column].astype(int)))
    ids = [lookup.get(text) for text in map(_id_text, original_ids)]
    missing = [original for original, found in zip(original_ids, ids) if found is None]
    if missing:
        verb = "is not an id" if len(missing) == 1 else "are not ids"
        examples = ", ".join(repr(str(value)) for value in originals.iloc[:3])
        source = "original_id" if "original_id" in frame else column
        raise ValueError(f"{missing[:10]} {verb} of the dataset's {kind} ({len(frame):,} "
                         f"{kind}, such as {examples}); the ids are the {source} column of "
                         f"dataset.{kind}")
    return ids


def _id_text(value) -> str:
    """Return an original id as the text it is looked up by.

    Bytes are decoded, and a whole float such as 50.0 reads as "50": pandas reads an
    integer column with missing values as floats.
    """
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _originals(frame: pd.DataFrame, column: str) -> dict[int, str]:
    originals = frame["original_id"] if "original_id" in frame else frame[column]
    return dict(zip(frame[column].astype(int), originals.astype(str)))


def _count(number: int, noun: str) -> str:
    """Return ``number`` with thousands separators and ``noun``, plural unless it is 1."""
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"
