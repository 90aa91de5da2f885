"""Synthetic audiences: users picked from the data who give a new item its first ratings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data import Dataset
from ..data.dataset import on_scale, stars_text
from ..data.features import AGE_BANDS, age_range

LOVED_RATINGS = (5.0, 4.0)
HATED_RATINGS = (1.0, 2.0)
# Pseudo-ratings that pull a user's genre taste toward 0, so that two lucky ratings do
# not make someone a fan.
TASTE_SHRINKAGE = 5.0
MIN_GENRE_RATINGS = 3


@dataclass(frozen=True)
class AudiencePreset:
    """A group of users by demographics and taste, and how they rated the new item.

    Attributes
    ----------
    name : str
        Label shown in the dashboard.
    genres : tuple of str
        Genres the group's members like most, relative to their own mean rating.
    min_age, max_age : int
        Age range, inclusive.
    gender : str or None
        "M", "F" or None for either.
    loved : bool
        True: they rate the item 5 and 4 stars in turn; False: 1 and 2.
    """

    name: str
    genres: tuple[str, ...]
    min_age: int = 0
    max_age: int = 200
    gender: str | None = None
    loved: bool = True

    def describe(self, age_bands=False, rating_scale=(1.0, 5.0)) -> str:
        """Return who the audience is and how they rate, in one sentence.

        With ``age_bands`` (ages given as band codes, as in MovieLens-1M), the ages are
        named by the bands whose whole range fits, as :func:`audience_ratings` picks
        them: "under 18" rather than "aged 19 or under". The stars are those of
        ``rating_scale``, as :func:`audience_ratings` gives them.
        """
        bands = [label for low, high, label in AGE_BANDS
                 if low >= self.min_age and high <= self.max_age]
        if age_bands and len(bands) < len(AGE_BANDS):
            ages = f"in the age band{'s' if len(bands) > 1 else ''} {', '.join(bands)}"
        elif self.min_age > 0 and self.max_age < 200:
            ages = f"aged {self.min_age} to {self.max_age}"
        elif self.max_age < 200:
            ages = f"aged {self.max_age} or under"
        elif self.min_age > 0:
            ages = f"aged {self.min_age} or over"
        else:
            ages = "of any age"
        members = {"F": "women", "M": "men"}.get(self.gender, "users")
        values = LOVED_RATINGS if self.loved else HATED_RATINGS
        stars = f"{stars_text(values, rating_scale)} stars"
        return (f"The {members} {ages} who like {', '.join(self.genres)} most, relative to "
                f"their own ratings, give the item {stars}.")


PRESETS = {
    preset.name: preset
    for preset in (
        AudiencePreset("Teenage sci-fi fans loved it", ("Sci-Fi",), max_age=19),
        AudiencePreset("Older drama lovers loved it", ("Drama",), min_age=45),
        AudiencePreset("Women who love romance loved it", ("Romance",), gender="F"),
        AudiencePreset("Action fans hated it", ("Action", "Thriller"), loved=False),
        AudiencePreset("Horror fans loved it", ("Horror",)),
    )
}


def preset_genres(dataset: Dataset, preset: AudiencePreset) -> tuple:
    """Return the genres of ``preset`` that ``dataset`` has."""
    return tuple(g for g in preset.genres if g in dataset.genres)


def available_presets(dataset: Dataset) -> list[str]:
    """Return the names of the presets with at least one genre that ``dataset`` has."""
    return [name for name, preset in PRESETS.items() if preset_genres(dataset, preset)]


def genre_taste(dataset: Dataset, genres) -> pd.Series:
    """Return each user's shrunk mean residual on items of ``genres``, by user id.

    The residual of a rating is the rating minus the user's own mean rating. Users with
    fewer than 3 ratings of those genres are left out.
    """
    chosen_genres = set(genres)
    has_genre = dataset.items["genres"].map(lambda item_genres: bool(chosen_genres
                                                                     & set(item_genres)))
    in_genres = dataset.items.loc[has_genre, "item_id"]
    ratings = dataset.ratings
    user_means = ratings.groupby("user_id")["rating"].mean()
    chosen = ratings[ratings["item_id"].isin(in_genres)]
    residual = chosen["rating"] - chosen["user_id"].map(user_means)
    grouped = residual.groupby(chosen["user_id"])
    counts = grouped.count()
    taste = grouped.sum() / (counts + TASTE_SHRINKAGE)
    return taste[counts >= MIN_GENRE_RATINGS]


def audience_ratings(dataset: Dataset, preset: AudiencePreset | str,
                     n_users=8) -> dict[int, float]:
    """Pick the ``n_users`` who fit ``preset`` best and return their ratings of the item.

    Users in the preset's age range and gender are ranked by :func:`genre_taste`, ties
    going to the lower user id, so one dataset always gives the same audience.

    Raises
    ------
    ValueError
        If ``preset`` names no preset, ``n_users`` is below 1, the dataset has none of
        the preset's genres, or no user fits. Genres of the preset that the dataset
        lacks are ignored.
    """
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ValueError(f"unknown audience {preset!r}; choose one of {list(PRESETS)}")
        preset = PRESETS[preset]
    if n_users < 1:
        raise ValueError(f"n_users must be at least 1, got {n_users}")
    genres = preset_genres(dataset, preset)
    if not genres:
        raise ValueError(f"audience {preset.name!r} likes the genres "
                         f"{', '.join(preset.genres)}, and {dataset.name!r} has none of them "
                         f"(its genres: {', '.join(dataset.genres) or 'none'}); pick another "
                         "audience")

    users = dataset.users
    fits = pd.Series(True, index=users.index)
    if preset.min_age > 0 or preset.max_age < 200:
        # A band code fits when its whole band does: 18 (18 to 24) is not a teenager.
        # An unknown age fits no age limit.
        ranges = [age_range(age, dataset.age_bands) if age == age else (np.nan, np.nan)
                  for age in users["age"]]
        low = pd.Series([r[0] for r in ranges], index=users.index)
        high = pd.Series([r[1] for r in ranges], index=users.index)
        fits = (low >= preset.min_age) & (high <= preset.max_age)
    if preset.gender is not None:
        fits &= users["gender"] == preset.gender
    candidates = users.loc[fits, "user_id"]
    taste = genre_taste(dataset, genres)
    taste = taste[taste.index.isin(candidates) & (taste > 0)]
    if taste.empty:
        raise ValueError(f"no user of {dataset.name!r} fits the audience {preset.name!r}; "
                         f"pick another audience")
    ranked = pd.DataFrame({"user_id": taste.index, "taste": taste.to_numpy()})
    ranked = ranked.sort_values(["taste", "user_id"], ascending=[False, True], kind="stable")
    stars = [on_scale(r, dataset.rating_scale)
             for r in (LOVED_RATINGS if preset.loved else HATED_RATINGS)]
    chosen = ranked["user_id"].head(n_users).to_numpy(dtype=np.int64)
    return {int(user): stars[position % len(stars)] for position, user in enumerate(chosen)}
