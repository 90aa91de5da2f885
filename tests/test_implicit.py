"""Implicit feedback trained and evaluated as like/dislike classification."""

import numpy as np
import pytest

from metarec.data.implicit import implicit_to_like
from metarec.evaluation.evaluate import evaluate_scenario
from metarec.models.variants import like_variants
from metarec.pipeline import train_models
from metarec.serving.recommender import Recommender


@pytest.fixture(scope="module")
def interactions(sample_dataset):
    from dataclasses import replace

    # Keep only what people liked, as a play or purchase log would.
    liked = sample_dataset.ratings[sample_dataset.ratings.rating >= 4].assign(rating=1.0)
    return replace(sample_dataset, ratings=liked.reset_index(drop=True))


def test_negatives_are_unseen_items(interactions):
    data = implicit_to_like(interactions, negatives=1.0, seed=3)
    likes = data.ratings[data.ratings.rating == 5.0]
    dislikes = data.ratings[data.ratings.rating == 1.0]
    assert set(data.ratings.rating) == {1.0, 5.0}
    assert len(likes) == len(interactions.ratings)
    seen = set(zip(likes.user_id, likes.item_id))
    assert not seen & set(zip(dislikes.user_id, dislikes.item_id))
    per_user = dislikes.groupby("user_id").size()
    assert (per_user == likes.groupby("user_id").size().loc[per_user.index]).all()


def test_sampling_is_seeded(interactions):
    first = implicit_to_like(interactions, seed=1).ratings
    again = implicit_to_like(interactions, seed=1).ratings
    other = implicit_to_like(interactions, seed=2).ratings
    assert first.equals(again)
    assert not first.equals(other)


def test_bad_negative_ratio_is_rejected(interactions):
    with pytest.raises(ValueError, match="negatives must be positive, got 0"):
        implicit_to_like(interactions, negatives=0)


def test_implicit_data_trains_as_classification(interactions, tmp_path):
    data = implicit_to_like(interactions, seed=0)
    train_models(data, tmp_path, seed=0, variants=like_variants(epochs=4))
    recommender = Recommender.load(tmp_path, data)
    assert recommender.is_ranker("student-like")
    frame = evaluate_scenario(recommender, data, [5], variants=["student-like", "random"])
    auc = dict(zip(frame.variant, frame.auc))
    # Seeded floor: the sample's tastes are learnable, so the meta-learned classifier
    # separates liked from sampled items far better than chance.
    assert auc["student-like"] > 0.65
    assert auc["student-like"] > auc["random"] + 0.1
    scores = recommender.adapt({1: 5.0, 2: 1.0}, "student-like").predict(recommender.item_ids)
    assert np.all((scores > 0) & (scores < 1))
