"""Parsing the MovieLens-100K layout, including the errors for damaged files."""

import shutil

import numpy as np
import pytest

from metarec.data import DataFormatError, load_movielens_100k
from metarec.data.features import FeatureEncoder, age_band, title_words
from metarec.data.movielens import read_items, read_ratings, read_users

GENRE_FLAGS = "|".join(["0"] * 19)


@pytest.fixture
def tiny_dir(tmp_path):
    (tmp_path / "u.data").write_text("1\t10\t5\t881250949\n1\t11\t3\t881250950\n"
                                     "2\t10\t4\t881250951\n")
    flags_a = "0|1" + "|0" * 17
    flags_b = "0|0|0|0|0|1" + "|0" * 13
    (tmp_path / "u.item").write_bytes(
        ("10|Caf\xe9 Society (1995)|01-Jan-1995|||" + flags_a + "\n"
         "11|Old Film (1950)||||" + flags_b + "\n").encode("latin-1"))
    (tmp_path / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n")
    return tmp_path


def test_load_keeps_dataset_ids(tiny_dir):
    dataset = load_movielens_100k(tiny_dir)
    assert sorted(dataset.ratings["user_id"].unique()) == [1, 2]
    assert list(dataset.items["item_id"]) == [10, 11]
    assert dataset.ratings["rating"].tolist() == [5.0, 3.0, 4.0]


def test_items_read_as_latin1_with_genres_and_year(tiny_dir):
    items = load_movielens_100k(tiny_dir).items.set_index("item_id")
    assert items.loc[10, "title"] == "Café Society (1995)"
    assert items.loc[10, "genres"] == ("Action",)
    assert items.loc[10, "year"] == 1995
    # No release date: the year comes from the title.
    assert items.loc[11, "year"] == 1950
    assert items.loc[11, "genres"] == ("Comedy",)


@pytest.mark.parametrize("line, expected", [
    ("1\t10\t5\n", "4 tab-separated fields"),
    ("1\tten\t5\t881250949\n", "integer item id"),
    ("1\t10\t9\t881250949\n", "between 1 and 5, got 9"),
    ("1\t10\tfive\t881250949\n", "numeric rating"),
])
def test_bad_rating_line_names_file_and_line(tmp_path, line, expected):
    path = tmp_path / "u.data"
    path.write_text("1\t11\t3\t881250950\n" + line)
    with pytest.raises(DataFormatError, match=f"u.data, line 2: expected .*{expected}"):
        read_ratings(path)


@pytest.mark.parametrize("name, text, reader, message", [
    ("u.data", "1\t11\t3\t881250950\n1\t11\t4\t881250951\n", read_ratings, "rated twice"),
    ("u.item", "1|Title (1995)|01-Jan-1995|||0|1\n", read_items,
     r"u.item, line 1: expected 24 '\|'-separated"),
    ("u.user", "1|24|X|technician|85711\n", read_users, "gender M or F, got 'X'"),
])
def test_bad_file_is_rejected(tmp_path, name, text, reader, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataFormatError, match=message):
        reader(path)


def test_rating_of_unlisted_item_is_rejected(tiny_dir):
    with open(tiny_dir / "u.data", "a") as handle:
        handle.write("2\t99\t4\t881250952\n")
    with pytest.raises(DataFormatError, match="line 4.*an item id that u.item lists"):
        load_movielens_100k(tiny_dir)


def test_missing_file_is_named(tiny_dir):
    (tiny_dir / "u.user").unlink()
    with pytest.raises(FileNotFoundError, match="u.user"):
        load_movielens_100k(tiny_dir)


def test_file_given_as_folder_is_named(tiny_dir):
    with pytest.raises(FileNotFoundError, match="is a file, not a folder"):
        load_movielens_100k(tiny_dir / "u.data")


def test_missing_directory_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="METAREC_DATA_DIR"):
        load_movielens_100k(tmp_path / "nowhere")


def test_fingerprint_changes_with_a_rating(tiny_dir, tmp_path):
    before = load_movielens_100k(tiny_dir).fingerprint()
    copy = tmp_path / "copy"
    shutil.copytree(tiny_dir, copy)
    (copy / "u.data").write_text("1\t10\t4\t881250949\n1\t11\t3\t881250950\n"
                                 "2\t10\t4\t881250951\n")
    assert load_movielens_100k(copy).fingerprint() != before


def test_feature_encoder(tiny_dir):
    dataset = load_movielens_100k(tiny_dir)
    encoder = FeatureEncoder.from_dataset(dataset)
    assert encoder.item_rows([10, 11, 999]).tolist() == [1, 2, 0]
    table = encoder.item_feature_table(dataset.items)
    assert table.shape == (3, encoder.n_item_features)
    assert not table[0].any()
    user = encoder.encode_user(24, "M", "technician", "85711")
    assert user.shape == (encoder.n_user_features,)
    # One slot set in each of the four one-hot groups.
    assert user.sum() == 4
    assert np.array_equal(encoder.encode_user(), encoder.encode_user(None, "", None, ""))


def test_feature_helpers():
    assert age_band(17) == "under 18"
    assert age_band(56) == "56+"
    assert age_band(None) is None
    assert title_words("Star Wars (1977)") == ["star", "wars"]


@pytest.mark.movielens
def test_real_movielens_100k_loads(ml100k_dataset):
    dataset = ml100k_dataset
    assert dataset.n_ratings == 100_000
    assert len(dataset.users) == 943
    assert len(dataset.items) == 1682
    assert dataset.ratings.groupby("user_id").size().min() >= 20
    titles = dataset.item_titles()
    assert titles[1] == "Toy Story (1995)"
    # u.item is latin-1: accented titles must come through decoded.
    assert any("é" in title for title in titles.values())
