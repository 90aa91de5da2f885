"""Read people's own ratings from CSV files into a :class:`Dataset`.

The ratings file has the columns ``user_id, item_id, rating`` and optionally
``timestamp``. An items file (``item_id`` and optionally ``title``, ``genres`` with
``|``, ``;`` or ``,`` between genres, ``year``, ``description``) and a users file
(``user_id`` and optionally ``age``, ``gender``, ``occupation``, ``zip_code``) may come
with it. Ids may be any text. The networks index users and items by integer ids, so ids
that are not all plain integers are numbered 1, 2, ... in order of first appearance, and
the original id is kept in an ``original_id`` column.

Each invalid row is rejected with its line number and the reason. When a file has more
than ``max_rejected_share`` of its data rows rejected, it is rejected as a whole with
:class:`CsvRejectedError`. An invalid value in an optional field that the rest of the
row does not need (an item's year) is left out instead, and so is an optional column in
which no value is valid (the timestamps), each with a :class:`CsvWarning`.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .csv_rows import (
    LISTED_REJECTIONS,
    CsvRejectedError,
    CsvWarning,
    RejectedRow,
    TableReader,
    is_milliseconds,
    parse_timestamp,
)
from .dataset import Dataset

__all__ = ["COMMON_SCALES", "CSV_FILES", "CsvImport", "CsvRejectedError", "CsvWarning",
           "RatingScaleError", "RejectedRow", "infer_rating_scale", "load_csv_dataset",
           "log_rejected", "log_warnings", "read_csv_dataset", "stretched_scale"]
logger = logging.getLogger("metarec")

DEFAULT_MAX_REJECTED_SHARE = 0.1
# Rating scales as (lowest, highest, step), tried in order when none is given.
COMMON_SCALES = ((1.0, 5.0, 1.0), (0.5, 5.0, 0.5), (0.0, 5.0, 0.5), (1.0, 10.0, 1.0),
                 (0.0, 10.0, 0.5))
# At most this share of ratings outside a common scale counts as outliers that stretch it.
OUTLIER_SHARE = 0.01
# Up to this larger share counts too when every other rating lies on the common scale's
# steps, such as one rating in five being 9 among whole ratings of 1 to 5. Data on a
# scale of 1 to 10 rarely has fewer than a quarter of its ratings above 5.
MINORITY_SHARE = 0.25
# File names that make a folder a CSV dataset. Only the ratings file is required.
CSV_FILES = ("ratings.csv", "items.csv", "users.csv")

_YEAR_IN_TITLE = re.compile(r"\((\d{4})\)\s*$")
_INTEGER = re.compile(r"-?[0-9]+")
_NO_GENRES = "(no genres listed)"
# Genres may be separated by any of these, as spreadsheets and other tools write them.
_GENRE_SEPARATORS = re.compile(r"[|;,]")


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
    """A dataset read from CSV files, the rows left out of it and the fields left out.

    Attributes
    ----------
    dataset : Dataset
    rejected : list of RejectedRow
        Rows left out, in file order.
    warnings : list of CsvWarning
        Fields and columns left out of rows that were kept.
    """

    dataset: Dataset
    rejected: list
    warnings: list = field(default_factory=list)


def load_csv_dataset(ratings, items=None, users=None, **options) -> Dataset:
    """Read CSV files like :func:`read_csv_dataset` and log each rejected row.

    Returns
    -------
    Dataset
    """
    result = read_csv_dataset(ratings, items, users, **options)
    log_warnings(result.warnings)
    log_rejected(result.rejected)
    return result.dataset


def log_rejected(rejected):
    """Log rejected rows as warnings, the first ``LISTED_REJECTIONS`` one by one."""
    for row in rejected[:LISTED_REJECTIONS]:
        logger.warning("rejected %s, line %d: %s", row.file, row.line, row.reason)
    if len(rejected) > LISTED_REJECTIONS:
        logger.warning("rejected %d more rows", len(rejected) - LISTED_REJECTIONS)


def log_warnings(warnings):
    """Log each left-out field or column as a warning, the first ``LISTED_REJECTIONS``."""
    for warning in warnings[:LISTED_REJECTIONS]:
        where = f", line {warning.line}" if warning.line is not None else ""
        logger.warning("%s%s: %s", warning.file, where, warning.message)
    if len(warnings) > LISTED_REJECTIONS:
        logger.warning("left out %d more fields", len(warnings) - LISTED_REJECTIONS)


def read_csv_dataset(ratings, items=None, users=None, *, name=None, source=None,
                     rating_scale=None, max_rejected_share=DEFAULT_MAX_REJECTED_SHARE,
                     encoding=None) -> CsvImport:
    """Read a ratings CSV, with optional items and users CSVs, into a dataset.

    Parameters
    ----------
    ratings : str or path-like
        CSV with a header naming ``user_id``, ``item_id``, ``rating`` and optionally
        ``timestamp`` (seconds since the epoch, or an ISO 8601 date). Timestamps too
        large for seconds are read as milliseconds (or micro- or nanoseconds). A
        timestamp column without a single valid value is left out. Without a header,
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
        The dataset, every rejected row in file order, and the fields and columns left
        out of kept rows.

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
    rating_rows, reader = _read_ratings(ratings, rating_scale, item_table, **options)

    # Number the ids, then build the frames the rest of metarec reads.
    scale = rating_scale or infer_rating_scale(row[3] for row in rating_rows)
    if rating_scale is None and scale not in [common[:2] for common in COMMON_SCALES]:
        logger.warning("%s: ratings range from %g to %g, which matches no common scale; "
                       "pass the rating scale (--rating-scale LOW HIGH) if that is wrong",
                       ratings, *scale)
    stretched = None if rating_scale else stretched_scale([row[3] for row in rating_rows],
                                                         scale)
    if stretched is not None:
        logger.warning("%s: %s", ratings, _stretched_message(*stretched, len(rating_rows),
                                                             scale))
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

    tables = [table for table in (item_table, user_table) if table is not None]
    all_rejected = [*(row for table in tables for row in table.rejected), *reader.rejected]
    warnings = [*(row for table in tables for row in table.warnings), *reader.warnings]
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
                ratings, len(frame), reader.data_rows, *scale)
    return CsvImport(dataset, all_rejected, warnings)


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


def stretched_scale(values, scale=None, max_share=OUTLIER_SHARE,
                    max_share_on_steps=MINORITY_SHARE):
    """Return the common scale that a few outlying ratings stretch into ``scale``, or None.

    Returns ``(narrower, outliers)``: the first of ``COMMON_SCALES`` inside ``scale``
    that leaves out at least one of ``values`` and at most ``max_share`` of them, or at
    most ``max_share_on_steps`` when the values it keeps all lie on its steps. The
    second item is the values it leaves out. Returns None when there is no such scale.
    ``scale`` defaults to :func:`infer_rating_scale` of ``values``.
    """
    values = np.fromiter(values, dtype=float)
    if values.size == 0:
        return None
    low, high = scale or infer_rating_scale(values)
    for lowest, highest, step in COMMON_SCALES:
        if (lowest, highest) == (low, high) or not low <= lowest < highest <= high:
            continue
        outside = (values < lowest) | (values > highest)
        share = outside.sum() / values.size
        if share == 0 or share > max(max_share, max_share_on_steps):
            continue
        steps = (values[~outside] - lowest) / step
        if share <= max_share or np.allclose(steps, np.round(steps)):
            return (lowest, highest), values[outside]
    return None


def _stretched_message(narrower, outliers, count, scale) -> str:
    """Say which ratings stretch the common scale ``narrower`` into ``scale``, and the fix."""
    values = np.unique(outliers)
    listed = ", ".join(f"{value:g}" for value in values[:5])
    more = f" and {values.size - 5} more values" if values.size > 5 else ""
    common = f"{narrower[0]:g} to {narrower[1]:g}"
    low, high = scale
    return (f"{outliers.size:,} of {count:,} ratings lie outside {common}: {listed}{more}, "
            f"so the rating scale is {low:g} to {high:g}. If the scale is {common}, fix or "
            f"remove those ratings (--rating-scale {narrower[0]:g} {narrower[1]:g} rejects "
            f"them); if it is {low:g} to {high:g}, pass --rating-scale {low:g} {high:g} "
            f"(rating_scale=({low:g}, {high:g}) in Python) to confirm it")


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
    """Return ``(rows, reader)``, each row ``(line, user, item, rating, time)``.

    The reader contains the rejected rows, the warnings and the number of data rows.
    Timestamps are all left out, with a warning, when none is valid.

    Raises CsvRejectedError if too many rows are invalid, counting ratings of items that
    the items file does not list.
    """
    reader = TableReader(path, required=_RATING_COLUMNS[:3], optional=_RATING_COLUMNS[3:],
                         encoding=encoding, headerless=_RATING_COLUMNS)
    records = [(line, record["user_id"], record["item_id"], record["rating"],
                record.get("timestamp", "")) for line, record in reader.records()]
    times = [parse_timestamp(record[4]) for record in records]
    if _timestamps_unreadable(records, times, reader):
        times = [0] * len(records)
    _note_milliseconds(records, times)

    known_items = set(item_table.ids) if item_table else None
    rows, first_line = [], {}
    for (line, user, item, rating_text, time_text), timestamp in zip(records, times):
        try:
            rating = float(rating_text)
        except ValueError:
            reader.reject(line, f"rating {rating_text!r} is not a number")
            continue
        if not math.isfinite(rating):
            reader.reject(line, f"rating {rating_text!r} is not a finite number")
            continue
        if scale and not scale[0] <= rating <= scale[1]:
            reader.reject(line, f"rating {rating:g} is outside the scale {scale[0]:g} to "
                                f"{scale[1]:g}")
            continue
        if timestamp is None:
            reader.reject(line, f"timestamp {time_text!r} is neither whole seconds since "
                                f"1970 nor an ISO 8601 date")
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
    # Rows with the wrong number of fields were rejected while the file was read, the
    # others here, so put them back in file order.
    reader.rejected.sort(key=lambda row: row.line)
    reader.check_share(max_share)
    return rows, reader


def _timestamps_unreadable(records, times, reader) -> bool:
    """Return whether no filled timestamp is valid, after warning that the column is left out.

    The timestamp column is optional, so a column in a format metarec does not read,
    such as US dates (02/06/2021, which could be 2 June too), costs the times and no row.
    """
    filled = [(record, time) for record, time in zip(records, times) if record[4]]
    if not filled or any(time is not None for _, time in filled):
        return False
    (line, *_, example), _ = filled[0]
    reader.warn(None, f"column 'timestamp' is left out because none of its {len(filled):,} "
                      f"values is whole seconds since 1970 or an ISO 8601 date, such as "
                      f"{example!r} on line {line}; write the times as seconds or as "
                      f"YYYY-MM-DD dates to keep them")
    return True


def _note_milliseconds(records, times):
    """Log how many timestamps were read as milliseconds (or finer) since 1970."""
    scaled = [(record, time) for record, time in zip(records, times)
              if time is not None and is_milliseconds(record[4])]
    if scaled:
        (line, *_, text), seconds = scaled[0]
        logger.info("%d timestamps are too large for seconds since 1970, so they are read "
                    "as milliseconds (or finer): %s on line %d is %s UTC", len(scaled), text,
                    line, pd.Timestamp(seconds, unit="s").isoformat())


# Items and users -----------------------------------------------------------------------

@dataclass
class _Table:
    """Parsed rows of an items or users file, keyed by their original id."""

    path: Path
    ids: list
    values: dict
    rejected: list
    warnings: list


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
        year = float("nan")
        if year_text:
            try:
                year = float(year_text)
            except ValueError:
                reader.warn(line, f"year {year_text!r} is not a number, so item {item!r} "
                                  f"is kept with an unknown year; write the year as a "
                                  f"number such as 1994")
        else:
            match = _YEAR_IN_TITLE.search(title)
            year = float(match.group(1)) if match else float("nan")
        genres = tuple(dict.fromkeys(
            name.strip() for name in _GENRE_SEPARATORS.split(record.get("genres", ""))
            if name.strip() and name.strip() != _NO_GENRES))
        ids.append(item)
        values[item] = {"line": line, "title": title, "year": year, "genres": genres,
                        "description": record.get("description", "")}
    reader.check_share(max_share)
    return _Table(path, ids, values, reader.rejected, reader.warnings)


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
    return _Table(path, ids, values, reader.rejected, reader.warnings)


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
