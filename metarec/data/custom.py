"""Read people's own ratings from CSV files into a :class:`Dataset`.

The ratings file has the columns ``user_id, item_id, rating`` and optionally
``timestamp``. An items file (``item_id`` and optionally ``title``, ``genres`` with
``|`` between genres, ``year``, ``description``) and a users file (``user_id`` and
optionally ``age``, ``gender``, ``occupation``, ``zip_code``) may come with it. Ids may
be any text. The networks index users and items by integer ids, so ids that are not all
plain integers are numbered 1, 2, ... in order of first appearance, and the original id
is kept in an ``original_id`` column.

Each invalid row is rejected with its line number and the reason. When a file has more
than ``max_rejected_share`` of its data rows rejected, it is rejected as a whole with
:class:`CsvRejectedError`.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .csv_rows import (
    LISTED_REJECTIONS,
    CsvRejectedError,
    RejectedRow,
    TableReader,
    parse_timestamp,
)
from .dataset import Dataset

__all__ = ["COMMON_SCALES", "CSV_FILES", "CsvImport", "CsvRejectedError", "RatingScaleError",
           "RejectedRow", "infer_rating_scale", "load_csv_dataset", "log_rejected",
           "read_csv_dataset", "stretched_scale"]
logger = logging.getLogger("metarec")

DEFAULT_MAX_REJECTED_SHARE = 0.1
# Rating scales as (lowest, highest, step), tried in order when none is given.
COMMON_SCALES = ((1.0, 5.0, 1.0), (0.5, 5.0, 0.5), (0.0, 5.0, 0.5), (1.0, 10.0, 1.0),
                 (0.0, 10.0, 0.5))
# At most this share of ratings outside a common scale counts as outliers that stretch it.
OUTLIER_SHARE = 0.01
# File names that make a folder a CSV dataset. Only the ratings file is required.
CSV_FILES = ("ratings.csv", "items.csv", "users.csv")

_YEAR_IN_TITLE = re.compile(r"\((\d{4})\)\s*$")
_INTEGER = re.compile(r"-?[0-9]+")
_NO_GENRES = "(no genres listed)"


class RatingScaleError(ValueError):
    """A rating scale cannot be inferred because every rating is one uncommon value.

    The value lies outside every scale in ``COMMON_SCALES``.

    Attributes
    ----------
    value : float
        The one rating value.
    """

    def __init__(self, value):
        self.value = value
        super().__init__(
            f"every rating is {value:g}, which fits no common scale; pass the rating scale "
            "(rating_scale=(low, high), or --rating-scale LOW HIGH on the command line)."
        )


@dataclass(frozen=True)
class CsvImport:
    """A dataset read from CSV files and the rows that were left out of it."""

    dataset: Dataset
    rejected: list


def load_csv_dataset(ratings, items=None, users=None, **options) -> Dataset:
    """Read CSV files like :func:`read_csv_dataset` and log each rejected row.

    Returns
    -------
    Dataset
    """
    result = read_csv_dataset(ratings, items, users, **options)
    log_rejected(result.rejected)
    return result.dataset


def log_rejected(rejected):
    """Log rejected rows as warnings, the first ``LISTED_REJECTIONS`` one by one."""
    for row in rejected[:LISTED_REJECTIONS]:
        logger.warning("rejected %s, line %d: %s", row.file, row.line, row.reason)
    if len(rejected) > LISTED_REJECTIONS:
        logger.warning("rejected %d more rows", len(rejected) - LISTED_REJECTIONS)


def read_csv_dataset(ratings, items=None, users=None, *, name=None, source=None,
                     rating_scale=None, max_rejected_share=DEFAULT_MAX_REJECTED_SHARE,
                     encoding=None) -> CsvImport:
    """Read a ratings CSV, with optional items and users CSVs, into a dataset.

    Parameters
    ----------
    ratings : str or path-like
        CSV with a header naming ``user_id``, ``item_id``, ``rating`` and optionally
        ``timestamp`` (seconds since the epoch, or an ISO 8601 date). Without a header,
        the columns must come in that order. ``userId``, ``movieId`` and similar
        spellings are accepted as column names.
    items, users : str or path-like, optional
        CSVs with an ``item_id`` or ``user_id`` column, see the module docstring. Without
        an items file, an item's title is its id and it has no genres. Without a users
        file, every user's demographics are unknown.
    name : str, optional
        Label of the dataset; defaults to the ratings file name without extension.
    source : str, optional
        Where the data came from, shown in the dashboard; defaults to the ratings path.
    rating_scale : (float, float), optional
        Lowest and highest possible rating; rows outside it are rejected. By default the
        scale :func:`infer_rating_scale` returns.
    max_rejected_share : float, default 0.1
        Largest share of a file's data rows that may be rejected before the whole file
        is.
    encoding : str, optional
        Text encoding of the files; by default UTF-8, falling back to latin-1 for a file
        that is not valid UTF-8.

    Returns
    -------
    CsvImport
        The dataset and every rejected row, in file order.

    Raises
    ------
    FileNotFoundError
        If a file is missing.
    DataFormatError
        If a header lacks a required column.
    CsvRejectedError
        If a file has more than ``max_rejected_share`` invalid rows, or none valid.
    RatingScaleError
        If no rating scale is given and every rating is one value outside every common
        scale.
    ValueError
        If an argument is out of range.
    """
    if not 0 <= max_rejected_share < 1:
        raise ValueError(
            f"max_rejected_share must be at least 0 and below 1, got {max_rejected_share!r}"
        )
    if rating_scale is not None:
        rating_scale = _check_scale(rating_scale)
    ratings = Path(ratings).expanduser()
    options = {"max_share": max_rejected_share, "encoding": encoding}

    # Parse each file. Rows that break a rule of their own file are rejected here.
    item_table = _read_items(Path(items).expanduser(), **options) if items else None
    user_table = _read_users(Path(users).expanduser(), **options) if users else None
    rating_rows, rejected, total = _read_ratings(ratings, rating_scale, item_table,
                                                 **options)

    # Number the ids, then build the frames the rest of metarec reads.
    scale = rating_scale or infer_rating_scale(row[3] for row in rating_rows)
    if rating_scale is None and scale not in [common[:2] for common in COMMON_SCALES]:
        logger.warning("%s: ratings range from %g to %g, which matches no common scale; "
                       "pass the rating scale (--rating-scale LOW HIGH) if that is wrong",
                       ratings, *scale)
    stretched = None if rating_scale else stretched_scale([row[3] for row in rating_rows],
                                                         scale)
    if stretched is not None:
        narrower, outliers = stretched
        logger.warning("%s: %d of %d ratings lie outside %g to %g, so the rating scale is "
                       "%g to %g; fix those ratings or pass the rating scale if that is "
                       "wrong", ratings, outliers.size, len(rating_rows), *narrower, *scale)
    item_ids = _number_ids([*(item_table.ids if item_table else []),
                            *(row[2] for row in rating_rows)])
    user_ids = _number_ids(row[1] for row in rating_rows)
    frame = pd.DataFrame({
        "user_id": np.array([user_ids[row[1]] for row in rating_rows], dtype=np.int64),
        "item_id": np.array([item_ids[row[2]] for row in rating_rows], dtype=np.int64),
        "rating": np.array([row[3] for row in rating_rows], dtype=float),
        "timestamp": np.array([row[4] for row in rating_rows], dtype=np.int64),
    })
    item_frame, genres = _item_frame(item_ids, item_table)
    user_frame, occupations = _user_frame(user_ids, user_table)

    all_rejected = [*(item_table.rejected if item_table else []),
                    *(user_table.rejected if user_table else []), *rejected]
    dataset = Dataset(
        name=name or ratings.stem,
        ratings=frame,
        items=item_frame,
        users=user_frame,
        genres=genres,
        occupations=occupations,
        rating_scale=scale,
        source=str(source or ratings),
    )
    logger.info("read %s: %d of %d rating rows kept, rating scale %g to %g",
                ratings, len(frame), total, *scale)
    return CsvImport(dataset, all_rejected)


def infer_rating_scale(values) -> tuple[float, float]:
    """Return the rating scale that ``values`` most likely come from.

    That is the first of ``COMMON_SCALES`` that contains every value on its steps (so
    2.5 and 3 give 0.5 to 5), else the first that contains every value, else the lowest
    and highest value.

    Raises
    ------
    ValueError
        If ``values`` is empty.
    RatingScaleError
        If all ratings are equal and outside every common scale.
    """
    values = np.fromiter(values, dtype=float)
    if values.size == 0:
        raise ValueError("cannot infer a rating scale from no ratings")
    low, high = float(values.min()), float(values.max())
    containing = [(lowest, highest, step) for lowest, highest, step in COMMON_SCALES
                  if lowest <= low and high <= highest]
    for lowest, highest, step in containing:
        steps = (values - lowest) / step
        if np.allclose(steps, np.round(steps)):
            return (lowest, highest)
    if containing:
        return containing[0][:2]
    if low == high:
        raise RatingScaleError(low)
    return (low, high)


def stretched_scale(values, scale=None, max_share=OUTLIER_SHARE):
    """Return the common scale that a few outlying ratings stretch into ``scale``, or None.

    Returns ``(narrower, outliers)``: the first of ``COMMON_SCALES`` inside ``scale``
    that leaves out at least one and at most ``max_share`` of ``values``, and the
    values it leaves out. Returns None when there is no such scale. ``scale`` defaults
    to :func:`infer_rating_scale` of ``values``.
    """
    values = np.fromiter(values, dtype=float)
    if values.size == 0:
        return None
    low, high = scale or infer_rating_scale(values)
    for lowest, highest, _ in COMMON_SCALES:
        if (lowest, highest) == (low, high) or not low <= lowest < highest <= high:
            continue
        outside = values[(values < lowest) | (values > highest)]
        if 0 < outside.size <= max_share * values.size:
            return (lowest, highest), outside
    return None


def _check_scale(scale) -> tuple[float, float]:
    try:
        low, high = (float(value) for value in scale)
    except (TypeError, ValueError):
        raise ValueError(
            f"rating_scale must be two numbers (lowest, highest), got {scale!r}"
        ) from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(
            f"rating_scale must be two finite numbers with lowest < highest, got {scale!r}"
        )
    return (low, high)


# Ratings -------------------------------------------------------------------------------

_RATING_COLUMNS = ("user_id", "item_id", "rating", "timestamp")


def _read_ratings(path, scale, item_table, max_share, encoding):
    """Return ``(rows, rejected, data_rows)``, each row ``(line, user, item, rating, time)``.

    Raises CsvRejectedError if too many rows are invalid, counting ratings of items that
    the items file does not list.
    """
    reader = TableReader(path, required=_RATING_COLUMNS[:3], optional=_RATING_COLUMNS[3:],
                         encoding=encoding, headerless=_RATING_COLUMNS)
    known_items = set(item_table.ids) if item_table else None
    rows, first_line = [], {}
    for line, record in reader.records():
        user, item = record["user_id"], record["item_id"]
        try:
            rating = float(record["rating"])
        except ValueError:
            reader.reject(line, f"rating {record['rating']!r} is not a number")
            continue
        if not math.isfinite(rating):
            reader.reject(line, f"rating {record['rating']!r} is not a finite number")
            continue
        if scale and not scale[0] <= rating <= scale[1]:
            reader.reject(line, f"rating {rating:g} is outside the scale {scale[0]:g} to "
                                f"{scale[1]:g}")
            continue
        timestamp = parse_timestamp(record.get("timestamp", ""))
        if timestamp is None:
            reader.reject(line, f"timestamp {record['timestamp']!r} is neither whole "
                                f"seconds since 1970 nor an ISO 8601 date")
            continue
        if known_items is not None and item not in known_items:
            reader.reject(line, f"item {item!r} is not in {item_table.path.name}")
            continue
        if (user, item) in first_line:
            reader.reject(line, f"user {user!r} rated item {item!r} already on line "
                                f"{first_line[user, item]}")
            continue
        first_line[user, item] = line
        rows.append((line, user, item, rating, timestamp))
    reader.check_share(max_share)
    return rows, reader.rejected, reader.data_rows


# Items and users -----------------------------------------------------------------------

@dataclass
class _Table:
    """Parsed rows of an items or users file, keyed by their original id."""

    path: Path
    ids: list
    values: dict
    rejected: list


def _read_items(path, max_share, encoding) -> _Table:
    reader = TableReader(path, required=("item_id",),
                         optional=("title", "genres", "year", "description"),
                         encoding=encoding)
    ids, values = [], {}
    for line, record in reader.records():
        item = record["item_id"]
        if item in values:
            reader.reject(line, f"item {item!r} is listed twice, first on line "
                                f"{values[item]['line']}")
            continue
        title = record.get("title", "").strip() or item
        year_text = record.get("year", "").strip()
        if year_text:
            try:
                year = float(year_text)
            except ValueError:
                reader.reject(line, f"year {year_text!r} is not a number")
                continue
        else:
            match = _YEAR_IN_TITLE.search(title)
            year = float(match.group(1)) if match else float("nan")
        genres = tuple(dict.fromkeys(
            name.strip() for name in record.get("genres", "").split("|")
            if name.strip() and name.strip() != _NO_GENRES))
        ids.append(item)
        values[item] = {"line": line, "title": title, "year": year, "genres": genres,
                        "description": record.get("description", "")}
    reader.check_share(max_share)
    return _Table(path, ids, values, reader.rejected)


_GENDERS = {"m": "M", "male": "M", "f": "F", "female": "F"}


def _read_users(path, max_share, encoding) -> _Table:
    reader = TableReader(path, required=("user_id",),
                         optional=("age", "gender", "occupation", "zip_code"),
                         encoding=encoding)
    ids, values = [], {}
    for line, record in reader.records():
        user = record["user_id"]
        if user in values:
            reader.reject(line, f"user {user!r} is listed twice, first on line "
                                f"{values[user]['line']}")
            continue
        age_text = record.get("age", "").strip()
        age = float("nan")
        if age_text:
            try:
                age = float(age_text)
            except ValueError:
                reader.reject(line, f"age {age_text!r} is not a number")
                continue
            if not 1 <= age <= 120:
                reader.reject(line, f"age {age:g} is outside 1 to 120")
                continue
        gender_text = record.get("gender", "").strip()
        if gender_text and gender_text.lower() not in _GENDERS:
            reader.reject(line, f"gender {gender_text!r} is not M, F, male or female")
            continue
        ids.append(user)
        values[user] = {"line": line, "age": age,
                        "gender": _GENDERS.get(gender_text.lower(), ""),
                        "occupation": record.get("occupation", "").strip(),
                        "zip_code": record.get("zip_code", "").strip()}
    reader.check_share(max_share)
    return _Table(path, ids, values, reader.rejected)


# Frames ---------------------------------------------------------------------------------

def _number_ids(values) -> dict:
    """Map original ids to integer ids.

    Ids that are all plain integers (``"7"``, not ``"07"`` or ``"7.0"``) keep their
    value, so that numeric ids in the file are the ids metarec shows. Otherwise ids are
    numbered from 1 in order of first appearance.
    """
    unique = list(dict.fromkeys(values))
    if all(_INTEGER.fullmatch(value) and str(int(value)) == value
           and abs(int(value)) < 2 ** 63 for value in unique):
        return {value: int(value) for value in unique}
    return {value: number for number, value in enumerate(unique, start=1)}


def _item_frame(item_ids: dict, table):
    rows = []
    for original, item in item_ids.items():
        entry = table.values[original] if table else {}
        rows.append((item, entry.get("title", original), entry.get("year", float("nan")),
                     entry.get("genres", ()), entry.get("description", ""), original))
    frame = pd.DataFrame(rows, columns=["item_id", "title", "year", "genres", "description",
                                        "original_id"])
    frame["item_id"] = frame["item_id"].astype(np.int64)
    frame["year"] = frame["year"].astype(float)
    genres = tuple(sorted({genre for entry in frame["genres"] for genre in entry}))
    return frame, genres


def _user_frame(user_ids: dict, table):
    """Return one row per rating user; users without a row in ``table`` are unknown."""
    rows = []
    for original, user in user_ids.items():
        entry = table.values.get(original, {}) if table else {}
        rows.append((user, entry.get("age", float("nan")), entry.get("gender", ""),
                     entry.get("occupation", ""), entry.get("zip_code", ""), original))
    frame = pd.DataFrame(rows, columns=["user_id", "age", "gender", "occupation", "zip_code",
                                        "original_id"])
    frame["user_id"] = frame["user_id"].astype(np.int64)
    frame["age"] = frame["age"].astype(float)
    occupations = tuple(sorted({value for value in frame["occupation"] if value}))
    return frame, occupations
