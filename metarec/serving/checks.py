"""Checks of what a caller passes to adapt: ids, ratings and list lengths.

Each raises with the value at fault and what to pass instead, because a NumPy or
``float()`` error about the same value names neither the item nor the fix.
"""

from __future__ import annotations

import numbers

import numpy as np


def check_no_bools(keys, noun: str):
    """Raise ValueError when a key is True or False, which NumPy reads as id 1 or 0."""
    flags = [key for key in keys if isinstance(key, (bool, np.bool_))]
    if flags:
        raise ValueError(f"{noun} ids must be whole numbers, got {flags[0]!r}")


def whole_ids(keys, noun: str) -> np.ndarray:
    """Return ``keys`` as int64 ids, or raise naming the ones that are not whole numbers."""
    check_no_bools(keys, noun)
    invalid, ids = [], []
    for key in keys:
        try:
            number = float(key)
        except (TypeError, ValueError):
            number = float("nan")
        if not (np.isfinite(number) and number == round(number)):
            invalid.append(key)
        else:
            ids.append(int(number))
    if invalid:
        raise ValueError(f"{noun} ids must be whole numbers, got {invalid[:5]}")
    # Ids are int64; a larger whole number cannot be one, and NumPy would overflow.
    too_large = [key for key, number in zip(keys, ids) if abs(number) >= 2**63]
    if too_large:
        raise ValueError(f"{noun} ids must be below 2**63, got {too_large[:5]}; pass ids "
                         f"of the dataset")
    return np.asarray(ids, dtype=np.int64)


def check_unique(ids: np.ndarray, keys, noun: str):
    """Raise ValueError when two keys name the same id, such as ``50`` and ``"50"``."""
    seen = {}
    for number, key in zip(ids.tolist(), keys):
        if number in seen:
            raise ValueError(
                f"{noun} {number} is rated more than once (as {seen[number]!r} and "
                f"{key!r}); give each {noun} one rating")
        seen[number] = key


def rating_values(ratings: dict, ids: np.ndarray, noun: str, scale) -> np.ndarray:
    """Return the values of ``ratings`` as float32, or raise naming one that is not a number.

    ``ids`` are the checked ids of the keys, in the same order, for the message.
    """
    low, high = scale
    values = np.empty(len(ratings), dtype=np.float32)
    for position, (number, rating) in enumerate(zip(ids.tolist(), ratings.values())):
        try:
            if isinstance(rating, (bool, np.bool_)):
                raise TypeError("a truth value is not a rating")
            values[position] = float(rating)
        except (TypeError, ValueError):
            raise ValueError(
                f"the rating of {noun} {number} must be a number from {low:g} to "
                f"{high:g}, got {rating!r}") from None
    return values


def check_top_k(k):
    """Raise ValueError unless ``k``, the length of a top list, is a whole number of 1 or more."""
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise ValueError(f"k must be a whole number of 1 or more, got {k!r}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def reused_members(adapted, members, ratings, ratings_attribute) -> dict:
    """Return the adaptations of ``adapted`` that an ensemble of ``members`` can reuse.

    ``adapted`` maps variant names to adaptations, and None values are left out. Each
    adaptation of a member must be of that variant and of ``ratings``, which it stores
    in its attribute ``ratings_attribute``.

    Raises
    ------
    ValueError
        If an adaptation of a member is of another variant or of other ratings.
    """
    reused = {name: value for name, value in (adapted or {}).items() if value is not None}
    for name in members:
        if name in reused and (reused[name].variant != name
                               or getattr(reused[name], ratings_attribute) != ratings):
            raise ValueError(
                f"members[{name!r}] was adapted to other ratings or is another "
                f"variant ({reused[name].variant!r}); pass adaptations of these ratings")
    return reused
