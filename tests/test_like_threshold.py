"""What counts as a like follows the data's rating scale."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from metarec.data import like_threshold
from metarec.data.features import FeatureEncoder
from metarec.evaluation.evaluate import task_metrics
from metarec.meta.batching import collate
from metarec.models.baselines import UserBiasBaseline
from metarec.models.prior import ItemPrior, like_log_odds
from metarec.models.variants import like_variants
from metarec.pipeline import train_models
from metarec.serving.recommender import Recommender
from metarec.serving.store import read_manifest
from metarec.tasks.episodes import Task


@pytest.mark.parametrize("scale, threshold", [((1, 5), 4.0), ((0, 10), 7.5),
                                              ((1, 10), 7.75), ((0, 1), 0.75),
                                              ((0.5, 5), 3.875)])
def test_threshold_is_top_quarter(scale, threshold):
    assert like_threshold(scale) == threshold


def test_dataset_threshold_follows_scale(sample_dataset):
    assert sample_dataset.like_threshold == 4.0
    assert replace(sample_dataset, rating_scale=(0.0, 10.0)).like_threshold == 7.5


def test_dataset_repr_is_short(sample_dataset):
    text = repr(sample_dataset)

    assert text.startswith("<Dataset sample")
    assert text.endswith("ratings 1 to 5>")
    assert "\n" not in text


def make_task(ratings):
    ratings = np.asarray(ratings, dtype=np.float32)
    items = np.arange(1, len(ratings) + 1)
    return Task(user_id=1, support_items=items[:2], support_ratings=ratings[:2],
                query_items=items[2:], query_ratings=ratings[2:])


def test_collate_labels_use_threshold(sample_dataset):
    encoder = FeatureEncoder.from_dataset(sample_dataset)
    prior = ItemPrior.from_baseline(UserBiasBaseline().fit(sample_dataset.ratings), encoder)
    task = make_task([4, 9, 4, 8, 10, 7])
    batch = collate([task], encoder, {}, prior, target="like", like_threshold=7.5)

    assert batch["support_targets"].tolist() == [[0.0, 1.0]]
    assert batch["query_targets"].tolist() == [[0.0, 1.0, 1.0, 0.0]]


def test_task_metrics_use_threshold():
    task = make_task([5, 5, 4, 8, 10, 7])
    scores = np.array([1.0, 2.0, 3.0, 4.0])
    ids = np.arange(1, 7)

    on_ten = task_metrics(task, scores, ids, np.arange(6.0), like_threshold=7.5)
    on_five = task_metrics(task, scores, ids, np.arange(6.0))

    # On 0 to 10 the 8 and the 10 are likes; with the default 4, 4 and 7 are too.
    assert on_ten["recall@10"] == 1.0
    assert on_ten["auc"] == 0.5
    assert np.isnan(on_five["auc"])


@pytest.fixture(scope="module")
def ten_point_models(sample_dataset, tmp_path_factory):
    """Like models of the sample with every rating doubled, on a 0 to 10 scale."""
    ratings = sample_dataset.ratings.assign(rating=sample_dataset.ratings["rating"] * 2)
    dataset = replace(sample_dataset, ratings=ratings, rating_scale=(0.0, 10.0))
    out = tmp_path_factory.mktemp("ten-point")
    train_models(dataset, out, seed=0, variants=like_variants(epochs=2))
    return dataset, out


def test_training_records_threshold(ten_point_models):
    _, out = ten_point_models
    spec = read_manifest(out)["variants"]["student-like"]["spec"]

    assert spec["train"]["like_threshold"] == 7.5


def test_low_ratings_adapt_as_dislikes(ten_point_models):
    dataset, out = ten_point_models
    recommender = Recommender.load(out, dataset)
    items = recommender.item_ids[:6].tolist()

    def probabilities(rating):
        adapted = recommender.adapt({i: rating for i in items}, "student-like")
        return adapted.predict(items)

    # 4 of 10 is a dislike: adapting to it lowers the like probability of those items
    # against adapting to 10 of 10.
    assert probabilities(4.0).mean() < probabilities(10.0).mean() - 0.01


def test_like_log_odds_hand_computed(sample_dataset):
    encoder = FeatureEncoder.from_dataset(sample_dataset)
    items = encoder.item_ids[:2]
    ratings = pd.DataFrame({"item_id": [items[0]] * 4 + [items[1]] * 2,
                            "rating": [5.0, 4.0, 1.0, 2.0, 5.0, 5.0]})
    odds = like_log_odds(ratings, encoder, 4.0, shrinkage=2.0)
    rows = encoder.item_rows(items)

    # Overall 4 likes of 6; item 0: (2 + 2 * 2/3) / (4 + 2) = 5/9; item 1: (2 + 4/3) / 4.
    assert odds[0] == pytest.approx(np.log(2.0))
    assert odds[rows[0]] == pytest.approx(np.log((5 / 9) / (4 / 9)))
    assert odds[rows[1]] == pytest.approx(np.log((10 / 12) / (2 / 12)))


def test_like_probabilities_start_at_like_rate(ten_point_models):
    dataset, out = ten_point_models
    recommender = Recommender.load(out, dataset)
    before_any_rating = recommender.adapt({}, "student-like").predict(recommender.item_ids)
    like_rate = (dataset.ratings["rating"] >= dataset.like_threshold).mean()

    # Started from the rating prior, a 0-to-10 scale put every item near 1.
    assert abs(before_any_rating.mean() - like_rate) < 0.15


def test_loaded_like_prior_is_its_own(tiny_models, sample_dataset):
    # Every network of a models folder is built from one prior before its weights load,
    # so a shared table would end up holding the last network's values.
    recommender = Recommender.load(tiny_models, sample_dataset)
    like = recommender.learners["student-like"].net.item_prior
    rating = recommender.learners["teacher"].net.item_prior
    before_any_rating = recommender.adapt({}, "student-like").predict(recommender.item_ids)
    like_rate = (sample_dataset.ratings["rating"] >= 4).mean()

    assert abs(float(like.mean())) < 1.0
    assert float(rating.mean()) > 3.0
    assert abs(before_any_rating.mean() - like_rate) < 0.15
