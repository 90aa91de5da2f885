"""Encode users and items as fixed-length feature vectors for the rating networks."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import numpy as np

from .dataset import Dataset

# Age bands of MovieLens-1M's users.dat, used for both datasets so models are comparable.
AGE_BANDS = ((0, 17, "under 18"), (18, 24, "18-24"), (25, 34, "25-34"), (35, 44, "35-44"),
             (45, 49, "45-49"), (50, 55, "50-55"), (56, 200, "56+"))
GENDERS = ("M", "F")
ZIP_REGIONS = tuple(str(digit) for digit in range(10))
YEAR_BANDS = ((0, 1959, "before 1960"), (1960, 1969, "1960s"), (1970, 1979, "1970s"),
              (1980, 1989, "1980s"), (1990, 1994, "1990-94"), (1995, 9999, "1995 on"))
TITLE_BUCKETS = 32
_WORD = re.compile(r"[a-z0-9']+")
_TITLE_YEAR = re.compile(r"\(\d{4}\)\s*$")


def age_band(age) -> str | None:
    """Return the label of the band holding ``age``, or None when it is unknown."""
    if age is None or (isinstance(age, float) and np.isnan(age)):
        return None
    for low, high, label in AGE_BANDS:
        if low <= age <= high:
            return label
    return None


def age_text(age, bands=False) -> str | None:
    """Return ``age`` as people read it, or None when it is unknown.

    Whole years show without decimals ("23", not "23.0"). With ``bands``, ``age`` is a
    band code (see :attr:`metarec.data.Dataset.age_bands`) and shows as its band's
    label: code 18 of MovieLens-1M is "18-24", not 18 years.
    """
    if age is None or age != age:
        return None
    if bands:
        return age_band(age)
    return f"{float(age):g}"


def age_range(age, bands=False) -> tuple[float, float]:
    """Return the lowest and highest age that ``age`` may stand for.

    An age in years stands for itself; a band code for its whole band.
    """
    if bands:
        for low, high, _ in AGE_BANDS:
            if low <= age <= high:
                return float(low), float(high)
    return float(age), float(age)


def year_band(year) -> str | None:
    if year is None or np.isnan(year):
        return None
    for low, high, label in YEAR_BANDS:
        if low <= year <= high:
            return label
    return None


def title_words(title: str) -> list[str]:
    """Lower-case words of a title without its ``(1995)`` year suffix."""
    return _WORD.findall(_TITLE_YEAR.sub("", title).lower())


def _one_hot(vocabulary, value):
    """Encode ``value`` with one slot per known value and a last slot for unknown or missing."""
    vector = np.zeros(len(vocabulary) + 1, dtype=np.float32)
    index = vocabulary.index(value) if value in vocabulary else len(vocabulary)
    vector[index] = 1.0
    return vector


@dataclass
class FeatureEncoder:
    """Map dataset ids to row indices and users or items to feature vectors.

    Row 0 of the item table is reserved for an item the encoder has not seen, so a model
    can still score it from its content.

    Attributes
    ----------
    item_ids : list of int
        Dataset item ids in row order; item ``item_ids[j]`` is row ``j + 1``.
    genres, occupations : list of str
        Vocabularies of the categorical features.
    """

    item_ids: list
    genres: list
    occupations: list

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> "FeatureEncoder":
        return cls(
            item_ids=[int(i) for i in dataset.items["item_id"]],
            genres=list(dataset.genres),
            occupations=list(dataset.occupations),
        )

    def __post_init__(self):
        self._item_index = {item: row + 1 for row, item in enumerate(self.item_ids)}

    # Sizes -----------------------------------------------------------------------------

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_user_features(self) -> int:
        return (len(AGE_BANDS) + 1) + (len(GENDERS) + 1) + (len(self.occupations) + 1) + (
            len(ZIP_REGIONS) + 1)

    @property
    def n_item_features(self) -> int:
        return len(self.genres) + len(YEAR_BANDS) + 1 + TITLE_BUCKETS

    # Ids -------------------------------------------------------------------------------

    def item_rows(self, item_ids) -> np.ndarray:
        """Return the table rows of ``item_ids``; unknown ids map to row 0."""
        return np.array([self._item_index.get(int(i), 0) for i in item_ids], dtype=np.int64)

    def known_items(self, item_ids) -> np.ndarray:
        return np.array([int(i) in self._item_index for i in item_ids], dtype=bool)

    # Features --------------------------------------------------------------------------

    def encode_user(self, age=None, gender=None, occupation=None, zip_code=None) -> np.ndarray:
        """Return the feature vector of one user; any field may be None (unknown)."""
        region = str(zip_code).strip()[:1] if zip_code not in (None, "") else None
        gender = str(gender).upper() if gender not in (None, "") else None
        return np.concatenate([
            _one_hot([label for _, _, label in AGE_BANDS], age_band(age)),
            _one_hot(list(GENDERS), gender),
            _one_hot(self.occupations, occupation),
            _one_hot(list(ZIP_REGIONS), region),
        ])

    def encode_users(self, users) -> dict[int, np.ndarray]:
        """Return ``{user_id: features}`` for every row of a users frame."""
        return {
            int(row.user_id): self.encode_user(row.age, row.gender, row.occupation, row.zip_code)
            for row in users.itertuples(index=False)
        }

    def encode_item(self, genres=(), year=None, title="") -> np.ndarray:
        """Return the content features of one item: genres, year band and title words."""
        genre_part = np.zeros(len(self.genres), dtype=np.float32)
        for genre in genres:
            if genre in self.genres:
                genre_part[self.genres.index(genre)] = 1.0
        if genre_part.sum() > 0:
            genre_part /= genre_part.sum()

        # Title words are hashed into a few buckets with a stable hash, so that the
        # encoding does not depend on Python's per-process string hashing.
        title_part = np.zeros(TITLE_BUCKETS, dtype=np.float32)
        for word in title_words(title):
            title_part[zlib.crc32(word.encode()) % TITLE_BUCKETS] += 1.0
        norm = np.linalg.norm(title_part)
        if norm > 0:
            title_part /= norm

        year_part = _one_hot([label for _, _, label in YEAR_BANDS], year_band(year))
        return np.concatenate([genre_part, year_part, title_part]).astype(np.float32)

    def item_feature_table(self, items) -> np.ndarray:
        """Return an ``(n_items + 1, n_item_features)`` table in row order; row 0 is zeros."""
        table = np.zeros((self.n_items + 1, self.n_item_features), dtype=np.float32)
        by_id = items.set_index("item_id")
        for row, item in enumerate(self.item_ids, start=1):
            entry = by_id.loc[item]
            table[row] = self.encode_item(entry["genres"], entry["year"], entry["title"])
        return table

    def to_dict(self) -> dict:
        return {"item_ids": self.item_ids, "genres": self.genres,
                "occupations": self.occupations}

    @classmethod
    def from_dict(cls, state) -> "FeatureEncoder":
        return cls(item_ids=[int(i) for i in state["item_ids"]], genres=list(state["genres"]),
                   occupations=list(state["occupations"]))
