"""User splits and cold-start tasks."""

import numpy as np
import pandas as pd
import pytest

from metarec.tasks import ALL, TaskSize, make_tasks, parse_shots, split_users, task_size_for


def test_split_is_disjoint_and_complete(sample_dataset):
    users = sample_dataset.users["user_id"]
    split = split_users(users, seed=3)
    train, validation, test = map(set, (split.train, split.validation, split.test))
    assert not train & validation
    assert not train & test
    assert not validation & test
    assert train | validation | test == set(users)


def test_split_is_seeded(sample_dataset):
    users = sample_dataset.users["user_id"]
    assert np.array_equal(split_users(users, seed=1).test, split_users(users, seed=1).test)
    assert not np.array_equal(split_users(users, seed=1).test, split_users(users, seed=2).test)


def test_train_ratings_hold_no_held_out_user(sample_dataset):
    split = split_users(sample_dataset.users["user_id"], seed=0)
    train = split.ratings_of(sample_dataset.ratings, "train")
    held_out = set(split.validation) | set(split.test)
    assert not set(train["user_id"]) & held_out
    assert len(train) > 0


@pytest.mark.parametrize("kwargs, message", [
    ({"validation_fraction": 0.0}, "validation_fraction must be between 0 and 1"),
    ({"test_fraction": 0.6, "validation_fraction": 0.5}, "must leave users for training"),
])
def test_split_rejects_bad_fractions(kwargs, message):
    with pytest.raises(ValueError, match=message):
        split_users(range(10), **kwargs)


def test_tasks_have_fixed_query_and_nested_support(sample_dataset):
    users = sample_dataset.users["user_id"][:20]
    one = {t.user_id: t for t in make_tasks(sample_dataset.ratings, users, 1, seed=5)}
    five = {t.user_id: t for t in make_tasks(sample_dataset.ratings, users, 5, seed=5)}
    everything = {t.user_id: t for t in make_tasks(sample_dataset.ratings, users, ALL, seed=5,
                                                  max_ratings=None)}
    for user, task in five.items():
        assert len(task.query_items) == 10
        assert task.shots == 5
        assert np.array_equal(task.query_items, one[user].query_items)
        assert task.support_items[0] == one[user].support_items[0]
        assert not set(task.support_items) & set(task.query_items)
        rated = sample_dataset.ratings["user_id"].eq(user).sum()
        assert everything[user].shots == rated - 10


def test_tasks_respect_rating_count_limits():
    ratings = pd.DataFrame({"user_id": [1] * 12 + [2] * 30, "item_id": range(42),
                            "rating": 3.0, "timestamp": 0})
    tasks = make_tasks(ratings, [1, 2], 1, min_ratings=13, max_ratings=100)
    assert [t.user_id for t in tasks] == [2]


@pytest.mark.parametrize("value", ["-1", "many", None])
def test_parse_shots_rejects_bad_values(value):
    with pytest.raises(ValueError, match="0, a positive integer or 'all'"):
        parse_shots(value)


def test_parse_shots_accepts_zero_and_all():
    assert parse_shots("0") == 0
    assert parse_shots(" ALL ") == "all"


def small_ratings(counts):
    rows = [(user, item, 3.0) for user, count in counts.items() for item in range(count)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])


def test_task_size_kept_for_large_users():
    ratings = small_ratings({1: 5, 2: 13})
    assert task_size_for(ratings, [1, 2]) == TaskSize(query_size=10, min_ratings=13)


def test_task_size_shrinks_for_small_data():
    # The largest user has 5 ratings: a query of 2 leaves up to 3 for the support.
    ratings = small_ratings({1: 5, 2: 4, 3: 40})
    size = task_size_for(ratings, [1, 2])
    assert size == TaskSize(query_size=2, min_ratings=3)
    tasks = make_tasks(ratings, [1, 2], ALL, query_size=size.query_size,
                       min_ratings=size.min_ratings)
    assert [(len(t.query_items), t.shots) for t in tasks] == [(2, 3), (2, 2)]


def test_task_size_needs_two_ratings():
    with pytest.raises(ValueError, match="no held-out user has 2 or more ratings"):
        task_size_for(small_ratings({1: 1, 2: 1}), [1, 2])
