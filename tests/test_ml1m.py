"""The MovieLens-1M reader: ``::``-separated latin-1 files read into the ML-100K frames.

Format tests use the synthetic sample rewritten in the ML-1M layout. Tests marked
``movielens`` read the real ML-1M files from ``METAREC_ML1M_DIR`` (default: a
``shared/data/ml-1m-users-1-2999`` folder beside the repository) and skip without them.
"""

import os
from pathlib import Path

import numpy as np
import pytest

from metarec.data import DataFormatError, load_dataset, load_movielens_1m
from metarec.data.features import FeatureEncoder, age_band
from metarec.data.ml1m import ML1M_AGE_CODES, ML1M_GENRES, ML1M_OCCUPATIONS

REPO = Path(__file__).resolve().parent.parent
ML1M_DIR = Path(os.environ.get("METAREC_ML1M_DIR",
                               REPO.parent / "shared/data/ml-1m-users-1-2999"))
# The real prefix: users 1 to 2999 of ML-1M and all their ratings.
ML1M_PREFIX_RATINGS, ML1M_PREFIX_USERS, ML1M_MOVIES = 487_650, 2_999, 3_883


def write_1m_layout(dataset, folder: Path) -> Path:
    """Write a dataset in the ML-1M layout, ages as band codes and occupations as codes."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "ratings.dat", "w", encoding="latin-1") as out:
        for row in dataset.ratings.itertuples(index=False):
            out.write(f"{row.user_id}::{row.item_id}::{row.rating:g}::{row.timestamp}\n")
    with open(folder / "movies.dat", "w", encoding="latin-1") as out:
        for row in dataset.items.itertuples(index=False):
            genres = "|".join(g for g in row.genres if g in ML1M_GENRES)
            out.write(f"{row.item_id}::{row.title}::{genres}\n")
    with open(folder / "users.dat", "w", encoding="latin-1") as out:
        for row in dataset.users.itertuples(index=False):
            code = max(c for c in ML1M_AGE_CODES if c <= max(row.age, 1))
            occupation = row.user_id % len(ML1M_OCCUPATIONS)
            out.write(f"{row.user_id}::{row.gender}::{code}::{occupation}::{row.zip_code}\n")
    return folder


@pytest.fixture(scope="module")
def sample_1m(sample_dataset, tmp_path_factory):
    return write_1m_layout(sample_dataset, tmp_path_factory.mktemp("sample-1m") / "ml-1m")


def test_sample_in_1m_layout_loads_same_frames(sample_1m, sample_dataset):
    dataset = load_movielens_1m(sample_1m)

    assert dataset.name == "ml-1m"
    assert dataset.ratings.equals(sample_dataset.ratings)
    assert list(dataset.items.columns) == list(sample_dataset.items.columns)
    assert list(dataset.users.columns) == list(sample_dataset.users.columns)
    assert dict(dataset.ratings.dtypes) == dict(sample_dataset.ratings.dtypes)
    assert dataset.items["title"].tolist() == sample_dataset.items["title"].tolist()
    np.testing.assert_array_equal(dataset.items["year"], sample_dataset.items["year"])
    assert dataset.genres == ML1M_GENRES
    assert dataset.occupations == ML1M_OCCUPATIONS


def test_latin1_titles_are_decoded(sample_1m):
    titles = load_movielens_1m(sample_1m).items["title"]
    assert titles.str.contains("é").any()
    assert titles.str.contains("ñ").any()


def test_age_codes_map_to_feature_bands(sample_1m):
    dataset = load_movielens_1m(sample_1m)
    assert set(dataset.users["age"]) <= set(ML1M_AGE_CODES)
    assert age_band(1) == "under 18"
    assert age_band(56) == "56+"

    encoder = FeatureEncoder.from_dataset(dataset)
    features = encoder.encode_users(dataset.users)
    assert len(features) == len(dataset.users)
    assert all(vector.shape == (encoder.n_user_features,) for vector in features.values())
    table = encoder.item_feature_table(dataset.items)
    assert table.shape == (len(dataset.items) + 1, encoder.n_item_features)


def test_missing_ratings_file_is_named(tmp_path):
    (tmp_path / "movies.dat").write_text("1::A Made-up Film (1990)::Drama\n")
    (tmp_path / "users.dat").write_text("1::F::25::3::12345\n")
    with pytest.raises(FileNotFoundError, match="is missing ratings.dat, which a "
                                                "MovieLens-1M folder contains"):
        load_movielens_1m(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing ratings.dat"):
        load_dataset(tmp_path)


def test_registry_detects_1m_layout(sample_1m, sample_dataset):
    dataset = load_dataset(sample_1m)
    assert dataset.genres == ML1M_GENRES
    assert dataset.n_ratings == sample_dataset.n_ratings


def test_users_without_ratings_are_left_out(tmp_path):
    (tmp_path / "ratings.dat").write_text("1::1::4::100\n1::2::3::101\n")
    (tmp_path / "movies.dat").write_text("1::Film One (1990)::Drama\n"
                                         "2::Film Two (1991)::Comedy|Drama\n")
    (tmp_path / "users.dat").write_text("1::F::25::3::12345\n2::M::18::4::54321\n")
    dataset = load_movielens_1m(tmp_path)
    assert dataset.users["user_id"].tolist() == [1]
    assert len(dataset.items) == 2


def test_title_with_separator_is_kept(tmp_path):
    (tmp_path / "ratings.dat").write_text("1::1::4::100\n")
    (tmp_path / "movies.dat").write_text("1::Part One::The Return (1990)::Drama|War\n")
    (tmp_path / "users.dat").write_text("1::F::25::3::12345\n")
    item = load_movielens_1m(tmp_path).items.iloc[0]
    assert item["title"] == "Part One::The Return (1990)"
    assert item["year"] == 1990
    assert item["genres"] == ("Drama", "War")


GOOD_FILES = {"ratings.dat": "1::1::4::100\n1::2::3::101\n",
              "movies.dat": "1::Film One (1990)::Drama\n2::Film Two (1991)::Comedy\n",
              "users.dat": "1::F::25::3::12345\n"}


@pytest.mark.parametrize("file_name, lines, message", [
    ("ratings.dat", "1::1::4::100\n1::2::3\n",
     "ratings.dat, line 2: expected 4 '::'-separated"),
    ("ratings.dat", "1::1::4::100\n1::2::six::101\n", "line 2: expected a numeric rating"),
    ("ratings.dat", "1::1::4::100\n1::2::9::101\n",
     "line 2: expected a rating between 1 and 5"),
    ("ratings.dat", "1::1::4::100\n1::1::3::101\n", "line 2: expected one rating per"),
    ("ratings.dat", "1::1::4::100\n1::7::3::101\n",
     "line 2: expected a movie id that movies.dat lists"),
    ("ratings.dat", "1::1::4::100\n5::2::3::101\n",
     "line 2: expected a user id that users.dat lists"),
    ("movies.dat", "1::Film One (1990)::Drama\n2::Film Two::Space Opera\n",
     "movies.dat, line 2: expected genres from the MovieLens-1M list"),
    ("movies.dat", "1::Film One (1990)::Drama\nno separators\n",
     "movies.dat, line 2: expected 3 '::'-separated fields"),
    ("users.dat", "1::F::26::3::12345\n",
     "users.dat, line 1: expected an age code among 1, 18"),
    ("users.dat", "1::F::25::21::12345\n", "line 1: expected an occupation code from 0 to 20"),
    ("users.dat", "1::X::25::3::12345\n", "line 1: expected gender M or F"),
])
def test_malformed_line_is_named(tmp_path, file_name, lines, message):
    for name, text in {**GOOD_FILES, file_name: lines}.items():
        (tmp_path / name).write_text(text, encoding="latin-1")
    with pytest.raises(DataFormatError, match=message):
        load_movielens_1m(tmp_path)


# Real MovieLens-1M -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def ml1m_prefix():
    if not (ML1M_DIR / "ratings.dat").is_file():
        pytest.skip(f"MovieLens-1M not found at {ML1M_DIR}; set METAREC_ML1M_DIR")
    return load_movielens_1m(ML1M_DIR)


@pytest.mark.movielens
def test_real_prefix_loads_every_rating(ml1m_prefix, sample_dataset):
    dataset = ml1m_prefix
    assert dataset.n_ratings == ML1M_PREFIX_RATINGS
    assert dataset.ratings["user_id"].nunique() == ML1M_PREFIX_USERS
    assert len(dataset.users) == ML1M_PREFIX_USERS
    assert len(dataset.items) == ML1M_MOVIES
    assert dict(dataset.ratings.dtypes) == dict(sample_dataset.ratings.dtypes)
    assert list(dataset.items.columns) == list(sample_dataset.items.columns)
    assert set(dataset.ratings["rating"]) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert dataset.items["year"].notna().all()
    assert any(any(ord(c) > 127 for c in title) for title in dataset.items["title"])


@pytest.mark.movielens
def test_real_folder_without_ratings_names_the_file():
    folder = ML1M_DIR.parent / "ml-1m"
    if not (folder / "movies.dat").is_file() or (folder / "ratings.dat").exists():
        pytest.skip(f"no ML-1M folder without ratings.dat at {folder}")
    with pytest.raises(FileNotFoundError, match="is missing ratings.dat"):
        load_dataset(folder)


@pytest.mark.movielens
def test_dashboard_opens_real_prefix(ml1m_prefix, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from metarec.cli import MODELS_DIR_ENV

    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "no-models"))
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    app.sidebar.radio(key="_widget.data.source").set_value("MovieLens-1M folder").run()
    app.sidebar.text_input(key="_widget.data.ml1m_folder").input(str(ML1M_DIR)).run()

    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert any(f"{ML1M_PREFIX_RATINGS:,} ratings from {ML1M_PREFIX_USERS:,} users" in c.value
               for c in app.sidebar.caption)
