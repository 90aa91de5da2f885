"""People's own ratings as CSV files: parsing, rejected rows, training and the dashboard.

The end-to-end files are the synthetic sample with text ids, written as CSV.
"""

import math
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metarec.cli import MODELS_DIR_ENV, main
from metarec.data import (
    DATA_DIR_ENV,
    CsvRejectedError,
    DataFormatError,
    load_dataset,
    read_csv_dataset,
)
from metarec.data.custom import RatingScaleError, infer_rating_scale
from metarec.data.features import FeatureEncoder
from metarec.data.sample import generate_sample

REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "app.py")
ARTIFACTS = REPO / "test-artifacts"
CSV_NAMES = ("ratings.csv", "items.csv", "users.csv")
NEW_USER = "pages/1_New_user.py"
RUN_TIMEOUT = 120
GOOD_ROWS = [f"u{user},m{item},{1 + (user + item) % 5}"
             for user in range(1, 5) for item in range(1, 6)]


def write(path: Path, text: str, encoding="utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def ratings_file(tmp_path, rows, header="user_id,item_id,rating", name="ratings.csv"):
    return write(tmp_path / name, "\n".join([header, *rows]) + "\n")


# Ids and columns --------------------------------------------------------------------------

def test_text_ids_are_numbered_and_kept(tmp_path):
    dataset = read_csv_dataset(ratings_file(tmp_path, GOOD_ROWS)).dataset

    assert dataset.name == "ratings"
    assert dataset.n_ratings == 20
    assert dataset.ratings["user_id"].dtype == np.int64
    assert dataset.users["user_id"].tolist() == [1, 2, 3, 4]
    assert dataset.users["original_id"].tolist() == ["u1", "u2", "u3", "u4"]
    assert dataset.items["original_id"].tolist() == ["m1", "m2", "m3", "m4", "m5"]
    assert dataset.items["title"].tolist() == ["m1", "m2", "m3", "m4", "m5"]
    assert dataset.ratings["timestamp"].eq(0).all()
    assert dataset.rating_scale == (1.0, 5.0)


def test_integer_ids_keep_their_values(tmp_path):
    dataset = read_csv_dataset(ratings_file(tmp_path, ["10,200,4", "11,300,2", "10,300,5"]))
    assert dataset.dataset.users["user_id"].tolist() == [10, 11]
    assert dataset.dataset.items["item_id"].tolist() == [200, 300]


def test_ids_with_leading_zeros_are_numbered(tmp_path):
    dataset = read_csv_dataset(ratings_file(tmp_path, ["1,007,4", "2,7,2"])).dataset
    assert dataset.items["item_id"].tolist() == [1, 2]
    assert dataset.items["original_id"].tolist() == ["007", "7"]


def test_movielens_csv_column_names(tmp_path):
    path = ratings_file(tmp_path, ["1,31,2.5,1260759144", "1,1029,3.0,1260759179"],
                        header="userId,movieId,rating,timestamp")
    dataset = read_csv_dataset(path).dataset
    assert dataset.ratings["timestamp"].tolist() == [1260759144, 1260759179]
    assert dataset.rating_scale == (0.5, 5.0)


def test_file_without_header(tmp_path):
    path = write(tmp_path / "plain.csv", "a,x,4\nb,y,3\nb,x,5\n")
    dataset = read_csv_dataset(path).dataset
    assert dataset.n_ratings == 3
    assert dataset.name == "plain"


def test_semicolons_bom_and_extra_columns(tmp_path):
    path = write(tmp_path / "excel.csv",
                 "User ID;Item ID;Rating;Comment\nu1;m1;4;fine\nu1;m2;2;meh\n",
                 encoding="utf-8-sig")
    dataset = read_csv_dataset(path).dataset
    assert dataset.ratings["rating"].tolist() == [4.0, 2.0]


def test_latin1_file_is_read(tmp_path):
    write(tmp_path / "items.csv", "item_id,title\nm1,Café Señorita (1994)\nm2,Plain\n",
          encoding="latin-1")
    path = ratings_file(tmp_path, ["u1,m1,4", "u1,m2,3"])
    dataset = read_csv_dataset(path, tmp_path / "items.csv").dataset
    assert dataset.items["title"].tolist() == ["Café Señorita (1994)", "Plain"]
    assert dataset.items["year"].tolist() == [1994.0, pytest.approx(math.nan, nan_ok=True)]


def test_iso_dates_become_seconds(tmp_path):
    path = ratings_file(tmp_path, ["u1,m1,4,2024-01-02", "u1,m2,3,2024-01-02T00:00:10+00:00"],
                        header="user_id,item_id,rating,timestamp")
    dataset = read_csv_dataset(path).dataset
    assert dataset.ratings["timestamp"].tolist() == [1704153600, 1704153610]


# Rejected rows ----------------------------------------------------------------------------

@pytest.mark.parametrize("row, reason", [
    ("u9,m1", "has 2 fields, the header has 3"),
    (",m1,4", "user_id is empty"),
    ("u9,m1,great", "rating 'great' is not a number"),
    ("u9,m1,nan", "rating 'nan' is not a finite number"),
    ("u9,m1,7", "rating 7 is outside the scale 1 to 5"),
    ("u1,m1,3", "user 'u1' rated item 'm1' already on line 2"),
])
def test_invalid_row_is_rejected_with_line(tmp_path, row, reason):
    rows = [*GOOD_ROWS[:5], row, *GOOD_ROWS[5:]]
    result = read_csv_dataset(ratings_file(tmp_path, rows), rating_scale=(1, 5))

    assert result.dataset.n_ratings == 20
    rejected = [(r.file, r.line, r.reason) for r in result.rejected]
    assert rejected == [("ratings.csv", 7, reason)]


def test_bad_timestamp_is_rejected(tmp_path):
    path = ratings_file(tmp_path, ["u1,m1,4,1700000000", "u1,m2,3,last tuesday"] +
                        [f"u2,m{i},3,0" for i in range(10)],
                        header="user_id,item_id,rating,timestamp")
    rejected = read_csv_dataset(path).rejected
    assert [(r.line, r.reason) for r in rejected] == [
        (3, ("timestamp 'last tuesday' is neither whole seconds since 1970 nor an ISO 8601 "
             "date"))]


def test_row_numbers_count_quoted_line_breaks(tmp_path):
    write(tmp_path / "items.csv",
          'item_id,title,description\nm1,One,"two\nlines"\nm2,Two,x\nm2,Again,y\n')
    rows = [f"u{u},m{1 + u % 2},4" for u in range(12)]
    result = read_csv_dataset(ratings_file(tmp_path, rows), tmp_path / "items.csv",
                              max_rejected_share=0.5)
    assert [(r.file, r.line, r.reason) for r in result.rejected] == [
        ("items.csv", 5, "item 'm2' is listed twice, first on line 4")]


def test_rating_of_unlisted_item_is_rejected(tmp_path):
    write(tmp_path / "items.csv",
          "item_id,title\nm1,One\nm2,Two\nm3,Three\nm4,Four\nm5,Five\n")
    rows = [*GOOD_ROWS, "u1,m99,4"]
    result = read_csv_dataset(ratings_file(tmp_path, rows), tmp_path / "items.csv")
    assert [(r.line, r.reason) for r in result.rejected] == [
        (22, "item 'm99' is not in items.csv")]


def test_too_many_bad_rows_reject_the_file(tmp_path):
    rows = [*GOOD_ROWS[:9], "u1,m9,x", "u2,m9,", "u3,m9,99"]
    path = ratings_file(tmp_path, rows)
    message = (r"ratings.csv: rejected as a whole because 2 of 12 data rows \(17%\) are "
               r"invalid, more than the allowed 10%\. Rejected rows: line 11: rating 'x' is "
               r"not a number; line 12: rating is empty")
    with pytest.raises(CsvRejectedError, match=message) as raised:
        read_csv_dataset(path, max_rejected_share=0.1)
    assert [r.line for r in raised.value.rejected] == [11, 12]
    assert str(raised.value).startswith(f"{path}: ")
    assert str(raised.value).endswith("allow a larger share of invalid rows with "
                                      "max_rejected_share (--max-rejected on the command "
                                      "line).")

    assert len(read_csv_dataset(path, max_rejected_share=0.2).rejected) == 2


def test_file_with_no_valid_row_is_rejected(tmp_path):
    with pytest.raises(CsvRejectedError, match="because all 2 data rows are invalid"):
        read_csv_dataset(ratings_file(tmp_path, ["u1,m1,x", "u2,m1,y"]),
                         max_rejected_share=0.9)


@pytest.mark.parametrize("text, message", [
    ("", "line 1: expected a header row, the file is empty"),
    ("user_id,item_id,rating\n", "line 2: expected at least one data row"),
    ("user,title,score\nu1,m1,4\n", ("expected a header row naming the columns user_id, "
                                     "item_id, rating .*; missing item_id, rating")),
    ("user_id,item_id,rating,rating\nu1,m1,4,4\n", "each column once, rating repeats"),
])
def test_unusable_header_is_an_error(tmp_path, text, message):
    with pytest.raises(DataFormatError, match=message):
        read_csv_dataset(write(tmp_path / "ratings.csv", text))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.csv' does not exist"):
        read_csv_dataset(tmp_path / "nowhere.csv")


@pytest.mark.parametrize("share", [-0.1, 1.0])
def test_rejected_share_must_be_a_fraction(tmp_path, share):
    with pytest.raises(ValueError, match="max_rejected_share must be at least 0 and below 1"):
        read_csv_dataset(ratings_file(tmp_path, GOOD_ROWS), max_rejected_share=share)


# Rating scale -----------------------------------------------------------------------------

@pytest.mark.parametrize("values, scale", [
    ([1, 3, 5], (1.0, 5.0)),
    ([2, 4], (1.0, 5.0)),
    ([0.5, 4.5], (0.5, 5.0)),
    ([0, 5], (0.0, 5.0)),
    ([1, 7, 10], (1.0, 10.0)),
    ([-3, 3], (-3.0, 3.0)),
    ([2.5, 3.0], (0.5, 5.0)),
    ([3.7, 4.0], (1.0, 5.0)),
])
def test_rating_scale_is_inferred(values, scale):
    assert infer_rating_scale(values) == scale


def test_one_unusual_rating_needs_a_scale():
    with pytest.raises(RatingScaleError, match="every rating is 20, which fits no common "
                                               "scale; pass the rating scale"):
        infer_rating_scale([20.0, 20.0])


def test_unusual_inferred_scale_is_logged(tmp_path, caplog):
    dataset = read_csv_dataset(ratings_file(tmp_path, [*GOOD_ROWS, "u1,m9,99"])).dataset
    assert dataset.rating_scale == (1.0, 99.0)
    assert "ratings range from 1 to 99, which matches no common scale" in caplog.text


def test_given_rating_scale_is_used(tmp_path):
    path = ratings_file(tmp_path, [f"u{i},m1,{i}" for i in range(1, 11)])
    dataset = read_csv_dataset(path, rating_scale=(0, 10)).dataset
    assert dataset.rating_scale == (0.0, 10.0)
    with pytest.raises(ValueError, match="rating_scale must be two finite numbers with "
                                         "lowest < highest, got \\(5, 1\\)"):
        read_csv_dataset(path, rating_scale=(5, 1))


# Items and users files --------------------------------------------------------------------

def test_items_and_users_fill_features(tmp_path):
    write(tmp_path / "items.csv",
          "item_id,title,genres,year\n"
          "m1,Harbor Lights,Drama|Romance,\n"
          "m2,The Orbit (1987),Sci-Fi,\n"
          "m3,Unlisted,(no genres listed),2001\n"
          "m4,Four,Comedy,\nm5,Five,Drama,\nm6,Never rated,Western,1960\n")
    write(tmp_path / "users.csv",
          "user_id,age,gender,occupation,zip\n"
          "u1,34,female,nurse,90210\nu2,,M,,\nu3,19,f,student,10001\n")
    dataset = read_csv_dataset(ratings_file(tmp_path, GOOD_ROWS), tmp_path / "items.csv",
                               tmp_path / "users.csv").dataset

    items = dataset.items.set_index("original_id")
    assert items.loc["m1", "genres"] == ("Drama", "Romance")
    assert items.loc["m2", "year"] == 1987
    assert items.loc["m3", "genres"] == ()
    assert items.loc["m3", "year"] == 2001
    assert len(items) == 6
    assert dataset.genres == ("Comedy", "Drama", "Romance", "Sci-Fi", "Western")

    users = dataset.users.set_index("original_id")
    assert users.loc["u1", "gender"] == "F"
    assert users.loc["u1", "zip_code"] == "90210"
    assert math.isnan(users.loc["u2", "age"])
    assert users.loc["u4", "occupation"] == ""
    assert dataset.occupations == ("nurse", "student")

    encoder = FeatureEncoder.from_dataset(dataset)
    features = encoder.encode_users(dataset.users)
    unknown = encoder.encode_user()
    assert np.array_equal(features[int(users.loc["u4", "user_id"])], unknown)
    assert not np.array_equal(features[int(users.loc["u1", "user_id"])], unknown)
    table = encoder.item_feature_table(dataset.items)
    assert table.shape == (7, encoder.n_item_features)


@pytest.mark.parametrize("line, reason", [
    ("u9,abc,M", "age 'abc' is not a number"),
    ("u9,200,M", "age 200 is outside 1 to 120"),
    ("u9,30,other", "gender 'other' is not M, F, male or female"),
])
def test_invalid_user_row_is_rejected(tmp_path, line, reason):
    good = [f"u{i},30,M" for i in range(1, 12)]
    write(tmp_path / "users.csv", "\n".join(["user_id,age,gender", line, *good]) + "\n")
    result = read_csv_dataset(ratings_file(tmp_path, GOOD_ROWS), users=tmp_path / "users.csv")
    assert [(r.file, r.line, r.reason) for r in result.rejected] == [("users.csv", 2, reason)]


def test_invalid_item_year_is_left_out(tmp_path):
    good = [f"m{i},Film {i},Drama,1990" for i in range(1, 12)]
    write(tmp_path / "items.csv",
          "\n".join(["item_id,title,genres,year", "m20,Bad,Drama,nineties", *good]) + "\n")
    result = read_csv_dataset(ratings_file(tmp_path, GOOD_ROWS), tmp_path / "items.csv")
    assert result.rejected == []
    assert [(w.line, w.message.split(",")[0]) for w in result.warnings] == [
        (2, "year 'nineties' is not a number")]
    assert math.isnan(result.dataset.items.set_index("original_id").loc["m20", "year"])


@pytest.mark.parametrize("rows, summary", [
    (["u1,m1,4"], "tab: 1 rating from 1 user on 1 item"),
    (["u1,m1,4", "u1,m2,3"], "tab: 2 ratings from 1 user on 2 items"),
    (["u1,m1,4", "u2,m1,3"], "tab: 2 ratings from 2 users on 1 item"),
])
def test_summary_counts_are_pluralised(tmp_path, rows, summary):
    dataset = read_csv_dataset(ratings_file(tmp_path, rows, name="tab.csv")).dataset
    assert dataset.summary() == summary


def test_summary_separates_thousands(sample_dataset):
    assert sample_dataset.summary().startswith(f"{sample_dataset.name}: 33,785 ratings from "
                                               "500 users on 400 items")


def test_fingerprint_follows_the_ratings(tmp_path):
    first = read_csv_dataset(ratings_file(tmp_path, GOOD_ROWS)).dataset
    again = read_csv_dataset(ratings_file(tmp_path, GOOD_ROWS)).dataset
    changed = read_csv_dataset(ratings_file(tmp_path, ["u1,m1,1", *GOOD_ROWS[1:]])).dataset
    assert first.fingerprint() == again.fingerprint()
    assert first.fingerprint() != changed.fingerprint()


# Name or path ------------------------------------------------------------------------------

def test_registry_reads_csv_folder_and_file(tmp_path):
    folder = tmp_path / "my-ratings"
    folder.mkdir()
    ratings_file(folder, GOOD_ROWS)
    write(folder / "items.csv", "item_id,title\nm1,One\nm2,Two\nm3,Three\nm4,Four\nm5,Five\n")

    from_folder = load_dataset(folder)
    assert from_folder.name == "my-ratings"
    assert from_folder.source == str(folder)
    assert from_folder.items["title"].tolist()[:2] == ["One", "Two"]

    from_file = load_dataset(folder / "ratings.csv", items=folder / "items.csv")
    assert from_file.fingerprint() == from_folder.fingerprint()


def test_csv_options_for_movielens_are_rejected():
    with pytest.raises(ValueError, match="rating_scale apply to CSV data only"):
        load_dataset("sample", rating_scale=(1, 5))


def test_unknown_name_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="'nothing-here' does not exist and is not a "
                                                "dataset name. Pass one of sample, ml-100k"):
        load_dataset("nothing-here")


def test_data_dir_env_names_the_default(tmp_path, monkeypatch):
    ratings_file(tmp_path, GOOD_ROWS)
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    assert load_dataset().name == tmp_path.name


def test_cli_reports_a_rejected_file(tmp_path, capsys):
    path = ratings_file(tmp_path, ["u1,m1,4", "u1,m2,x", "u2,m1,nope"])
    assert main(["train", "--data", str(path), "--out", str(tmp_path / "models")]) == 2
    error = capsys.readouterr().err
    assert "rejected as a whole because 2 of 3 data rows (67%) are invalid" in error
    assert "line 3: rating 'x' is not a number" in error
    assert "--max-rejected" in error


# End to end: train with the CLI, open in the dashboard ------------------------------------

def write_sample_as_csv(folder: Path, seed=2, n_users=40, n_items=60) -> Path:
    """Write the synthetic sample as ratings, items and users CSVs with text ids."""
    from metarec.data import load_movielens_100k

    sample = load_movielens_100k(generate_sample(folder / "source", seed=seed,
                                                 n_users=n_users, n_items=n_items))
    out = folder / "own"
    out.mkdir()
    lines = ["user_id,item_id,rating,timestamp"]
    lines += [f"person-{r.user_id},film-{r.item_id},{r.rating:g},{r.timestamp}"
              for r in sample.ratings.itertuples(index=False)]
    write(out / "ratings.csv", "\n".join(lines) + "\n")
    lines = ["item_id,title,genres"]
    lines += [f'film-{r.item_id},"{r.title}",{"|".join(r.genres)}'
              for r in sample.items.itertuples(index=False)]
    write(out / "items.csv", "\n".join(lines) + "\n")
    lines = ["user_id,age,gender,occupation,zip_code"]
    lines += [f"person-{r.user_id},{r.age},{r.gender},{r.occupation},{r.zip_code}"
              for r in sample.users.itertuples(index=False)]
    write(out / "users.csv", "\n".join(lines) + "\n")
    return out


@pytest.fixture(scope="module")
def own_data(tmp_path_factory):
    return write_sample_as_csv(tmp_path_factory.mktemp("own-data"))


@pytest.fixture(scope="module")
def own_models(own_data, tmp_path_factory):
    """Models trained on the CSVs through the command line, one epoch per variant."""
    out = tmp_path_factory.mktemp("own-models")
    code = main(["train", "--data", str(own_data / "ratings.csv"),
                 "--items-csv", str(own_data / "items.csv"),
                 "--users-csv", str(own_data / "users.csv"),
                 "--out", str(out), "--epochs", "1", "--quiet"])
    assert code == 0
    return out


def test_cli_trains_and_evaluates_own_csv(own_data, own_models, capsys):
    from metarec.serving.store import read_manifest

    manifest = read_manifest(own_models)
    assert manifest["dataset"]["name"] == "ratings"
    assert manifest["dataset"]["fingerprint"] == load_dataset(own_data).fingerprint()

    code = main(["evaluate", "--data", str(own_data), "--models", str(own_models),
                 "--shots", "1", "5", "--variants", "student", "user-bias"])
    assert code == 0
    output = capsys.readouterr().out
    assert "MAE K=5" in output
    assert "student" in output


def test_models_reject_other_data(own_models, sample_dataset):
    from metarec.serving.recommender import Recommender
    from metarec.serving.store import ModelsDirectoryError

    with pytest.raises(ModelsDirectoryError, match="were trained on 'ratings' .* not on "
                                                   "'sample_data' .* Train models for this"):
        Recommender.load(own_models, sample_dataset)


def test_twenty_line_csv_end_to_end(tmp_path, capsys, monkeypatch):
    """Four users with five ratings each: the task sizes shrink to fit, nothing fails."""
    from streamlit.testing.v1 import AppTest

    path = ratings_file(tmp_path, GOOD_ROWS)
    models = tmp_path / "models"
    code = main(["train", "--data", str(path), "--out", str(models), "--epochs", "1",
                 "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert (models / "manifest.json").is_file()

    # The default 10-rating query does not fit, and the error names the flags to pass.
    assert main(["evaluate", "--data", str(path), "--models", str(models)]) != 0
    assert "--query-size" in capsys.readouterr().err
    out = tmp_path / "eval"
    assert main(["evaluate", "--data", str(path), "--models", str(models), "--shots", "1",
                 "all", "--query-size", "2", "--min-ratings", "3", "--out", str(out)]) == 0
    table = pd.read_csv(out.with_suffix(".csv"))
    assert set(table["shots"].astype(str)) == {"1", "all"}
    rating_rows = table[table["variant"].isin(["student", "teacher", "ensemble", "user-bias"])]
    assert len(rating_rows) == 8
    assert rating_rows["mae"].notna().all()

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv(MODELS_DIR_ENV, str(models))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()
    app.sidebar.radio(key="_widget.data.source").set_value("Your own CSV").run()
    app.sidebar.file_uploader[0].set_value(("ratings.csv", path.read_bytes(), "text/csv"))
    app.run()
    app.switch_page(NEW_USER).run()
    [add] = [b for b in app.button if b.label == "Add rating"]
    add.click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert app.table, "no recommendation table"


def upload(app, own_data):
    uploaders = {u.label: u for u in app.sidebar.file_uploader}
    for label, name in (("Ratings CSV", "ratings.csv"), ("Items CSV (optional)", "items.csv"),
                        ("Users CSV (optional)", "users.csv")):
        uploaders[label].set_value((name, (own_data / name).read_bytes(), "text/csv"))
    return app.run()


def test_dashboard_opens_uploaded_csv(own_data, own_models, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv(MODELS_DIR_ENV, str(own_models))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()
    app.sidebar.radio(key="_widget.data.source").set_value("Your own CSV").run()
    app = upload(app, own_data)

    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    dataset = load_dataset(own_data)
    assert any(dataset.summary().replace("own:", "ratings:") in c.value
               for c in app.sidebar.caption)
    variant_table = app.table[0].value
    assert "student" in variant_table["variant"].tolist()

    # The upload stays chosen on the next page, where a rating gives recommendations.
    app.switch_page(NEW_USER).run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("Using the ratings uploaded earlier ('ratings.csv')" in c.value
               for c in app.sidebar.caption)
    [add] = [b for b in app.button if b.label == "Add rating"]
    add.click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert app.table, "no recommendation table"


def test_dashboard_lists_rejected_rows(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "no-models"))
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()
    app.sidebar.radio(key="_widget.data.source").set_value("Your own CSV").run()
    content = "\n".join(["user_id,item_id,rating", *GOOD_ROWS, "u1,m9,x"]) + "\n"
    app.sidebar.file_uploader[0].set_value(("mine.csv", content.encode(), "text/csv"))
    app.run()

    assert not app.exception, [e.value for e in app.exception]
    assert any("Left out 1 invalid row of the upload" in w.value for w in app.sidebar.warning)
    # A list, which the narrow sidebar shows whole, not a table that cuts the reason.
    assert not app.sidebar.dataframe
    assert [m.value for m in app.sidebar.markdown if "line 22" in m.value] == [
        "- **mine\\.csv**, line 22: rating 'x' is not a number"]


def test_dashboard_rejects_a_bad_upload(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()
    app.sidebar.radio(key="_widget.data.source").set_value("Your own CSV").run()
    content = b"user_id,item_id,rating\nu1,m1,4\nu1,m2,x\nu2,m1,y\n"
    app.sidebar.file_uploader[0].set_value(("bad.csv", content, "text/csv"))
    app.run()

    assert not app.exception, [e.value for e in app.exception]
    [error] = app.error
    assert ("Could not load the ratings data. 'bad.csv' was rejected as a whole because 2 of "
            "3 data rows (67%) are invalid, more than the allowed 10%. Rejected rows: line 3: "
            "rating 'x' is not a number; line 4: rating 'y' is not a number. Fix or remove "
            "these rows and upload the file again.") == error.value


# Each case: ratings CSV text, an items CSV as (file name, text) or None, and the error.
BAD_UPLOADS = {
    "empty file": (
        "", None,
        ("'mine.csv' is invalid at line 1: expected a header row, the file is empty. Fix "
         "the file and upload it again.")),
    "missing column": (
        "user_id,item_id\nu1,m1\n", None,
        ("'mine.csv' is invalid at line 1: expected a header row naming the columns "
         "user_id, item_id, rating (optional: timestamp); missing rating, found "
         "'user_id,item_id'. Fix the file and upload it again.")),
    "header only": (
        "user_id,item_id,rating\n", None,
        ("'mine.csv' is invalid at line 2: expected at least one data row below the "
         "header. Fix the file and upload it again.")),
    "bad items file": (
        "user_id,item_id,rating\nu1,m1,4\n", ("movies.csv", "item_id,year\n,1994\n"),
        ("'movies.csv' was rejected as a whole because the only data row is invalid. "
         "Rejected rows: line 2: item_id is empty. Fix or remove these rows "
         "and upload the file again.")),
    "one odd rating": (
        "user_id,item_id,rating\nu1,m1,20\nu2,m1,20\n", None,
        ("Every rating in 'mine.csv' is 20, which fits no common rating scale. Tick 'Set "
         "the rating scale' in the sidebar and enter the lowest and highest rating.")),
}


@pytest.mark.parametrize("ratings, items, message", BAD_UPLOADS.values(), ids=BAD_UPLOADS)
def test_dashboard_names_the_uploaded_file(tmp_path, monkeypatch, ratings, items, message):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()
    app.sidebar.radio(key="_widget.data.source").set_value("Your own CSV").run()
    uploaders = {u.label: u for u in app.sidebar.file_uploader}
    uploaders["Ratings CSV"].set_value(("mine.csv", ratings.encode(), "text/csv"))
    if items is not None:
        name, text = items
        uploaders["Items CSV (optional)"].set_value((name, text.encode(), "text/csv"))
    app.run()

    assert not app.exception, [e.value for e in app.exception]
    [error] = app.error
    assert error.value == f"Could not load the ratings data. {message}"


def test_dashboard_summary_of_one_rating(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "no-models"))
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()
    app.sidebar.radio(key="_widget.data.source").set_value("Your own CSV").run()
    content = b"user_id,item_id,rating\nu1,m1,4\n"
    app.sidebar.file_uploader[0].set_value(("tab.csv", content, "text/csv"))
    app.run()

    assert not app.exception, [e.value for e in app.exception]
    captions = [c.value for c in app.sidebar.caption]
    assert "tab: 1 rating from 1 user on 1 item" in captions, captions


def upload_with_scale(tmp_path, monkeypatch, rows, scale):
    """Upload ``rows`` as mine.csv in the dashboard and set the rating scale ``scale``."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "no-models"))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()
    app.sidebar.radio(key="_widget.data.source").set_value("Your own CSV").run()
    content = "\n".join(["user_id,item_id,rating", *rows]) + "\n"
    app.sidebar.file_uploader[0].set_value(("mine.csv", content.encode(), "text/csv"))
    app.run()
    app.sidebar.checkbox(key="data.upload.scale.set").check().run()
    low, high = scale
    app.sidebar.number_input(key="data.upload.scale.low").set_value(low)
    app.sidebar.number_input(key="data.upload.scale.high").set_value(high)
    return app.run()


def scaled_upload_folders(tmp_path, scale="*") -> list:
    """Return the upload folders that record the rating scale ``scale``, such as '0-10'."""
    return sorted(options.parent for options in
                  (tmp_path / "cache").glob(f"**/*-scale-{scale}/*/read_options.json"))


def upload_kept(app) -> bool:
    """Whether the pages still use the upload, read with the scale from the data."""
    summary = "mine: 20 ratings from 4 users on 5 items"
    return any(summary in caption.value for caption in app.sidebar.caption)


def test_upload_rating_scale_recorded(tmp_path, monkeypatch):
    from metarec.ui.upload import csv_options

    rows = [*GOOD_ROWS, "u1,m9,x"]
    app = upload_with_scale(tmp_path, monkeypatch, rows, (0.0, 10.0))

    assert not app.exception, [e.value for e in app.exception]
    assert not app.sidebar.error, [e.value for e in app.sidebar.error]
    assert upload_kept(app)
    [folder] = scaled_upload_folders(tmp_path, "0-10")
    assert folder.name == "mine"
    assert csv_options(folder) == {"rating_scale": (0.0, 10.0)}
    dataset = load_dataset(folder, **csv_options(folder))
    assert dataset.rating_scale == (0.0, 10.0)
    assert dataset.n_ratings == 20
    # The pages read the folder through the shared loader, which applies the scale too.
    from metarec.ui.state import load_dataset as load_for_pages
    assert load_for_pages(folder).rating_scale == (0.0, 10.0)
    # The rejected rows are those of a read with the scale that was set.
    assert any("Left out 1 invalid row" in w.value for w in app.sidebar.warning)


def test_upload_rating_scale_low_not_below_high(tmp_path, monkeypatch):
    app = upload_with_scale(tmp_path, monkeypatch, GOOD_ROWS, (5.0, 5.0))

    assert not app.exception, [e.value for e in app.exception]
    [error] = app.sidebar.error
    assert "The lowest rating (5) must be below the highest rating (5)" in error.value
    assert "Lower the lowest or raise the highest rating" in error.value
    assert upload_kept(app)
    assert scaled_upload_folders(tmp_path, "5-5") == []


def test_upload_ratings_outside_scale(tmp_path, monkeypatch):
    app = upload_with_scale(tmp_path, monkeypatch, GOOD_ROWS, (1.0, 4.0))

    assert not app.exception, [e.value for e in app.exception]
    [error] = app.sidebar.error
    assert "4 of 20 ratings are outside the scale 1 to 4: 5." in error.value
    assert "The ratings range from 1 to 5" in error.value
    assert "clear 'Set the rating scale'" in error.value
    assert upload_kept(app)
    assert scaled_upload_folders(tmp_path, "1-4") == []


def test_upload_scale_leaves_out_stray_rating(tmp_path, monkeypatch):
    # One 11 among ratings of 1 to 10: setting 1 to 10 leaves that row out.
    rows = [f"u{user},m{item},{1 + (user * item) % 10}"
            for user in range(1, 5) for item in range(1, 6)]
    rows[3] = rows[3].rsplit(",", 1)[0] + ",11"
    app = upload_with_scale(tmp_path, monkeypatch, rows, (1.0, 10.0))

    assert not app.exception, [e.value for e in app.exception]
    assert not app.sidebar.error, [e.value for e in app.sidebar.error]
    assert len(scaled_upload_folders(tmp_path, "1-10")) == 1
    warnings = [w.value for w in app.sidebar.warning]
    assert any("Left out 1 invalid row" in w for w in warnings), warnings


def test_upload_rating_scale_fixed_after_error(tmp_path, monkeypatch):
    app = upload_with_scale(tmp_path, monkeypatch, GOOD_ROWS, (1.0, 4.0))
    app.sidebar.number_input(key="data.upload.scale.high").set_value(6.0).run()

    assert not app.exception, [e.value for e in app.exception]
    assert not app.sidebar.error, [e.value for e in app.sidebar.error]
    assert upload_kept(app)
    assert len(scaled_upload_folders(tmp_path, "1-6")) == 1


# In a real browser ---------------------------------------------------------------------------

from test_browser import CHROMIUM, CHROMIUM_ARGS, finish_run  # noqa: E402

START_TIMEOUT_S = 90
PAGE_TIMEOUT_MS = 120_000


def start_streamlit(env):
    """Start the dashboard on a free port of 127.0.0.1 and return (process, url)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return process, url
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            output = process.stdout.read().decode(errors="replace")
            pytest.fail(f"streamlit did not start on {url}:\n{output[-3000:]}")
        time.sleep(0.5)


@pytest.mark.browser
def test_browser_upload_trains_and_recommends(own_data, own_models, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}; install Debian's chromium package")
    sync_api = pytest.importorskip("playwright.sync_api")
    env = {**os.environ, MODELS_DIR_ENV: str(own_models),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop(DATA_DIR_ENV, None)
    process, url = start_streamlit(env)
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.goto(url)
            page.get_by_text("Your own CSV").click()
            inputs = page.locator("[data-testid='stSidebar'] input[type='file']")
            inputs.nth(2).wait_for(state="attached")
            for index, name in enumerate(CSV_NAMES):
                inputs.nth(index).set_input_files(str(own_data / name))
                page.get_by_text(name).first.wait_for()
                # On a busy machine an upload sent while the previous rerun still draws
                # the sidebar is lost, so wait for that run to end first.
                finish_run(page)
            page.get_by_text("ratings: ").first.wait_for()
            page.get_by_role("cell", name="student", exact=True).first.wait_for()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "own_csv_home.png"), full_page=True)

            # A click in the page list keeps the session, and with it the upload.
            navigation = page.get_by_test_id("stSidebarNavItems")
            navigation.get_by_role("link", name="New user", exact=True).click()
            page.get_by_text("Using the ratings uploaded earlier").wait_for()
            page.get_by_role("button", name="Add rating").click()
            page.get_by_text("Your ratings (1)").wait_for()
            page.get_by_role("heading", name="student", exact=True).wait_for()
            page.screenshot(path=str(ARTIFACTS / "own_csv_new_user.png"), full_page=True)
            browser.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_edited_csv_shows_fingerprints(tmp_path, own_data, own_models):
    """An edited copy keeps the name and the rating count; the fingerprints differ."""
    from metarec.serving.recommender import Recommender
    from metarec.serving.store import ModelsDirectoryError

    def read(folder):
        # As own_models' training read them: the ratings file, with the others beside it.
        return load_dataset(folder / "ratings.csv", items=folder / "items.csv",
                            users=folder / "users.csv")

    original = read(own_data)
    folder = tmp_path / own_data.name
    folder.mkdir()
    lines = (own_data / "ratings.csv").read_text().splitlines()
    # Change one rating's value: same users, items and count.
    user, item, rating, *rest = lines[1].split(",")
    lines[1] = ",".join([user, item, "1" if rating != "1" else "2", *rest])
    (folder / "ratings.csv").write_text("\n".join(lines) + "\n")
    for name in ("items.csv", "users.csv"):
        (folder / name).write_bytes((own_data / name).read_bytes())
    edited = read(folder)
    assert (edited.name, edited.n_ratings) == (original.name, original.n_ratings)

    Recommender.load(own_models, original)
    with pytest.raises(ModelsDirectoryError, match="fingerprint") as caught:
        Recommender.load(own_models, edited)
    assert original.fingerprint()[:12] in str(caught.value)
    assert edited.fingerprint()[:12] in str(caught.value)


def test_changed_file_names_items_csv(own_data, own_models):
    from metarec.data import load_dataset
    from metarec.serving.recommender import Recommender
    from metarec.serving.store import ModelsDirectoryError

    # The models were trained with --items-csv; the same ratings file alone gives the
    # items other titles, though name, place and rating count are the same.
    alone = load_dataset(own_data / "ratings.csv")
    with pytest.raises(ModelsDirectoryError, match="same place with the same number") as caught:
        Recommender.load(own_models, alone)
    assert "--items-csv" in str(caught.value)
    assert alone.fingerprint()[:12] in str(caught.value)


def test_new_item_page_without_users_csv(tmp_path, monkeypatch):
    """Own ratings without a users CSV have no ages: the user list must still draw."""
    from streamlit.testing.v1 import AppTest

    from metarec.item_pipeline import train_item_models
    from metarec.ui.item_state import ITEM_MODELS_DIR_ENV

    # Five items are too few for item cold start, and the error names what is missing.
    with pytest.raises(ValueError, match="no held-out item has 2 or more ratings"):
        train_item_models(load_dataset(ratings_file(tmp_path, GOOD_ROWS)), tmp_path / "x",
                          epochs=1)

    path = ratings_file(tmp_path, GOOD_ROWS)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "no-models"))
    monkeypatch.setenv(ITEM_MODELS_DIR_ENV, str(tmp_path / "items"))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)

    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()
    app.sidebar.radio(key="_widget.data.source").set_value("Your own CSV").run()
    app.sidebar.file_uploader[0].set_value(("ratings.csv", path.read_bytes(), "text/csv"))
    app.run()
    app.switch_page("pages/2_New_item.py").run()
    assert not app.exception, [e.value for e in app.exception]
    users = app.selectbox(key="new_item.user")
    assert users.options[0] == "user u1"
    [add] = [b for b in app.button if b.label == "Add rating"]
    add.click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert any(b.label == "Train item models" for b in app.button)


# Outlying ratings and data paths ---------------------------------------------------------

def test_outlying_rating_stretches_inferred_scale():
    from metarec.data.custom import stretched_scale

    values = [1, 2, 3, 4, 5] * 400 + [11]
    assert infer_rating_scale(values) == (1.0, 11.0)
    narrower, outliers = stretched_scale(values)
    assert narrower == (1.0, 5.0)
    assert outliers.tolist() == [11.0]
    # A common scale reached by one stray rating is stretched too.
    assert stretched_scale([1, 2, 3, 4, 5] * 400 + [10])[0] == (1.0, 5.0)
    # A minority beyond 5 among whole ratings of 1 to 5 stretches it too.
    assert stretched_scale([1, 2, 3, 4, 5] * 4 + [10])[0] == (1.0, 5.0)
    # Many ratings beyond 5 are a scale of their own, not outliers.
    assert stretched_scale([1, 2, 3, 4, 5] * 2 + [6, 7, 8, 9, 10] * 2) is None
    assert stretched_scale(list(range(1, 11)) * 10) is None


def test_inferred_scale_message_names_outliers():
    from metarec.ui.upload import inferred_scale_message

    message, warn = inferred_scale_message(np.array([1.0, 2, 3, 4, 5] * 400 + [11]))
    assert warn
    assert message.startswith("Rating scale, read from the data: 1 to 11, because 1 of "
                              "2,001 ratings lie outside 1 to 5: 11.")
    message, warn = inferred_scale_message(np.array([1.0, 2, 3, 4, 5]))
    assert not warn
    assert message == "Rating scale, read from the data: 1 to 5."


def test_dashboard_warns_of_outlying_rating(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "no-models"))
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()
    app.sidebar.radio(key="_widget.data.source").set_value("Your own CSV").run()
    rows = [f"u{user},m{item},{1 + (user + item) % 5}"
            for user in range(1, 21) for item in range(1, 11)]
    content = "\n".join(["user_id,item_id,rating", *rows, "u1,m11,11"]) + "\n"
    app.sidebar.file_uploader[0].set_value(("mine.csv", content.encode(), "text/csv"))
    app.run()

    assert not app.exception, [e.value for e in app.exception]
    # Shown without ticking "Set the rating scale".
    assert not app.sidebar.checkbox[0].value
    warnings = [w.value for w in app.sidebar.warning if "read from the data" in w.value]
    assert len(warnings) == 1
    assert "1 to 11, because 1 of 201 ratings lie outside 1 to 5: 11." in warnings[0]


def test_rejected_rows_list_escapes_and_limits():
    from metarec.ui.upload import rejected_rows_lines

    rejected = [("my_file.csv", line, "rating '*' is not a number") for line in range(2, 6)]
    lines = rejected_rows_lines(rejected, limit=2)
    assert lines == ["- **my\\_file\\.csv**, line 2: rating '\\*' is not a number",
                     "- **my\\_file\\.csv**, line 3: rating '\\*' is not a number",
                     "- … and 2 more rows"]


def test_parent_folder_names_subfolders(tmp_path):
    from metarec.data import DataPathError

    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k" / "u.data").write_text("1\t1\t5\t0\n")
    with pytest.raises(DataPathError) as caught:
        load_dataset(tmp_path)
    assert "These sub-folders of it do: 'ml-100k'." in caught.value.reason
    assert "--data" not in caught.value.reason
    assert str(caught.value).endswith(f"Pass --data with one of those folders or set "
                                      f"{DATA_DIR_ENV}.")
    assert caught.value.folders == [tmp_path / "ml-100k"]


@pytest.mark.parametrize("name", ["u.data", "ratings.dat"])
def test_movielens_file_is_not_a_dataset(tmp_path, name):
    from metarec.data import DataPathError

    path = write(tmp_path / name, "1\t1\t5\t0\n")
    with pytest.raises(DataPathError, match=r"is a file of the MovieLens-1(00)?[KM] layout") \
            as caught:
        load_dataset(path)
    assert caught.value.folders == [tmp_path]
    assert str(caught.value).endswith(f"Pass its folder '{tmp_path}' with --data.")


def test_ratings_csv_file_still_loads(tmp_path):
    dataset = load_dataset(ratings_file(tmp_path, GOOD_ROWS, name="mine.csv"))
    assert dataset.name == "mine"
    assert len(dataset.ratings) == len(GOOD_ROWS)
