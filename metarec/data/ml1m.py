"""Readers for the MovieLens-1M file layout (``ratings.dat``, ``movies.dat``, ``users.dat``).

The files are ``::``-separated and latin-1 encoded. Users' ages are band codes and their
occupations numeric codes, which are mapped to the labels of the MovieLens-1M README, so
the result has the same frames as :func:`metarec.data.load_movielens_100k`. As for
ML-100K, every line is checked and a malformed one raises :class:`DataFormatError`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from .dataset import Dataset
from .movielens import (
    _YEAR_IN_TITLE,
    DataFormatError,
    _parse_int,
    _read_lines,
    _reject_duplicate_ids,
)

# The genres and occupation codes as listed in the MovieLens-1M README.
ML1M_GENRES = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)
ML1M_OCCUPATIONS = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer",
    "homemaker", "K-12 student", "lawyer", "programmer", "retired", "sales/marketing",
    "scientist", "self-employed", "technician/engineer", "tradesman/craftsman",
    "unemployed", "writer",
)
# Each code is the lowest age of its band (1 stands for "under 18"), so that
# metarec.data.features.age_band maps it to the same band as an exact age.
ML1M_AGE_CODES = (1, 18, 25, 35, 45, 50, 56)
ML1M_FILES = ("ratings.dat", "movies.dat", "users.dat")
SEPARATOR = "::"
logger = logging.getLogger("metarec")


def read_ratings_1m(path, rating_scale=(1.0, 5.0)) -> pd.DataFrame:
    """Read ``ratings.dat``: ``UserID::MovieID::Rating::Timestamp`` per line."""
    path = Path(path)
    low, high = rating_scale
    users, items, values, times = [], [], [], []
    for number, line in _read_lines(path, "latin-1"):
        fields = line.split(SEPARATOR)
        if len(fields) != 4:
            raise DataFormatError(
                path, number, line,
                f"4 '::'-separated fields (user id, movie id, rating, timestamp), "
                f"got {len(fields)}",
            )
        users.append(_parse_int(fields[0], path, number, "user id", line))
        items.append(_parse_int(fields[1], path, number, "movie id", line))
        try:
            rating = float(fields[2])
        except ValueError:
            raise DataFormatError(
                path, number, line, f"a numeric rating, got {fields[2]!r}"
            ) from None
        if not low <= rating <= high:
            raise DataFormatError(
                path, number, line, f"a rating between {low:g} and {high:g}, got {rating:g}"
            )
        values.append(rating)
        times.append(_parse_int(fields[3], path, number, "timestamp", line))
    if not values:
        raise DataFormatError(path, 1, "", "at least one rating, the file is empty")

    frame = pd.DataFrame({"user_id": users, "item_id": items, "rating": values,
                          "timestamp": times})
    duplicated = frame.duplicated(["user_id", "item_id"])
    if duplicated.any():
        row = frame[duplicated].iloc[0]
        raise DataFormatError(
            path, int(duplicated.to_numpy().argmax()) + 1,
            f"user {row.user_id}, movie {row.item_id}",
            "one rating per (user, movie) pair, this pair is rated twice",
        )
    return frame


def read_movies_1m(path, genres=ML1M_GENRES) -> pd.DataFrame:
    """Read ``movies.dat`` (latin-1): ``MovieID::Title (year)::Genre|Genre``."""
    path = Path(path)
    known = set(genres)
    rows = []
    for number, line in _read_lines(path, "latin-1"):
        # Split at the first and the last separator, so that a title may contain "::".
        head, _, rest = line.partition(SEPARATOR)
        title, separator, genre_field = rest.rpartition(SEPARATOR)
        if not separator:
            raise DataFormatError(
                path, number, line,
                "3 '::'-separated fields (movie id, title, '|'-separated genres)",
            )
        item = _parse_int(head, path, number, "movie id", line)
        item_genres = tuple(name for name in genre_field.split("|") if name)
        unknown = [name for name in item_genres if name not in known]
        if unknown:
            raise DataFormatError(
                path, number, line,
                f"genres from the MovieLens-1M list ({', '.join(genres)}), got {unknown[0]!r}",
            )
        title = title.strip()
        match = _YEAR_IN_TITLE.search(title)
        year = float(match.group(1)) if match else float("nan")
        rows.append((item, title, year, item_genres))
    frame = pd.DataFrame(rows, columns=["item_id", "title", "year", "genres"])
    _reject_duplicate_ids(frame, "item_id", path)
    return frame


def read_users_1m(path) -> pd.DataFrame:
    """Read ``users.dat``: ``UserID::Gender::Age::Occupation::Zip-code``.

    ``age`` keeps the file's band code (1, 18, 25, 35, 45, 50 or 56) and ``occupation``
    becomes the label of its code.
    """
    path = Path(path)
    rows = []
    for number, line in _read_lines(path, "latin-1"):
        fields = line.split(SEPARATOR)
        if len(fields) != 5:
            raise DataFormatError(
                path, number, line,
                f"5 '::'-separated fields (user id, gender, age, occupation, zip code), "
                f"got {len(fields)}",
            )
        user = _parse_int(fields[0], path, number, "user id", line)
        gender = fields[1].strip().upper()
        if gender not in ("M", "F"):
            raise DataFormatError(path, number, line, f"gender M or F, got {fields[1]!r}")
        age = _parse_int(fields[2], path, number, "age code", line)
        if age not in ML1M_AGE_CODES:
            raise DataFormatError(
                path, number, line,
                f"an age code among {', '.join(map(str, ML1M_AGE_CODES))}, got {age}",
            )
        code = _parse_int(fields[3], path, number, "occupation code", line)
        if not 0 <= code < len(ML1M_OCCUPATIONS):
            raise DataFormatError(
                path, number, line,
                f"an occupation code from 0 to {len(ML1M_OCCUPATIONS) - 1}, got {code}",
            )
        rows.append((user, age, gender, ML1M_OCCUPATIONS[code], fields[4].strip()))
    frame = pd.DataFrame(rows, columns=["user_id", "age", "gender", "occupation", "zip_code"])
    _reject_duplicate_ids(frame, "user_id", path)
    return frame


def load_movielens_1m(directory, name=None) -> Dataset:
    """Load a directory in the MovieLens-1M layout.

    Parameters
    ----------
    directory : str or path-like
        Folder holding ``ratings.dat``, ``movies.dat`` and ``users.dat``.
    name : str, optional
        Label of the dataset; defaults to the folder name.

    Returns
    -------
    Dataset
        The same frames as :func:`metarec.data.load_movielens_100k` returns. ``age``
        is the band code of ``users.dat`` and ``occupation`` its label. Users that
        ``users.dat`` lists but who rated nothing are left out, so that a folder with
        part of the ratings counts only the users it has ratings of.

    Raises
    ------
    FileNotFoundError
        If the folder or one of the three files is missing; the message names each
        missing file.
    DataFormatError
        If a line is malformed, or a rating names a user or movie that is not listed.
    """
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(
            f"Data directory {str(directory)!r} does not exist or is not a folder. Pass a "
            f"folder that contains {', '.join(ML1M_FILES)}."
        )
    missing = [f for f in ML1M_FILES if not (directory / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"Data directory {str(directory)!r} is missing {', '.join(missing)}, which a "
            f"MovieLens-1M folder contains next to "
            f"{', '.join(f for f in ML1M_FILES if f not in missing) or 'the others'}."
        )

    ratings = read_ratings_1m(directory / "ratings.dat")
    items = read_movies_1m(directory / "movies.dat")
    users = read_users_1m(directory / "users.dat")
    for column, frame, expected in (
        ("item_id", items, "a movie id that movies.dat"),
        ("user_id", users, "a user id that users.dat"),
    ):
        unknown = ~ratings[column].isin(frame[column])
        if unknown.any():
            row = int(unknown.to_numpy().argmax())
            raise DataFormatError(
                directory / "ratings.dat", row + 1, f"{column} {ratings[column].iloc[row]}",
                f"{expected} lists",
            )

    rated = users["user_id"].isin(ratings["user_id"])
    if not rated.all():
        logger.info("%s: left out %d users of users.dat who have no ratings",
                    directory, int((~rated).sum()))
        users = users[rated].reset_index(drop=True)
    return Dataset(
        name=name or directory.name,
        ratings=ratings,
        items=items,
        users=users,
        genres=ML1M_GENRES,
        occupations=ML1M_OCCUPATIONS,
        source=str(directory),
        age_bands=True,
    )
