"""Cold-start scenarios: held-out users and items never reach training."""

import numpy as np
import pandas as pd
import pytest

from metarec.tasks import ALL
from metarec.tasks.scenarios import SCENARIOS, ScenarioSplit, default_cut_year, make_scenario


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_training_ratings_exclude_held_out_entities(sample_dataset, scenario):
    split = make_scenario(sample_dataset, scenario, seed=1)
    training = split.training_ratings(sample_dataset.ratings)
    held_out_users = set(split.users.validation) | set(split.users.test)
    assert not set(training["user_id"]) & held_out_users
    assert not set(training["item_id"]) & set(split.new_items)
    for part in ("validation", "test"):
        for task in split.tasks(sample_dataset.ratings, part, 5):
            if task.entity == "item":
                assert task.user_id in set(split.new_items)
            else:
                assert task.user_id in held_out_users
            # No rating of a task is a training rating.
            pairs = set(zip(training["user_id"], training["item_id"]))
            for other in np.concatenate([task.support_items, task.query_items]):
                pair = (other, task.user_id) if task.entity == "item" else (task.user_id, other)
                assert pair not in pairs


def test_new_items_are_the_recent_ones(sample_dataset):
    split = make_scenario(sample_dataset, "new-item", seed=0)
    years = sample_dataset.items.set_index("item_id")["year"]
    assert split.cut_year == default_cut_year(sample_dataset.items)
    assert (years.loc[split.new_items] >= split.cut_year).all()
    old = years.drop(split.new_items)
    assert (old < split.cut_year).all()
    # About a fifth of the catalogue is new by default.
    assert 0.15 <= len(split.new_items) / len(years) <= 0.4


def test_item_tasks_swap_roles(sample_dataset):
    split = make_scenario(sample_dataset, "new-item", seed=0)
    tasks = split.tasks(sample_dataset.ratings, "test", 3)
    assert tasks
    ratings = sample_dataset.ratings.set_index(["user_id", "item_id"])["rating"]
    task = tasks[0]
    assert task.entity == "item"
    for user, rating in zip(task.support_items, task.support_ratings):
        assert ratings.loc[(user, task.user_id)] == rating


def test_scenario_split_round_trips(sample_dataset):
    split = make_scenario(sample_dataset, "new-user-new-item", seed=4)
    again = ScenarioSplit.from_dict(split.to_dict())
    for shots in (1, ALL):
        first = split.tasks(sample_dataset.ratings, "test", shots)
        second = again.tasks(sample_dataset.ratings, "test", shots)
        assert [t.user_id for t in first] == [t.user_id for t in second]
        assert all(np.array_equal(a.query_items, b.query_items) for a, b in zip(first, second))


def test_unknown_scenario_is_rejected(sample_dataset):
    with pytest.raises(ValueError, match="scenario must be one of new-user"):
        make_scenario(sample_dataset, "new-shop")


def test_new_user_new_item_trains_and_scores(sample_dataset, tmp_path):
    from metarec.evaluation.evaluate import evaluate_scenario
    from metarec.meta.training import TrainConfig
    from metarec.models.variants import VariantSpec
    from metarec.pipeline import train_models
    from metarec.serving.recommender import Recommender

    spec = {"student": VariantSpec(network={"dim": 4, "hidden": (8,)},
                                   learner={"adapt": "personal", "algorithm": "maml",
                                            "inner_steps": 1, "inner_lr": 0.1},
                                   train=TrainConfig(epochs=1))}
    train_models(sample_dataset, tmp_path, seed=0, variants=spec,
                 scenario="new-user-new-item")
    recommender = Recommender.load(tmp_path, sample_dataset)
    saved = recommender.manifest["scenario"]
    assert saved["scenario"] == "new-user-new-item"
    assert saved["new_items"]
    table = evaluate_scenario(recommender, sample_dataset, [1, ALL], max_ratings=None)
    assert set(table["variant"]) >= {"student", "user-bias", "ensemble"}
    assert table["mae"].notna().any()

    # Every query item is new, so the catalogue metrics rank the new items only. Among
    # all items, the classical baselines ranked no new item in their top 10.
    ranked = evaluate_scenario(recommender, sample_dataset, [1], max_ratings=None,
                               catalogue=True, variants=["student", "user-bias", "random"])
    assert (ranked["recall@10"] > 0).all()


def test_cut_year_must_leave_older_items():
    from metarec.tasks.scenarios import check_cut_year

    items = pd.DataFrame({"item_id": [1, 2, 3], "year": [1980.0, 1985.0, 1990.0]})
    with pytest.raises(ValueError, match=r"no item was released before the cut year 1980, so "
                                         r"every item is new .* the earliest release year in "
                                         r"the data is 1980\. Pass a cut_year \(--cut-year\) "
                                         r"of 1981 or later"):
        check_cut_year(items, 1980)
    check_cut_year(items, 1981)
    # An item without a year is never new, so it is left to train on.
    check_cut_year(pd.concat([items, pd.DataFrame({"item_id": [4], "year": [np.nan]})]),
                   1980)
    with pytest.raises(ValueError, match="every item was released in 1990, so the cut year "
                                         "1990 makes every item new"):
        check_cut_year(pd.DataFrame({"item_id": [1, 2], "year": [1990.0, 1990.0]}), 1990)


@pytest.mark.parametrize("part", ["train", "valid", None])
def test_new_item_parts_validation_test(sample_dataset, part):
    split = make_scenario(sample_dataset, "new-item", seed=0)
    message = rf"no {part!r} items.*pass part='validation' or part='test'"
    with pytest.raises(ValueError, match=message):
        split.held_out_items(part)
    with pytest.raises(ValueError, match=message):
        split.held_out_ratings(sample_dataset.ratings, part)
    validation, test = split.held_out_items("validation"), split.held_out_items("test")
    assert not set(validation) & set(test)
    assert set(validation) | set(test) == set(split.new_items)
