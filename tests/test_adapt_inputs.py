"""Errors that adapt, top_k and load raise for inputs a caller gets wrong."""

import numpy as np
import pytest

from metarec.serving import ModelsDirectoryError, Recommender
from metarec.serving.items import ItemRecommender

NEW_ITEM = {"title": "Orbit School (2025)", "genres": ["Sci-Fi"], "year": 2025}


@pytest.mark.parametrize("rating", [None, "five", [5], True])
def test_rating_that_is_not_a_number(recommender, rating):
    with pytest.raises(ValueError, match=r"the rating of item 50 must be a number from 1 "
                                         r"to 5, got "):
        recommender.adapt({50: rating}, "student")


def test_rating_as_numeric_text_is_read(recommender):
    by_text = recommender.adapt({50: "5", 51: 2}, "user-bias").predict([1, 2])
    by_number = recommender.adapt({50: 5, 51: 2}, "user-bias").predict([1, 2])

    assert np.array_equal(by_text, by_number)


def test_same_item_twice_is_rejected(recommender):
    with pytest.raises(ValueError, match=r"item 50 is rated more than once \(as 50 and "
                                         r"'50'\)"):
        recommender.adapt({50: 5, "50": 1}, "student")


def test_truth_value_item_is_rejected(recommender):
    with pytest.raises(ValueError, match="item ids must be whole numbers, got True"):
        recommender.adapt({True: 5}, "student")


@pytest.mark.parametrize("k", [2.5, "3", True, None])
def test_top_k_needs_whole_number(recommender, k):
    adapted = recommender.adapt({50: 5}, "user-bias")
    with pytest.raises(ValueError, match="k must be a whole number of 1 or more"):
        adapted.top_k(k)


def test_top_k_takes_numpy_integer(recommender):
    assert len(recommender.adapt({50: 5}, "user-bias").top_k(np.int64(3))) == 3


def test_titles_missing_without_dataset(tiny_models):
    top = Recommender.load(tiny_models).adapt({50: 5}, "user-bias").top_k(3)

    assert top["title"].isna().all()


def test_item_side_rating_checks(item_recommender):
    with pytest.raises(ValueError, match="the rating of user 3 must be a number"):
        item_recommender.adapt_item("genre-mean", {3: None}, **NEW_ITEM)
    with pytest.raises(ValueError, match=r"user ids must be whole numbers, got \[2.7\]"):
        item_recommender.adapt_item("genre-mean", {2.7: 4}, **NEW_ITEM)
    with pytest.raises(ValueError, match="user 3 is rated more than once"):
        item_recommender.adapt_item("genre-mean", {3: 4, "3": 2}, **NEW_ITEM)


def test_top_users_needs_whole_number(item_recommender):
    adapted = item_recommender.adapt_item("genre-mean", {3: 4}, **NEW_ITEM)
    with pytest.raises(ValueError, match="k must be a whole number"):
        adapted.top_users(1.5)


@pytest.mark.parametrize("loader, kind", [(Recommender.load, "models"),
                                          (ItemRecommender.load, "item models")])
def test_data_folder_as_models_folder(tmp_path, loader, kind):
    (tmp_path / "u.data").write_text("1\t1\t5\t0\n")
    with pytest.raises(ModelsDirectoryError) as raised:
        loader(tmp_path)
    message = str(raised.value)

    assert f"is a data folder (it contains u.data), not a folder of {kind}" in message
    assert f"--data {tmp_path} --out models/" in message
