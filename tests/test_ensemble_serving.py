"""The served ensemble adapts only the members it weighs."""

import numpy as np
import pytest

from metarec.serving import Recommender
from metarec.serving.items import ItemRecommender

RATINGS = {1: 5, 2: 4, 3: 1}
NEW_ITEM = {"title": "A New Film", "genres": ["Drama"], "year": 1998}


def _serve_only(ensemble, member):
    """Give ``member`` all the weight in every bin, as a fitted ensemble may."""
    blend = getattr(ensemble, "_blend", ensemble)
    blend.weights_ = np.zeros_like(blend.weights_)
    blend.weights_[:, blend.members.index(member)] = 1.0
    blend.intercepts_ = np.zeros_like(blend.intercepts_)


def _record_adapted(monkeypatch, recommender):
    adapted = []
    for method in ("_adapt_network", "_adapt_classical"):
        original = getattr(recommender, method)

        def recording(name, *args, _original=original, **kwargs):
            adapted.append(name)
            return _original(name, *args, **kwargs)

        monkeypatch.setattr(recommender, method, recording)
    return adapted


@pytest.fixture
def user_side(tiny_models, sample_dataset):
    # A recommender of its own, because the test changes its ensemble weights.
    return Recommender.load(tiny_models, sample_dataset)


@pytest.fixture
def item_side(tiny_item_models, sample_dataset):
    return ItemRecommender.load(tiny_item_models, sample_dataset)


def test_user_ensemble_skips_unweighted_members(user_side, monkeypatch):
    _serve_only(user_side.ensemble, "student")
    adapted = _record_adapted(monkeypatch, user_side)
    blend = user_side.adapt(RATINGS, "ensemble")
    assert adapted == ["student"]
    student = user_side.adapt(RATINGS, "student")
    items = [10, 20, 30]
    np.testing.assert_allclose(blend.predict(items), student.predict(items))


def test_user_ensemble_times_weighted_members(user_side):
    _serve_only(user_side.ensemble, "student")
    student = user_side.adapt(RATINGS, "student")
    teacher = user_side.adapt(RATINGS, "teacher")
    members = {"student": student, "teacher": teacher}
    blend = user_side.adapt(RATINGS, "ensemble", members=members)
    assert blend.seconds == student.seconds


def test_item_ensemble_skips_unweighted_members(item_side, monkeypatch):
    _serve_only(item_side.ensemble, "content-only")
    adapted = _record_adapted(monkeypatch, item_side)
    blend = item_side.adapt_item("ensemble", {1: 5, 2: 2}, **NEW_ITEM)
    assert adapted == ["content-only"]
    alone = item_side.adapt_item("content-only", {1: 5, 2: 2}, **NEW_ITEM)
    users = [3, 4, 5]
    np.testing.assert_allclose(blend.predict(users), alone.predict(users))
