"""CSV readers: fields and columns left out of kept rows, genre separators, timestamps in
milliseconds, and ratings outside a common scale."""

import logging
import math
from pathlib import Path

import numpy as np
import pytest

from metarec.data import load_csv_dataset, read_csv_dataset
from metarec.data.csv_rows import parse_timestamp
from metarec.data.custom import stretched_scale

USERS = [f"ua{number:03d}" for number in range(1, 5)]
ITEMS = [f"BK-{number:04d}" for number in range(1, 6)]
# Four users rate five items each, 1 to 5.
ROWS = [f"{user},{item},{1 + (row + column) % 5}"
        for row, user in enumerate(USERS) for column, item in enumerate(ITEMS)]


def write(path: Path, lines) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bad_item_year_keeps_the_item(tmp_path):
    items = write(tmp_path / "items.csv", [
        "item_id,title,genres,year",
        *(f"{item},Book {n},Drama,{1990 + n}" for n, item in enumerate(ITEMS) if n != 4),
        "BK-0005,Book 4,Romance,nineteen"])
    ratings = write(tmp_path / "ratings.csv", ["user_id,item_id,rating", *ROWS])
    result = read_csv_dataset(ratings, items)

    assert result.rejected == []
    assert result.dataset.n_ratings == 20
    book = result.dataset.items.set_index("original_id").loc["BK-0005"]
    assert math.isnan(book["year"])
    assert book["genres"] == ("Romance",)
    [warning] = result.warnings
    assert (warning.file, warning.line) == ("items.csv", 6)
    assert warning.message.startswith("year 'nineteen' is not a number, so item 'BK-0005' "
                                      "is kept with an unknown year")


def test_bad_item_year_is_logged(tmp_path, caplog):
    items = write(tmp_path / "items.csv", ["item_id,year", "BK-0001,soon",
                                           *(f"{item},2001" for item in ITEMS[1:])])
    ratings = write(tmp_path / "ratings.csv", ["user_id,item_id,rating", *ROWS])
    with caplog.at_level(logging.WARNING, logger="metarec"):
        load_csv_dataset(ratings, items)
    assert "items.csv, line 2: year 'soon' is not a number" in caplog.text
    assert "rejected" not in caplog.text


@pytest.mark.parametrize("cell", ["Romance|Drama", "Romance;Drama", '"Romance,Drama"',
                                  "Romance; Drama"])
def test_genre_separators(tmp_path, cell):
    items = write(tmp_path / "items.csv", ["item_id,genres", f"BK-0001,{cell}",
                                           *(f"{item},Comedy" for item in ITEMS[1:])])
    ratings = write(tmp_path / "ratings.csv", ["user_id,item_id,rating", *ROWS])
    dataset = read_csv_dataset(ratings, items).dataset
    assert dataset.items.set_index("original_id").loc["BK-0001", "genres"] == \
        ("Romance", "Drama")
    assert dataset.genres == ("Comedy", "Drama", "Romance")


@pytest.mark.parametrize("text, seconds", [
    ("1612345679", 1612345679),
    ("1612345679000", 1612345679),
    ("1612345679999", 1612345679),
    ("1612345679000000", 1612345679),
    ("1612345679000000000", 1612345679),
    ("0", 0),
    ("", 0),
    ("2021-02-03T09:47:59+00:00", 1612345679),
])
def test_parse_timestamp_units(text, seconds):
    assert parse_timestamp(text) == seconds


def test_millisecond_timestamps_become_seconds(tmp_path, caplog):
    rows = [f"{row},{1612345679000 + 1000 * n}" for n, row in enumerate(ROWS)]
    ratings = write(tmp_path / "ratings.csv", ["user_id,item_id,rating,timestamp", *rows])
    with caplog.at_level(logging.INFO, logger="metarec"):
        dataset = read_csv_dataset(ratings).dataset
    times = dataset.ratings["timestamp"]
    assert times.min() == 1612345679
    assert times.max() == 1612345679 + 19
    assert "20 timestamps are too large for seconds since 1970, so they are read as " \
           "milliseconds" in caplog.text


def test_unreadable_timestamp_column_is_left_out(tmp_path):
    rows = [f"{row},{1 + n % 12:02d}/06/2021" for n, row in enumerate(ROWS)]
    ratings = write(tmp_path / "ratings.csv", ["user_id,item_id,rating,timestamp", *rows])
    result = read_csv_dataset(ratings)

    assert result.rejected == []
    assert result.dataset.n_ratings == 20
    assert result.dataset.ratings["timestamp"].eq(0).all()
    [warning] = result.warnings
    assert (warning.file, warning.line) == ("ratings.csv", None)
    assert warning.message.startswith(
        "column 'timestamp' is left out because none of its 20 values is whole seconds "
        "since 1970 or an ISO 8601 date, such as '01/06/2021' on line 2")


def test_some_unreadable_timestamps_are_rejected(tmp_path):
    # With one valid value the column is used, and the other rows are invalid.
    rows = [f"{ROWS[0]},1612345679", *(f"{row},02/06/2021" for row in ROWS[1:3]),
            "ua009,BK-0001", *(f"{row}," for row in ROWS[3:])]
    ratings = write(tmp_path / "ratings.csv", ["user_id,item_id,rating,timestamp", *rows])
    result = read_csv_dataset(ratings, max_rejected_share=0.5)
    invalid = "timestamp '02/06/2021' is neither whole seconds since 1970 nor an ISO 8601 date"
    # In file order, although the short row is rejected before the timestamps are read.
    assert [(r.line, r.reason) for r in result.rejected] == [
        (3, invalid), (4, invalid), (5, "has 2 fields, the header has 4")]
    assert result.warnings == []


def test_minority_outside_scale_is_warned(tmp_path, caplog):
    # Every fifth rating is 9 among whole ratings of 1 to 5.
    rows = [f"u{n // 10},m{n % 10},{9 if n % 5 == 4 else 1 + n % 5}" for n in range(100)]
    ratings = write(tmp_path / "ratings.csv", ["user_id,item_id,rating", *rows])
    with caplog.at_level(logging.WARNING, logger="metarec"):
        dataset = read_csv_dataset(ratings).dataset
    assert dataset.rating_scale == (1.0, 10.0)
    [record] = [r for r in caplog.records if "lie outside" in r.getMessage()]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "20 of 100 ratings lie outside 1 to 5: 9, so the rating scale is 1 to 10" in message
    assert "--rating-scale 1 5 rejects them" in message
    assert "pass --rating-scale 1 10" in message


def test_stretched_scale_shares():
    whole = [1.0, 2, 3, 4, 5]
    narrower, outliers = stretched_scale(whole * 4 + [9] * 5)
    assert narrower == (1.0, 5.0)
    assert outliers.tolist() == [9.0] * 5
    # Ratings of 1 to 10 with half of them above 5 are a scale of their own.
    assert stretched_scale(list(range(1, 11)) * 10) is None
    # Half-star ratings do not lie on the steps of 1 to 5, so their few 0.5 ratings
    # do not count as outliers of it.
    half_stars = list(np.arange(1.0, 5.5, 0.5)) * 10 + [0.5] * 5
    assert stretched_scale(half_stars) is None
