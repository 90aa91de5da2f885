"""Row-by-row reading of a CSV file that rejects invalid rows with their line numbers."""

from __future__ import annotations

import csv
import io
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .movielens import DataFormatError

logger = logging.getLogger("metarec")

# Column names people commonly use, after lower-casing and turning spaces and hyphens
# into underscores (MovieLens' own CSVs use userId and movieId).
COLUMN_ALIASES = {
    "user": "user_id", "userid": "user_id", "item": "item_id", "itemid": "item_id",
    "movie": "item_id", "movieid": "item_id", "movie_id": "item_id", "sex": "gender",
    "zip": "zip_code", "zipcode": "zip_code",
}
DELIMITERS = ",;\t"
# How many rejected rows an error message lists before it only counts the rest.
LISTED_REJECTIONS = 20
# Whole seconds since 1970 stay below this until the year 5138, so a larger timestamp is
# taken to count milliseconds (or microseconds, or nanoseconds) and is divided by 1,000
# until it is below it.
MAX_SECONDS = 10 ** 11


@dataclass(frozen=True)
class RejectedRow:
    """A row left out of a dataset.

    Attributes
    ----------
    file : str
        Name of the file the row is in.
    line : int
        Line number in the file, counting from 1 with the header.
    reason : str
    """

    file: str
    line: int
    reason: str


@dataclass(frozen=True)
class CsvWarning:
    """A problem in a CSV file that cost a field or a column, but no row.

    Attributes
    ----------
    file : str
        Name of the file.
    line : int or None
        Line number of the row whose field was left out, counting from 1 with the
        header, or None when a whole column was left out.
    message : str
        What was left out, why, and how to keep it.
    """

    file: str
    line: int | None
    message: str


class CsvRejectedError(ValueError):
    """A CSV file has too many invalid rows to be used.

    Attributes
    ----------
    path : pathlib.Path
    rejected : list of RejectedRow
        Every rejected row of the file.
    rows : int
        Number of data rows in the file.
    reason : str
        Why the file was rejected, e.g. ``"all 2 data rows are invalid"``.
    listed : str
        The first ``LISTED_REJECTIONS`` rejected rows as ``"line N: reason"``, joined
        with semicolons, followed by a count of the rest.
    """

    def __init__(self, path, rejected, rows, max_share):
        self.path = Path(path)
        self.rejected = list(rejected)
        self.rows = rows
        self.listed = "; ".join(f"line {r.line}: {r.reason}"
                                for r in self.rejected[:LISTED_REJECTIONS])
        more = len(self.rejected) - LISTED_REJECTIONS
        if more > 0:
            self.listed += f"; and {more} more"
        if len(self.rejected) >= rows:
            self.reason = ("the only data row is invalid" if rows == 1
                           else f"all {rows} data rows are invalid")
            advice = "Fix these rows."
        else:
            share, allowed = _distinct_percents(len(self.rejected) / rows, max_share)
            self.reason = (f"{len(self.rejected)} of {rows} data rows ({share}) are invalid, "
                           f"more than the allowed {allowed}")
            advice = ("Fix these rows, or allow a larger share of invalid rows with "
                      "max_rejected_share (--max-rejected on the command line).")
        super().__init__(
            f"{self.path}: rejected as a whole because {self.reason}. Rejected rows: "
            f"{self.listed}. {advice}"
        )


def _distinct_percents(share, limit, max_decimals=6):
    """Return ``share`` and ``limit`` as percentages with the fewest decimals that tell
    them apart, e.g. ``("0.5%", "0.1%")`` for 5 of 1,062 rows against a limit of 0.001.

    Trailing zeros are dropped, so a limit of 0.1 reads "10%".
    """
    for decimals in range(max_decimals + 1):
        texts = [f"{100 * value:.{decimals}f}" for value in (share, limit)]
        if texts[0] != texts[1]:
            break
    if decimals:
        texts = [text.rstrip("0").rstrip(".") for text in texts]
    return texts[0] + "%", texts[1] + "%"


def normalise_column(name: str) -> str:
    """Return the standard name of a header cell, e.g. ``"userId"`` -> ``"user_id"``."""
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    return COLUMN_ALIASES.get(key, key)


def parse_timestamp(text: str):
    """Return seconds since 1970 from whole seconds or an ISO 8601 date, else None.

    An empty cell gives 0. A date without a time zone is read as UTC. A number of
    ``MAX_SECONDS`` or more is read as milliseconds (or micro- or nanoseconds) since 1970
    and rounded down to whole seconds.
    """
    text = text.strip()
    if not text:
        return 0
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not (math.isfinite(value) and value == int(value)):
            return None
        seconds = int(text) if _is_integer_text(text) else int(value)
        while abs(seconds) >= MAX_SECONDS:
            seconds //= 1000
        return seconds
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def _is_integer_text(text: str) -> bool:
    """Return whether ``text`` is a plain integer, which int() reads without rounding."""
    return text.lstrip("+-").isdigit()


def is_milliseconds(text: str) -> bool:
    """Return whether :func:`parse_timestamp` reads ``text`` as a fraction of a second."""
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and abs(value) >= MAX_SECONDS


class TableReader:
    """Read a CSV file with a header and yield its valid rows as dicts.

    Rows with the wrong number of fields or an empty required field are rejected here.
    Callers reject rows for their own reasons with :meth:`reject`, then call
    :meth:`check_share`.

    Parameters
    ----------
    path : path-like
    required, optional : tuple of str
        Standard column names; the header must name every required one.
    encoding : str, optional
        UTF-8 (with or without a byte-order mark) by default, falling back to latin-1.
    headerless : tuple of str, optional
        Column order to assume when the first row is data rather than a header, which
        is detected by a number in the last required column.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    DataFormatError
        If the file is empty, or the header lacks a required column or repeats one.
    """

    def __init__(self, path, required, optional=(), encoding=None, headerless=None):
        self.path = Path(path)
        self.required = tuple(required)
        self.rejected: list[RejectedRow] = []
        self.warnings: list[CsvWarning] = []
        self.data_rows = 0
        if not self.path.is_file():
            raise FileNotFoundError(f"CSV file '{self.path}' does not exist.")

        text = self._decode(self.path.read_bytes(), encoding)
        lines = text.splitlines()
        first = next((line for line in lines if line.strip()), None)
        if first is None:
            raise DataFormatError(self.path, 1, "", "a header row, the file is empty")
        try:
            dialect = csv.Sniffer().sniff(first, delimiters=DELIMITERS)
            delimiter = dialect.delimiter
        except csv.Error:
            delimiter = ","
        self._reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        self._columns, self._pending = self._read_header(required, optional, headerless)

    def _decode(self, data: bytes, encoding):
        if encoding:
            return data.decode(encoding)
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            logger.info("%s is not valid UTF-8; reading it as latin-1", self.path)
            return data.decode("latin-1")

    def _next_row(self):
        """Return ``(line, fields)`` of the next non-blank row, or None at the end."""
        for fields in self._reader:
            # line_num is the last physical line of the row, and a quoted cell may span
            # lines, so count back to the row's first line.
            line = self._reader.line_num - sum(field.count("\n") for field in fields)
            if any(field.strip() for field in fields):
                return line, fields
        return None

    def _read_header(self, required, optional, headerless):
        line, fields = self._next_row()
        names = [normalise_column(field) for field in fields]
        missing = [name for name in required if name not in names]
        if not missing:
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise DataFormatError(self.path, line, ",".join(fields),
                                      f"each column once, {', '.join(repeated)} repeats")
            return names, None
        if headerless and len(required) <= len(fields) <= len(headerless):
            try:
                float(fields[len(required) - 1])
            except ValueError:
                pass
            else:
                return list(headerless[:len(fields)]), (line, fields)
        expected = ", ".join(required) + (f" (optional: {', '.join(optional)})"
                                          if optional else "")
        raise DataFormatError(
            self.path, line, ",".join(fields),
            f"a header row naming the columns {expected}; missing {', '.join(missing)}",
        )

    def records(self):
        """Yield ``(line, {column: text})`` for each row with the right shape."""
        pending = self._pending
        while True:
            row = pending or self._next_row()
            pending = None
            if row is None:
                return
            line, fields = row
            self.data_rows += 1
            if len(fields) != len(self._columns):
                self.reject(line, f"has {len(fields)} fields, the header has "
                                  f"{len(self._columns)}")
                continue
            record = {name: value.strip() for name, value in zip(self._columns, fields)}
            empty = [name for name in self.required if not record[name]]
            if empty:
                self.reject(line, f"{', '.join(empty)} is empty")
                continue
            yield line, record

    def reject(self, line, reason):
        self.rejected.append(RejectedRow(self.path.name, line, reason))

    def warn(self, line, message):
        """Record a field (on ``line``) or a column (``line`` None) left out of a kept row."""
        self.warnings.append(CsvWarning(self.path.name, line, message))

    def check_share(self, max_share):
        """Raise if the file has no data row, or more than ``max_share`` were rejected.

        Raises
        ------
        DataFormatError
            If the file has a header but no data row.
        CsvRejectedError
            If every row, or more than ``max_share`` of them, was rejected.
        """
        if self.data_rows == 0:
            raise DataFormatError(self.path, 2, "", "at least one data row below the header")
        if (len(self.rejected) > max_share * self.data_rows
                or len(self.rejected) >= self.data_rows):
            raise CsvRejectedError(self.path, self.rejected, self.data_rows, max_share)
