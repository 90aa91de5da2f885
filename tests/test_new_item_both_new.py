"""The New item page's new user: both the item and the person are new."""

import numpy as np
import pytest

from metarec.cli import MODELS_DIR_ENV, SAMPLE_DIR
from metarec.data import DATA_DIR_ENV
from metarec.ui.item_compare import new_user_ratings
from metarec.ui.item_state import ITEM_MODELS_DIR_ENV
from page_helpers import open_page

NEW_ITEM = "pages/2_New_item.py"
RATINGS_KEY = "new_item.ratings"
RUN_TIMEOUT = 90
ITEM = {"title": "Starfall", "genres": ("Sci-Fi",), "year": 1998}
PERSON = {"age": 25, "gender": "F"}


def test_new_user_ratings_match_the_library(item_recommender):
    variants = ["student", "genre-mean", "ensemble"]
    ratings = {1: 5.0, 2: 2.0}
    table = new_user_ratings(item_recommender, variants, ratings, person=PERSON, **ITEM)

    assert list(table["variant"]) == variants
    for variant, predicted in zip(table["variant"], table["predicted"]):
        adapted = item_recommender.adapt_item(variant, ratings, **ITEM)
        assert predicted == pytest.approx(adapted.predict_new_user(**PERSON))


def test_new_user_ratings_reject_bad_gender(item_recommender):
    with pytest.raises(ValueError, match="gender must be 'M' or 'F'"):
        new_user_ratings(item_recommender, ["student"], person={"gender": "X"}, **ITEM)


@pytest.fixture
def page(tiny_item_models, tmp_path, monkeypatch):
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "user-models"))
    monkeypatch.setenv(ITEM_MODELS_DIR_ENV, str(tiny_item_models))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    app = open_page(NEW_ITEM, RUN_TIMEOUT, RATINGS_KEY, {1: 5.0})
    app.text_input(key="new_item.title").set_value("Starfall").run()
    return app


def test_page_scores_no_new_user_by_default(page):
    # Scoring the person adapts every variant again, so it waits until asked for.
    assert "A new user too" in [h.value for h in page.subheader]
    assert not [t for t in page.table if "this person" in t.value.columns]
    assert not page.toggle(key="new_item.person.on").value


def person_table(app):
    [table] = [t for t in app.table if "this person" in t.value.columns]
    return table.value


def test_page_scores_a_new_user(page, item_recommender):
    app = page
    app.toggle(key="new_item.person.on").set_value(True).run()
    app.number_input(key="new_item.person.age").set_value(25).run()
    app.selectbox(key="new_item.person.gender").set_value("F").run()

    assert not app.exception, [e.value for e in app.exception]
    assert "A new user too" in [h.value for h in app.subheader]
    table = person_table(app)
    chosen = app.multiselect(key="new_item.variants").value
    assert list(table.index) == chosen
    assert list(table.columns) == ["this person", "mean over the users"]
    values = table["this person"].astype(float).to_numpy()
    low, high = item_recommender.rating_scale
    assert np.all((values >= low) & (values <= high))


def test_page_leaves_out_an_age_out_of_range(page):
    app = page
    app.toggle(key="new_item.person.on").set_value(True).run()
    app.number_input(key="new_item.person.age").set_value(200).run()

    assert any("Age 200 is outside" in e.value for e in app.error)
    assert len(person_table(app)) == len(app.multiselect(key="new_item.variants").value)
    assert app.session_state[RATINGS_KEY][str(SAMPLE_DIR)] == {1: 5.0}


@pytest.mark.parametrize("value, text", [(-0.001, "+0.00"), (-0.004, "+0.00"),
                                         (-0.006, "-0.01"), (0.25, "+0.25")])
def test_vs_usual_has_no_negative_zero(value, text):
    from metarec.ui.item_views import signed

    assert signed(value) == text
