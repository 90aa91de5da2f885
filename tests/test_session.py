"""Tests for replaying a test user's ratings (metarec.ui.session)."""

import numpy as np
import pandas as pd
import pytest

from metarec.evaluation.evaluate import evaluate_tasks, saved_scenario
from metarec.ui.session import (QUERY_METRICS, dropped_items, metric_history, rank_changes,
                                run_step, session_plan, session_tasks, session_users)

TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def recommender(tiny_models, sample_dataset):
    from metarec.serving.recommender import Recommender

    return Recommender.load(tiny_models, sample_dataset)


@pytest.fixture(scope="module")
def tasks(recommender, sample_dataset):
    return session_tasks(recommender, sample_dataset)


def test_tasks_are_test_users(recommender, tasks):
    split = saved_scenario(recommender.manifest)
    assert tasks
    assert set(tasks) <= set(split.users.test.tolist())
    for task in tasks.values():
        assert len(task.query_items) == 10
        assert task.shots >= 1


def test_users_table_counts_ratings(tasks, sample_dataset):
    users = session_users(tasks, sample_dataset)
    counts = sample_dataset.ratings.groupby("user_id").size()

    assert users["user_id"].tolist() == sorted(tasks)
    for row in users.itertuples():
        assert row.ratings == counts[row.user_id]
        assert row.label.startswith(f"user {row.user_id} · {row.ratings} ratings · ")


def test_users_outside_evaluation_marked(tasks, sample_dataset):
    users = session_users(tasks, sample_dataset)
    heavy = users[users["ratings"] > 100]
    light = users[users["ratings"] <= 100]

    # The sample's users have 20 to 120 ratings, so both kinds are there.
    assert len(heavy)
    assert len(light)
    assert not heavy["evaluated"].any()
    assert light["evaluated"].all()
    assert heavy["label"].str.endswith(" · not scored by evaluate (over 100 ratings)").all()
    assert not light["label"].str.contains("not scored").any()


def test_page_starts_with_evaluated_user(app_env, tasks, sample_dataset):
    from page_helpers import open_page

    users = session_users(tasks, sample_dataset)
    first = int(users.loc[users["evaluated"], "user_id"].iloc[0])
    app = open_page("pages/3_Dynamic_session.py", 60)
    assert not app.exception, [e.value for e in app.exception]
    assert app.selectbox(key="session.user").value == first
    assert "scores only those with 13 to 100 ratings" in app.selectbox(key="session.user").help


def test_time_order_sorts_by_timestamp(tasks, sample_dataset):
    user_id = min(tasks)
    plan = session_plan(tasks[user_id], sample_dataset, "time")
    rows = sample_dataset.ratings[sample_dataset.ratings["user_id"] == user_id]
    stamps = dict(zip(rows["item_id"], rows["timestamp"]))

    revealed = [stamps[int(i)] for i in plan.items]
    assert revealed == sorted(revealed)
    assert set(plan.items.tolist()) == set(tasks[user_id].support_items.tolist())
    assert not set(plan.items.tolist()) & set(plan.task.query_items.tolist())
    assert plan.user["occupation"] == sample_dataset.users.set_index("user_id").loc[
        user_id, "occupation"]


def test_random_step_is_evaluation_task(recommender, tasks, sample_dataset):
    """Step n in the random order adapts to the evaluation's K=n support set."""
    split = saved_scenario(recommender.manifest)
    user_features = recommender.encoder.encode_users(sample_dataset.users)
    shots = 5
    evaluated = split.tasks(sample_dataset.ratings, "test", shots, seed=split.users.seed,
                            min_ratings=None, max_ratings=None)
    task = evaluated[0]
    plan = session_plan(tasks[task.user_id], sample_dataset, "random")

    assert plan.items[:shots].tolist() == task.support_items.tolist()
    assert plan.task.query_items.tolist() == task.query_items.tolist()
    for variant in ("teacher", "user-bias"):
        record = run_step(recommender, plan, shots, variant)
        expected = evaluate_tasks(recommender, [task], user_features, [variant], True)
        for metric in ("mae", "rmse", "ndcg@3", "auc", "catalogue_ndcg@10"):
            assert abs(record.metrics[metric] - expected[metric].iloc[0]) < TOLERANCE, metric


def test_step_excludes_revealed_items(recommender, tasks, sample_dataset):
    plan = session_plan(tasks[min(tasks)], sample_dataset)
    record = run_step(recommender, plan, 6, "student")

    assert len(record.top) == 10
    assert record.top["rank"].tolist() == list(range(1, 11))
    assert not set(record.top["item_id"]) & set(plan.items[:6].tolist())
    assert set(record.metrics) == set(QUERY_METRICS)


def test_ranker_has_no_rating_error(recommender, tasks, sample_dataset):
    plan = session_plan(tasks[min(tasks)], sample_dataset)
    record = run_step(recommender, plan, 3, "popularity")
    assert np.isnan(record.metrics["mae"])
    assert np.isfinite(record.metrics["ndcg@3"])


@pytest.mark.parametrize("n", [-1, 10_000])
def test_step_outside_plan_raises(recommender, tasks, sample_dataset, n):
    plan = session_plan(tasks[min(tasks)], sample_dataset)
    with pytest.raises(ValueError, match=f"n must be between 0 and {len(plan)}, got {n}"):
        run_step(recommender, plan, n, "student")


def test_unknown_order_raises(tasks, sample_dataset):
    with pytest.raises(ValueError, match="order must be one of"):
        session_plan(tasks[min(tasks)], sample_dataset, "alphabetical")


def test_first_items_lead_plan(tasks, sample_dataset):
    task = tasks[min(tasks)]
    by_time = session_plan(task, sample_dataset, "time")
    first = by_time.items[:3].tolist()
    plan = session_plan(task, sample_dataset, "random", first=first)

    assert plan.items[:3].tolist() == first
    random_rest = [i for i in task.support_items.tolist() if i not in first]
    assert plan.items[3:].tolist() == random_rest
    support = dict(zip(task.support_items.tolist(), task.support_ratings.tolist()))
    assert plan.revealed(len(plan)) == support


@pytest.mark.parametrize("first, message", [
    ([10_000_000], r"first contains items \[10000000\] that are not among the ratings"),
    ("repeat", "first must not repeat an item"),
])
def test_invalid_first_items_raise(tasks, sample_dataset, first, message):
    task = tasks[min(tasks)]
    if first == "repeat":
        first = [int(task.support_items[0])] * 2
    with pytest.raises(ValueError, match=message):
        session_plan(task, sample_dataset, "random", first=first)


def top(ids):
    return pd.DataFrame({"rank": range(1, len(ids) + 1), "item_id": ids,
                         "title": [f"Movie {i}" for i in ids]})


def test_rank_changes_labels():
    labels = rank_changes(top([1, 2, 3, 4]), top([2, 1, 5, 4]))
    assert labels.tolist() == ["▲1", "▼1", "new", "="]
    assert rank_changes(None, top([1, 2])).tolist() == ["", ""]


def test_dropped_items_lists_titles():
    assert dropped_items(top([1, 2, 3]), top([3, 1, 4])) == ["Movie 2"]
    assert dropped_items(None, top([1])) == []


def test_history_sorted_by_variant_and_step(recommender, tasks, sample_dataset):
    plan = session_plan(tasks[min(tasks)], sample_dataset)
    records = [run_step(recommender, plan, n, v) for n in (2, 0, 1) for v in ("teacher",)]
    history = metric_history(records)
    assert history["n"].tolist() == [0, 1, 2]
    assert list(history.columns) == ["variant", "n", *QUERY_METRICS]


def test_user_label_splits_held_out(tasks, sample_dataset):
    users = session_users(tasks, sample_dataset).set_index("user_id")
    for user_id, task in tasks.items():
        held_out = len(task.query_items)
        assert task.shots + held_out == users.loc[user_id, "ratings"]
        assert (f" · {users.loc[user_id, 'ratings']} ratings · {task.shots} to reveal + "
                f"{held_out} held out" in users.loc[user_id, "label"])


def test_top_lists_fill_rows_evenly():
    from metarec.ui.session_view import MAX_TOP_COLUMNS, top_columns

    assert [top_columns(n) for n in range(1, 8)] == [1, 2, 3, 2, 3, 3, 3]
    assert all(top_columns(n) <= MAX_TOP_COLUMNS for n in range(1, 20))
