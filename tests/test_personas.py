"""Tests for the persona presets of metarec.ui.personas."""

import pandas as pd
import pytest

from metarec.data import Dataset
from metarec.ui.personas import PERSONAS, Persona, persona_ratings

GENRES = ("Adventure", "Drama", "Romance", "Sci-Fi")
SCI_FI_FAN = Persona("test sci-fi fan", loved=("Sci-Fi", "Adventure"), disliked=("Romance",))

# Item id: (genres, number of ratings). Item 2 has a loved and a disliked genre, so
# neither side of the persona may use it. Items 3 and 6 tie on 2 ratings, so the lower
# id comes first.
CATALOGUE = {
    1: (("Sci-Fi",), 3),
    2: (("Sci-Fi", "Romance"), 5),
    3: (("Adventure",), 2),
    4: (("Romance",), 4),
    5: (("Drama",), 6),
    6: (("Sci-Fi",), 2),
    7: (("Romance",), 1),
}


@pytest.fixture
def tiny_dataset():
    """Seven movies whose persona ratings are worked out by hand in the tests."""
    items = pd.DataFrame({
        "item_id": list(CATALOGUE),
        "title": [f"Movie {i} (1995)" for i in CATALOGUE],
        "year": 1995.0,
        "genres": [genres for genres, _ in CATALOGUE.values()],
    })
    rows = [(user, item, 3.0, 0) for item, (_, count) in CATALOGUE.items()
            for user in range(1, count + 1)]
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    users = pd.DataFrame({"user_id": range(1, 7), "age": 30, "gender": "F",
                          "occupation": "other", "zip_code": "12345"})
    return Dataset("tiny", ratings, items, users, GENRES, ("other",))


def test_picks_most_rated_of_each_side(tiny_dataset):
    ratings = persona_ratings(tiny_dataset, SCI_FI_FAN, n_loved=3, n_disliked=2)
    assert ratings == {1: 5.0, 3: 4.0, 6: 5.0, 4: 1.0, 7: 2.0}


def test_counts_follow_arguments(tiny_dataset):
    ratings = persona_ratings(tiny_dataset, SCI_FI_FAN, n_loved=2, n_disliked=1)
    assert ratings == {1: 5.0, 3: 4.0, 4: 1.0}


def test_mixed_genre_item_left_out(tiny_dataset):
    ratings = persona_ratings(tiny_dataset, SCI_FI_FAN, n_loved=10, n_disliked=10)
    assert 2 not in ratings


def test_no_disliked_ratings_when_zero(tiny_dataset):
    ratings = persona_ratings(tiny_dataset, SCI_FI_FAN, n_disliked=0)
    assert min(ratings.values()) == 4.0


def test_missing_genre_raises(tiny_dataset):
    persona = Persona("western fan", loved=("Western",), disliked=())
    with pytest.raises(ValueError,
                       match=r"loves the genres Western, and 'tiny' has none of them"):
        persona_ratings(tiny_dataset, persona)


def test_no_loved_movie_raises(tiny_dataset):
    persona = Persona("contradictory", loved=("Drama",), disliked=("Drama",))
    with pytest.raises(ValueError, match="no movie in 'tiny' has one of the genres"):
        persona_ratings(tiny_dataset, persona)


def test_unknown_name_raises(tiny_dataset):
    with pytest.raises(ValueError, match="unknown persona 'nobody'"):
        persona_ratings(tiny_dataset, "nobody")


@pytest.mark.parametrize("n_loved, n_disliked, message", [
    (0, 2, "n_loved must be at least 1, got 0"),
    (3, -1, "n_disliked must be at least 0, got -1"),
])
def test_invalid_counts_raise(tiny_dataset, n_loved, n_disliked, message):
    with pytest.raises(ValueError, match=message):
        persona_ratings(tiny_dataset, SCI_FI_FAN, n_loved=n_loved, n_disliked=n_disliked)


@pytest.mark.parametrize("name", list(PERSONAS))
def test_presets_on_sample(sample_dataset, name):
    persona = PERSONAS[name]
    ratings = persona_ratings(sample_dataset, name)
    genres = dict(zip(sample_dataset.items["item_id"], sample_dataset.items["genres"]))

    assert ratings == persona_ratings(sample_dataset, persona)
    assert len(ratings) == 8
    for item, rating in ratings.items():
        item_genres = set(genres[item])
        if rating >= 4:
            assert item_genres & set(persona.loved), (item, item_genres)
            assert not item_genres & set(persona.disliked), (item, item_genres)
        else:
            assert item_genres & set(persona.disliked), (item, item_genres)
            assert not item_genres & set(persona.loved), (item, item_genres)
