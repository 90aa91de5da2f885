"""Synthetic fans (personas and audiences) rate on the data's own scale."""

from dataclasses import replace

import pytest

from metarec.data.dataset import on_scale, stars_text
from metarec.ui.item_audience import PRESETS, audience_ratings
from metarec.ui.personas import persona_ratings


@pytest.mark.parametrize("scale, expected", [((1, 5), [5, 4, 1, 2]), ((1, 10), [10, 8, 1, 3]),
                                             ((0, 10), [10, 8, 0, 2]),
                                             ((0.5, 5), [5, 4, 0.5, 1.5])])
def test_on_scale_keeps_place(scale, expected):
    assert [on_scale(stars, scale) for stars in (5, 4, 1, 2)] == expected


def test_stars_text_drops_repeats():
    assert stars_text((5, 4), (1, 10)) == "10 and 8"
    assert stars_text((5, 4), (0, 1)) == "1"


@pytest.fixture(scope="module")
def ten_point(sample_dataset):
    ratings = sample_dataset.ratings.assign(rating=sample_dataset.ratings["rating"] * 2)
    return replace(sample_dataset, ratings=ratings, rating_scale=(1.0, 10.0))


def test_persona_rates_on_ten_points(ten_point):
    ratings = persona_ratings(ten_point, "Sci-fi fan")

    assert set(ratings.values()) == {10.0, 8.0, 1.0, 3.0}


def test_audience_rates_on_ten_points(ten_point):
    loved = audience_ratings(ten_point, "Teenage sci-fi fans loved it")
    hated = audience_ratings(ten_point, "Action fans hated it")

    assert set(loved.values()) == {10.0, 8.0}
    assert set(hated.values()) == {1.0, 3.0}
    assert "give the item 10 and 8 stars" in PRESETS["Horror fans loved it"].describe(
        rating_scale=(1, 10))


def test_like_note_names_threshold():
    from metarec.ui.evaluation_charts import like_note

    assert like_note(["mae"], (1, 10)) is None
    assert like_note(["mae", "auc"], (1, 10)) == (
        "AUC: a rating of 8 or more, the top quarter of the 1 to 10 scale, counts as a "
        "like.")
    assert "makes a held-out item relevant" in like_note(["recall@10"], (1, 5))
