"""Readers for the MovieLens-100K file layout (``u.data``, ``u.item``, ``u.user``).

Every line is checked. A malformed line raises :class:`DataFormatError` naming the file,
the line number, what was found and what was expected, so a damaged file is never loaded
in part.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

import pandas as pd

from .dataset import Dataset

# The 19 genre flags of u.item, in file order, as listed in u.genre.
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
ML100K_OCCUPATIONS = (
    "administrator", "artist", "doctor", "educator", "engineer", "entertainment",
    "executive", "healthcare", "homemaker", "lawyer", "librarian", "marketing", "none",
    "other", "programmer", "retired", "salesman", "scientist", "student", "technician",
    "writer",
)
DATA_DIR_ENV = "METAREC_DATA_DIR"
_ITEM_FIELDS = 5 + len(ML100K_GENRES)
_YEAR_IN_TITLE = re.compile(r"\((\d{4})\)\s*$")


class DataFormatError(ValueError):
    """A data file does not follow the layout it claims to have.

    Attributes
    ----------
    path : pathlib.Path
    line_number : int
    found : str
        The text of the line, or ``""`` where the file ends early.
    expected : str
        What the line should contain.
    """

    def __init__(self, path, line_number, found, expected):
        self.path = Path(path)
        self.line_number = line_number
        self.found = found
        self.expected = expected
        super().__init__(
            f"{self.path}, line {line_number}: expected {expected}, found {found!r}"
        )


def _read_lines(path: Path, encoding: str):
    """Yield ``(line_number, line)`` for each non-empty line, newline stripped."""
    with open(path, encoding=encoding, newline="") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if line.strip():
                yield number, line


def _parse_int(text, path, number, what, line):
    try:
        return int(text)
    except ValueError:
        raise DataFormatError(path, number, line, f"an integer {what}, got {text!r}") from None


def read_ratings(path, rating_scale=(1.0, 5.0)) -> pd.DataFrame:
    """Read ``u.data``: tab-separated ``user id, item id, rating, timestamp``."""
    path = Path(path)
    low, high = rating_scale
    rows = []
    for number, line in _read_lines(path, "latin-1"):
        fields = line.split("\t")
        if len(fields) != 4:
            raise DataFormatError(
                path, number, line,
                f"4 tab-separated fields (user id, item id, rating, timestamp), "
                f"got {len(fields)}",
            )
        user = _parse_int(fields[0], path, number, "user id", line)
        item = _parse_int(fields[1], path, number, "item id", line)
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
        timestamp = _parse_int(fields[3], path, number, "timestamp", line)
        rows.append((user, item, rating, timestamp))
    if not rows:
        raise DataFormatError(path, 1, "", "at least one rating, the file is empty")
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    duplicated = frame.duplicated(["user_id", "item_id"])
    if duplicated.any():
        first = int(duplicated.to_numpy().argmax())
        row = frame.iloc[first]
        raise DataFormatError(
            path, first + 1, f"user {row.user_id}, item {row.item_id}",
            "one rating per (user, item) pair, this pair is rated twice",
        )
    return frame


def _parse_year(release_date: str, title: str):
    """Return the release year from ``01-Jan-1995``, else from a ``(1995)`` title suffix."""
    if release_date:
        try:
            return float(datetime.strptime(release_date, "%d-%b-%Y").year)
        except ValueError:
            pass
    match = _YEAR_IN_TITLE.search(title)
    return float(match.group(1)) if match else float("nan")


def read_items(path, genres=ML100K_GENRES) -> pd.DataFrame:
    """Read ``u.item`` (latin-1): id, title, release date, video date, URL, genre flags."""
    path = Path(path)
    expected_fields = 5 + len(genres)
    rows = []
    for number, line in _read_lines(path, "latin-1"):
        fields = line.split("|")
        if len(fields) != expected_fields:
            raise DataFormatError(
                path, number, line,
                f"{expected_fields} '|'-separated fields (id, title, release date, "
                f"video date, URL and {len(genres)} genre flags), got {len(fields)}",
            )
        item = _parse_int(fields[0], path, number, "item id", line)
        flags = fields[5:]
        if any(flag not in ("0", "1") for flag in flags):
            raise DataFormatError(path, number, line, "genre flags that are 0 or 1")
        title = fields[1].strip()
        item_genres = tuple(name for name, flag in zip(genres, flags) if flag == "1")
        rows.append((item, title, _parse_year(fields[2].strip(), title), item_genres))
    frame = pd.DataFrame(rows, columns=["item_id", "title", "year", "genres"])
    _reject_duplicate_ids(frame, "item_id", path)
    return frame


def read_users(path, occupations=ML100K_OCCUPATIONS) -> pd.DataFrame:
    """Read ``u.user``: id, age, gender (M/F), occupation, zip code."""
    path = Path(path)
    known = set(occupations)
    rows = []
    for number, line in _read_lines(path, "latin-1"):
        fields = line.split("|")
        if len(fields) != 5:
            raise DataFormatError(
                path, number, line,
                f"5 '|'-separated fields (id, age, gender, occupation, zip code), "
                f"got {len(fields)}",
            )
        user = _parse_int(fields[0], path, number, "user id", line)
        age = _parse_int(fields[1], path, number, "age", line)
        gender = fields[2].strip().upper()
        if gender not in ("M", "F"):
            raise DataFormatError(path, number, line, f"gender M or F, got {fields[2]!r}")
        occupation = fields[3].strip()
        if occupation not in known:
            raise DataFormatError(
                path, number, line,
                f"an occupation listed in u.occupation, got {occupation!r}",
            )
        rows.append((user, age, gender, occupation, fields[4].strip()))
    frame = pd.DataFrame(rows, columns=["user_id", "age", "gender", "occupation", "zip_code"])
    _reject_duplicate_ids(frame, "user_id", path)
    return frame


def _read_name_list(path: Path, fallback):
    """Read ``u.genre`` / ``u.occupation`` (``name|index`` or one name a line)."""
    if not path.exists():
        return tuple(fallback)
    names = [line.split("|")[0].strip() for _, line in _read_lines(path, "latin-1")]
    return tuple(names)


def _reject_duplicate_ids(frame, column, path):
    duplicated = frame.duplicated(column)
    if duplicated.any():
        first = int(duplicated.to_numpy().argmax())
        raise DataFormatError(
            path, first + 1, str(frame.iloc[first][column]), f"a unique {column}"
        )


REQUIRED_FILES = ("u.data", "u.item", "u.user")


def load_movielens_100k(directory, name=None) -> Dataset:
    """Load a directory in the MovieLens-100K layout.

    Parameters
    ----------
    directory : str or path-like
        Folder holding ``u.data``, ``u.item`` and ``u.user``; ``u.genre`` and
        ``u.occupation`` are read when present.
    name : str, optional
        Label of the dataset; defaults to the folder name.

    Raises
    ------
    FileNotFoundError
        If the folder or one of the required files is missing.
    DataFormatError
        If a line is malformed, or a rating names a user or item that is not listed.
    """
    directory = Path(directory).expanduser()
    if directory.is_file():
        raise FileNotFoundError(
            f"{str(directory)!r} is a file, not a folder. Pass the folder that contains "
            f"{', '.join(REQUIRED_FILES)}."
        )
    if not directory.is_dir():
        raise FileNotFoundError(
            f"Data directory {str(directory)!r} does not exist. Pass a folder in the "
            f"MovieLens-100K layout with --data or {DATA_DIR_ENV}."
        )
    missing = [f for f in REQUIRED_FILES if not (directory / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"Data directory {str(directory)!r} is missing {', '.join(missing)}, which a "
            f"MovieLens-100K folder contains."
        )

    genres = _read_name_list(directory / "u.genre", ML100K_GENRES)
    occupations = _read_name_list(directory / "u.occupation", ML100K_OCCUPATIONS)
    ratings = read_ratings(directory / "u.data")
    items = read_items(directory / "u.item", genres)
    users = read_users(directory / "u.user", occupations)

    for column, frame, file_name in (
        ("item_id", items, "u.item"), ("user_id", users, "u.user"),
    ):
        unknown = ~ratings[column].isin(frame[column])
        if unknown.any():
            line = int(unknown.to_numpy().argmax()) + 1
            raise DataFormatError(
                directory / "u.data", line, f"{column} {ratings[column].iloc[line - 1]}",
                f"an {column.replace('_', ' ')} that {file_name} lists",
            )
    return Dataset(
        name=name or directory.name,
        ratings=ratings,
        items=items,
        users=users,
        genres=genres,
        occupations=occupations,
        source=str(directory),
    )


def default_data_dir():
    """Return the folder named by ``METAREC_DATA_DIR``, or None when it is unset."""
    value = os.environ.get(DATA_DIR_ENV)
    return Path(value) if value else None
