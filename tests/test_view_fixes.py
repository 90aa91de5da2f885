"""New user, New item and Home pages: personas, personal top lists, audience notes, ties."""

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from metarec.cli import MODELS_DIR_ENV, SAMPLE_DIR
from metarec.data import DATA_DIR_ENV, Dataset
from page_helpers import APP, open_page

RUN_TIMEOUT = 60
NEW_USER, NEW_ITEM = "pages/1_New_user.py", "pages/2_New_item.py"


@pytest.fixture
def sample_models(tiny_models, monkeypatch):
    monkeypatch.setenv(MODELS_DIR_ENV, str(tiny_models))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    return tiny_models


# Personas ------------------------------------------------------------------------------

ROMANCE_GENRES = ("Action", "Adventure", "Drama", "Horror", "Romance", "Sci-Fi", "War")
# Item id: (genres, number of ratings). Item 1 is the most rated and has Romance among
# four other genres, as Star Wars has in MovieLens-100K.
ROMANCE_CATALOGUE = {
    1: (("Action", "Adventure", "Romance", "Sci-Fi", "War"), 40),
    2: (("Drama", "Romance"), 30),
    3: (("Drama",), 20),
    4: (("Horror",), 10),
    **{item: (("War",), 1) for item in range(5, 21)},
}


def catalogue_dataset(genres, catalogue) -> Dataset:
    """Return a dataset whose items have the given genres and numbers of ratings."""
    items = pd.DataFrame({"item_id": list(catalogue),
                          "title": [f"Movie {i} (1995)" for i in catalogue],
                          "year": 1995.0,
                          "genres": [item_genres for item_genres, _ in catalogue.values()]})
    rows = [(user, item, 3.0, 0) for item, (_, count) in catalogue.items()
            for user in range(1, count + 1)]
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    n_users = max(count for _, count in catalogue.values())
    users = pd.DataFrame({"user_id": range(1, n_users + 1), "age": 30, "gender": "F",
                          "occupation": "other", "zip_code": "12345"})
    return Dataset("tiny", ratings, items, users, genres, ("other",))


def test_persona_skips_item_barely_loved():
    from metarec.ui.personas import Persona, persona_ratings

    dataset = catalogue_dataset(ROMANCE_GENRES, ROMANCE_CATALOGUE)
    persona = Persona("romance", loved=("Romance", "Drama"), disliked=("Horror",))

    ratings = persona_ratings(dataset, persona, n_loved=2, n_disliked=1)

    assert ratings == {2: 5.0, 3: 4.0, 4: 1.0}


def test_persona_prefers_popular_items():
    from metarec.ui.personas import Persona, persona_ratings

    # Items 2 and 3 are among the most rated tenth of the catalogue and half Sci-Fi.
    # Items 4 on are Sci-Fi only but rated once, so they come after them.
    catalogue = {1: (("Drama",), 50), 2: (("Sci-Fi", "Action"), 40),
                 3: (("Sci-Fi", "Drama"), 30),
                 **{item: (("Sci-Fi",), 1) for item in range(4, 30)}}
    dataset = catalogue_dataset(("Action", "Drama", "Sci-Fi"), catalogue)
    persona = Persona("sci-fi", loved=("Sci-Fi",), disliked=())

    ratings = persona_ratings(dataset, persona, n_loved=3, n_disliked=0)

    assert list(ratings) == [2, 3, 4]


@pytest.mark.movielens
def test_ml100k_personas_distinct(ml100k_dataset):
    from metarec.ui.personas import PERSONAS, persona_ratings

    titles = dict(zip(ml100k_dataset.items["item_id"], ml100k_dataset.items["title"]))
    loved = {name: {titles[item] for item, rating in persona_ratings(
        ml100k_dataset, name).items() if rating >= 4} for name in PERSONAS}

    names = list(loved)
    for first in range(len(names)):
        for second in range(first + 1, len(names)):
            shared = loved[names[first]] & loved[names[second]]
            assert not shared, (names[first], names[second], shared)
    assert "Star Wars (1977)" not in loved["Romance lover"]
    assert "Fargo (1996)" not in loved["Romance lover"]
    assert "Contact (1997)" not in loved["Sci-fi fan"]


def test_persona_caption_says_mostly(sample_models):
    app = open_page(NEW_USER, RUN_TIMEOUT)

    assert not app.exception, [e.value for e in app.exception]
    captions = [c.value for c in app.caption if c.value.startswith("Loves ")]
    assert len(captions) == 1, [c.value for c in app.caption]
    assert "mostly of the loved genres" in captions[0]


# How personal a top list is -------------------------------------------------------------

def test_count_new_picks_leaves_out_rated():
    from metarec.ui.compare import count_new_picks

    catalogue = np.array([10, 20, 30, 40, 50])
    start = np.array([5.0, 4.0, 3.0, 2.0, 1.0])

    # Without item 20, which the person rated, the starting top 3 is 10, 30 and 40.
    assert count_new_picks([30, 50, 10], start, catalogue, {20: 5.0}) == 1
    assert count_new_picks([10, 20, 30], start, catalogue, {}) == 0
    assert count_new_picks([50], start, catalogue, {}, k=1) == 1


def test_new_user_counts_new_picks(sample_models):
    from metarec.serving.recommender import Recommender
    from metarec.ui.compare import compare_variants, count_new_picks, starting_scores

    ratings = {1: 5.0, 2: 1.0, 3: 5.0}
    app = open_page(NEW_USER, RUN_TIMEOUT, "new_user.ratings", ratings)

    assert not app.exception, [e.value for e in app.exception]
    captions = [c.value for c in app.caption]
    explanations = [c for c in captions if c.startswith("Under each list, *new with your")]
    assert len(explanations) == 1, captions
    assert "a low count means the list barely depends on your ratings" in explanations[0]
    recommender = Recommender.load(sample_models)
    chosen = app.multiselect(key="new_user.variants").value
    comparison = compare_variants(recommender, ratings, chosen)
    for variant in chosen:
        expected = count_new_picks(comparison.results[variant].top["item_id"],
                                   starting_scores(recommender, variant),
                                   recommender.item_ids, ratings)
        shown = f"new with your ratings: {expected} of 10 (the rest are also in {variant}'s"
        assert any(c.startswith(shown) for c in captions), (variant, captions)


def test_random_has_no_starting_point(tiny_models):
    from metarec.serving.recommender import Recommender
    from metarec.ui.compare import has_starting_point

    recommender = Recommender.load(tiny_models)

    assert not has_starting_point(recommender, "random")
    assert has_starting_point(recommender, "popularity")
    assert has_starting_point(recommender, "teacher")


# Tie notes -------------------------------------------------------------------------------

def test_tie_note_capped_only_at_top():
    from metarec.ui.views import tied_scores_note

    below = tied_scores_note(["4.43", "4.43", "4.10"], top_of_scale=5.0)
    at_top = tied_scores_note(["5.00", "5.00", "4.10"], top_of_scale=5.0)
    ranking = tied_scores_note(["1.00", "1.00", "0.99"], ranking=True)

    assert "capped" not in below, below
    assert "rounded to two decimals" in below
    assert "capped at 5, the top of the rating scale" in at_top, at_top
    assert "capped" not in ranking, ranking


def draw_ranker_lists():
    import pandas as pd

    from metarec.ui.compare import VariantResult
    from metarec.ui.views import top_lists

    def result(variant, scores):
        top = pd.DataFrame({"rank": [1, 2, 3], "item_id": [1, 2, 3],
                            "title": ["A", "B", "C"], "score": scores})
        return VariantResult(variant, top, [], 0.001, {}, is_ranker=True,
                             score_label="ranking score")

    top_lists({"random": result("random", [0.9991, 0.9987, 0.9902]),
               "popularity": result("popularity", [50.0, 50.0, 48.0])})


def test_random_list_gets_tie_note():
    app = AppTest.from_function(draw_ranker_lists).run()

    assert not app.exception, [e.value for e in app.exception]
    notes = [c.value for c in app.caption if "equal only as shown" in c.value]
    # Popularity's whole rating counts are shown exactly, so its tie needs no note.
    assert len(notes) == 1, [c.value for c in app.caption]
    assert notes[0].startswith("Shown more than once: 1.00.")
    assert "capped" not in notes[0]


# New item page ---------------------------------------------------------------------------

def audience_top(predicted, lift):
    return pd.DataFrame({"rank": range(1, len(predicted) + 1),
                         "user_id": range(1, len(predicted) + 1),
                         "predicted": predicted, "lift": lift})


def test_narrow_predictions_get_note():
    from metarec.ui.item_views import audience_note

    top = audience_top([5.0, 5.0, 4.97], [1.2, 0.8, 0.3])
    texts = [f"{p:.2f}" for p in top["predicted"]]

    note = audience_note(top, False, texts, 5.0)

    assert note.startswith("Predicts nearly one rating (within 0.05 stars)"), note
    assert "only by their usual rating" in note


def test_equal_lift_gets_note():
    from metarec.ui.item_views import audience_note

    top = audience_top([4.6, 4.1, 3.5], [-0.19, -0.19, -0.19])
    texts = [f"{p:.2f}" for p in top["predicted"]]

    note = audience_note(top, False, texts, 5.0)

    assert note.startswith("Every user in this list gets the same vs usual"), note


def test_mostly_equal_lift_gets_note():
    from metarec.ui.item_views import audience_note

    top = audience_top([3.2] + [2.0 + 0.1 * i for i in range(9)], [0.4] + [-0.99] * 9)
    texts = [f"{p:.2f}" for p in top["predicted"]]

    note = audience_note(top, False, texts, 5.0)

    assert note.startswith("Equal vs usual as shown: -0.99 (9 users)."), note


def test_varied_predictions_get_no_note():
    from metarec.ui.item_views import audience_note

    top = audience_top([4.9, 4.5, 4.1], [1.0, 0.6, 0.2])
    texts = [f"{p:.2f}" for p in top["predicted"]]

    assert audience_note(top, False, texts, 5.0) is None


def test_user_label_keeps_single_prefix():
    from metarec.ui.item_controls import user_label

    users = pd.DataFrame({"original_id": ["user-o14", "ub002"], "age": [30, 19],
                          "gender": ["M", "F"], "occupation": ["writer", "student"]},
                         index=pd.Index([1, 2], name="user_id"))

    assert user_label(users, 1) == "user-o14 · 30 M writer"
    assert user_label(users, 2) == "user ub002 · 19 F student"


def test_new_item_genres_start_empty(tiny_item_models, monkeypatch):
    monkeypatch.setenv("METAREC_ITEM_MODELS_DIR", str(tiny_item_models))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)
    app.switch_page(NEW_ITEM)
    app.run()

    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    genres = app.multiselect(key="new_item.genres")
    assert genres.value == []
    assert genres.placeholder.startswith("optional, e.g. "), genres.placeholder
    # With no genres, every variant still lists an audience.
    audiences = [table for table in app.table if "user" in table.value.columns]
    assert len(audiences) == len(app.multiselect(key="new_item.variants").value)


def test_audience_error_capitalised(monkeypatch):
    from metarec.ui import item_controls

    def fail(dataset, name):
        raise ValueError("no user of 'ratings' fits the audience 'x'; pick another")

    def draw():
        import streamlit as st

        from metarec.data import load_movielens_100k
        from metarec.ui import item_controls
        from metarec.cli import SAMPLE_DIR

        item_controls.audience_controls(load_movielens_100k(SAMPLE_DIR), {}, "t")
        st.session_state["drawn"] = True

    monkeypatch.setattr(item_controls, "audience_ratings", fail)
    app = AppTest.from_function(draw).run()
    app.button[0].click().run()

    assert not app.exception, [e.value for e in app.exception]
    assert [e.value for e in app.error] == [
        "No user of 'ratings' fits the audience 'x'; pick another"]


# Wording ---------------------------------------------------------------------------------

def test_kept_ratings_name_the_data(tmp_path):
    from metarec.ui.state import data_label

    folder = tmp_path / "abc123" / "ratings"
    folder.mkdir(parents=True)
    (folder / "upload_names.json").write_text('{"ratings.csv": "ratings.csv"}')
    file = tmp_path / "my_books.csv"
    file.write_text("user_id,item_id,rating\n")

    assert data_label(folder) == "ratings"
    assert data_label(file) == "my_books"
    assert data_label(SAMPLE_DIR) == SAMPLE_DIR.name


def test_home_names_items_for_own_data(tmp_path, monkeypatch):
    ratings = tmp_path / "books.csv"
    rows = [f"u{u},b{i},{1 + (u + i) % 5}" for u in range(12) for i in range(12)]
    ratings.write_text("user_id,item_id,rating\n" + "\n".join(rows) + "\n")
    monkeypatch.setenv(DATA_DIR_ENV, str(ratings))
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "no-models"))

    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()

    assert not app.exception, [e.value for e in app.exception]
    intro = app.markdown[0].value
    assert intro.startswith("metarec recommends items to people"), intro


# Persona ratings, demographics and left-out support sizes ---------------------------

def test_persona_keeps_existing_ratings():
    from metarec.ui.profile import add_persona_ratings, persona_summary

    ratings = {7: 1.0, 8: 3.0}
    added, kept = add_persona_ratings(ratings, {7: 5.0, 9: 5.0, 10: 4.0})

    assert ratings == {7: 1.0, 8: 3.0, 9: 5.0, 10: 4.0}
    assert (added, kept) == (2, 1)
    assert persona_summary("Romance lover", added, kept, "item") == (
        "Romance lover: added 2 ratings. 1 of its items was already rated and keeps that "
        "rating.")


def test_demographics_named_only_when_present(sample_dataset, tmp_path):
    from metarec.data import load_dataset
    from metarec.ui.session_view import demographics_text

    rows = [f"u{u},i{i},{(u + i) % 5 + 1}" for u in range(20) for i in range(15)]
    (tmp_path / "r.csv").write_text("\n".join(["user_id,item_id,rating", *rows]) + "\n")

    assert demographics_text(sample_dataset) == "age, gender and occupation"
    assert demographics_text(load_dataset(tmp_path / "r.csv")) == ""


def test_unscored_support_size_is_recorded(tiny_models, sample_dataset):
    from metarec.serving.recommender import Recommender
    from metarec.ui.results import run_evaluation

    recommender = Recommender.load(tiny_models, sample_dataset)
    results = run_evaluation(recommender, sample_dataset, ["1", "500"], ["user-bias"])

    assert results.rows["shots"].unique().tolist() == ["1"]
    assert results.source["unscored"]["shots"] == ["500"]
    assert "room for the 10-rating query" in results.source["unscored"]["reason"]
