"""Tests of the Streamlit pages through streamlit.testing.v1.AppTest.

One tiny models directory (one epoch on the bundled sample) is trained per module and
shared by every test through ``METAREC_MODELS_DIR``.
"""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from metarec.cli import MODELS_DIR_ENV, SAMPLE_DIR
from metarec.data import DATA_DIR_ENV
from metarec.serving.store import read_manifest
from metarec.ui.personas import PERSONAS
from page_helpers import click, open_page, stop_training_at

REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "app.py")
NEW_USER = "pages/1_New_user.py"
RATINGS_KEY = "new_user.ratings"
TOP_K = 10
# Enough ratings for the ensemble's last support-size bin (21 or more).
MANY_RATINGS = 25
# Seconds one script run may take; the first run of a module loads and warms the models.
RUN_TIMEOUT = 60


@pytest.fixture(scope="module")
def models_dir(tiny_models):
    return tiny_models


@pytest.fixture(scope="module")
def variants(models_dir):
    """Every variant in the models directory, in the manifest's order."""
    return list(read_manifest(models_dir)["variants"])


@pytest.fixture(scope="module")
def featured(models_dir, sample_dataset):
    """The variants the New user page starts with."""
    from metarec.serving.recommender import Recommender

    return Recommender.load(models_dir, sample_dataset).featured_variants


@pytest.fixture
def app_env(models_dir, monkeypatch):
    monkeypatch.setenv(MODELS_DIR_ENV, str(models_dir))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    return models_dir


def new_user_page(ratings=None) -> AppTest:
    """Open the New user page, with ``ratings`` of the sample already entered."""
    return open_page(NEW_USER, RUN_TIMEOUT, RATINGS_KEY, ratings)


def entered_ratings(app) -> dict:
    return app.session_state[RATINGS_KEY][str(SAMPLE_DIR)]


def choose_all_variants(app, variants):
    return app.multiselect(key="new_user.variants").set_value(variants).run()


def assert_top_lists(app, variants):
    """Check that the page shows a top-10 table under a heading for each of ``variants``."""
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    headings = [heading.value for heading in app.subheader]
    for variant in variants:
        assert variant in headings
    tables = [table.value for table in app.table]
    assert len(tables) == len(variants)
    for table in tables:
        assert len(table) == TOP_K
        # Ranking baselines show a "ranking score" column, which is not a rating.
        if "score" in table:
            assert table["score"].astype(float).between(1.0, 5.0).all()


def test_compare_scores_rating_variants(models_dir, sample_dataset, variants):
    from metarec.serving.recommender import Recommender
    from metarec.ui.compare import compare_variants

    recommender = Recommender.load(models_dir, sample_dataset)
    ratings = {1: 5.0, 2: 4.0, 3: 1.0}
    comparison = compare_variants(recommender, ratings, variants, user={"age": 30}, k=TOP_K)

    assert list(comparison.results) == variants
    rankers = {name for name, result in comparison.results.items() if result.is_ranker}
    rating_variants = [name for name in variants if name not in rankers]
    scores = comparison.scores
    assert scores["variant"].unique().tolist() == rating_variants
    items_per_variant = scores.groupby("variant")["item_id"].apply(frozenset)
    assert items_per_variant.nunique() == 1
    # A list picked among equal scores (global-mean's) marks no item as its own.
    expected = {name: 0 if comparison.results[name].all_tied else TOP_K
                for name in rating_variants}
    assert scores.groupby("variant")["in_top"].sum().to_dict() == expected
    assert scores["score"].between(1.0, 5.0).all()
    assert not set(scores["item_id"]) & set(ratings)
    assert set(comparison.curves()["variant"]) == set(rating_variants)
    assert comparison.timings()["variant"].tolist() == variants


def test_compare_without_variants_raises(models_dir, sample_dataset):
    from metarec.serving.recommender import Recommender
    from metarec.ui.compare import compare_variants

    recommender = Recommender.load(models_dir, sample_dataset)
    with pytest.raises(ValueError, match="choose at least one variant"):
        compare_variants(recommender, {1: 5.0}, [])


def test_home_lists_variants(app_env, variants):
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()

    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert any("sample_data: 33,785 ratings" in m.value for m in app.markdown)
    variant_table, validation_table, auc_table = app.table
    assert variant_table.value["variant"].tolist() == variants
    assert set(validation_table.value.index) == set(variants)
    # The like/dislike classifier has no MAE, so its validation shows as an AUC.
    assert "student-like" in variants
    assert set(auc_table.value.index) == set(variants)
    assert list(auc_table.value.columns) == [
        column.replace("MAE", "AUC") for column in validation_table.value.columns]
    assert auc_table.value.loc["student-like"].notna().all()
    assert any(caption.value.startswith("AUC of like (a rating of 4 or more) against dislike")
               and "It also scores student-like, popularity and random, which predict no "
               "ratings." in caption.value
               for caption in app.caption)


def test_persona_gives_every_top_list(app_env, variants, featured):
    app = new_user_page()
    app = click(app, "Add this persona's ratings")
    assert app.multiselect(key="new_user.variants").value == featured
    assert_top_lists(app, featured)

    app = choose_all_variants(app, variants)

    assert len(entered_ratings(app)) == 8
    assert_top_lists(app, variants)
    # Every chart waits behind a switch, because the browser redraws each after a rating.
    assert not app.get("plotly_chart")
    app.toggle(key="new_user.scores_chart").set_value(True).run()
    assert len(app.get("plotly_chart")) == 1
    app.toggle(key="new_user.details").set_value(True).run()
    assert any("sum of its members' adaptations" in c.value for c in app.caption)
    # The scores, then the support losses (rating models, then the like/dislike
    # classifier student-like) and adaptation times.
    assert len(app.get("plotly_chart")) == 4


def shown_weights(app) -> dict:
    """Return the ensemble's member weights from the New user page's one weights table."""
    assert len(app.dataframe) == 1, [frame.value for frame in app.dataframe]
    table = app.dataframe[0].value
    return dict(zip(table["member"], table["weight"]))


def test_ensemble_weights_follow_support_size(app_env, models_dir, sample_dataset):
    from metarec.serving.recommender import Recommender

    ensemble = Recommender.load(models_dir, sample_dataset).ensemble
    items = sample_dataset.ratings["item_id"].value_counts().index[:MANY_RATINGS].tolist()
    shown_by_count = {}
    for count in (1, MANY_RATINGS):
        ratings = {int(item): float(5 - i % 4) for i, item in enumerate(items[:count])}
        app = new_user_page(ratings)

        assert not app.exception, [e.value for e in app.exception]
        assert "ensemble" in app.multiselect(key="new_user.variants").value
        weights = shown_weights(app)
        assert sum(weights.values()) == pytest.approx(1.0)
        assert weights == pytest.approx(ensemble.weights_for(count))
        assert any(c.value.startswith(f"Your {count} rating") for c in app.caption)
        assert any("depends on the number of ratings" in c.value for c in app.caption)
        timings = [c.value for c in app.caption if c.value.startswith("adapted in")]
        summed = [t for t in timings if t.endswith("the sum of its members' adaptations")]
        assert len(summed) == 1
        # A bin served by one member alone is named in the caption.
        alone = [m for m, w in weights.items() if w == pytest.approx(1.0)]
        captioned = any("alone on held-out validation" in c.value for c in app.caption)
        assert captioned == bool(alone)
        shown_by_count[count] = weights

    # The tiny models may fit one mix for every bin, and then there is no change to show.
    if ensemble.weights_for(1) != ensemble.weights_for(MANY_RATINGS):
        assert shown_by_count[1] != shown_by_count[MANY_RATINGS]


def test_ensemble_weights_hidden_without_ensemble(app_env):
    app = new_user_page({1: 5.0, 2: 4.0})
    app.multiselect(key="new_user.variants").set_value(["student", "teacher"]).run()

    assert not app.exception, [e.value for e in app.exception]
    assert not app.dataframe


@pytest.mark.parametrize("name", list(PERSONAS)[1:])
def test_other_personas_fill_ratings(app_env, featured, name):
    app = new_user_page()
    app.selectbox(key="new_user.persona").set_value(name).run()
    app = click(app, "Add this persona's ratings")

    assert len(entered_ratings(app)) == 8
    assert_top_lists(app, featured)


def test_rating_added_through_widgets(app_env, featured, sample_dataset):
    tokyo = {item: title for item, title in sample_dataset.item_titles().items()
             if "tokyo" in title.lower()}
    chosen = max(tokyo)
    app = new_user_page()
    app.text_input(key="new_user.search").input("tokyo").run()
    movie = app.selectbox(key="new_user.movie")
    assert len(movie.options) == len(tokyo)
    assert all("tokyo" in option.lower() for option in movie.options)
    movie.set_value(chosen).run()
    app.segmented_control(key="new_user.stars").set_value(5).run()
    app = click(app, "Add rating")

    assert entered_ratings(app) == {chosen: 5.0}
    assert any(h.value == "Your ratings (1)" for h in app.subheader)
    assert_top_lists(app, featured)
    for table in app.table:
        assert tokyo[chosen] not in table.value["title"].tolist()


def test_same_rating_again_shows_toast(app_env):
    app = new_user_page()
    app.segmented_control(key="new_user.stars").set_value(5).run()
    app = click(app, "Add rating")
    assert not app.toast
    app = click(app, "Add rating")

    assert not app.exception, [e.value for e in app.exception]
    assert len(entered_ratings(app)) == 1
    messages = [t.value for t in app.toast]
    assert len(messages) == 1
    assert messages[0].startswith("No change: you already rated ")
    assert messages[0].endswith(" with 5 stars.")


def test_search_without_match_shows_info(app_env):
    app = new_user_page()
    app.text_input(key="new_user.search").input("no such title xyz").run()

    assert not app.exception
    assert any("No title contains 'no such title xyz'" in i.value for i in app.info)


def test_title_search_ignores_accents_and_order():
    from metarec.ui.profile import title_matches

    titles = {1: "Señorita of the Dragon (1996)", 2: "A Shadow in Tokyo (1987)",
              3: "Tokyo Drift (1999)", 4: "The Senator (1987)"}
    assert title_matches(titles, "senorita") == [1]
    assert title_matches(titles, "SEÑORITA") == [1]
    assert title_matches(titles, "tokyo 1987") == [2]
    assert title_matches(titles, "1987 tokyo") == [2]
    assert title_matches(titles, "tokyo") == [2, 3]
    assert title_matches(titles, "of the") == [1]
    assert title_matches(titles, "") == [1, 2, 3, 4]
    assert title_matches(titles, "tokyo 2001") == []


def test_search_finds_words_in_any_order(app_env):
    app = new_user_page()
    app.text_input(key="new_user.search").input("senorita dragon").run()

    assert not app.exception
    options = app.selectbox(key="new_user.movie").options
    assert len(options) == 1
    assert options[0].startswith("Señorita of the Dragon (1996)")


def test_search_without_match_names_word_order(app_env):
    app = new_user_page()
    app.text_input(key="new_user.search").input("tokyo 2099").run()

    assert any(i.value == "No title contains 'tokyo 2099', even with its words in another "
                          "order." for i in app.info)

def test_empty_profile_shows_info(app_env):
    app = new_user_page()

    assert not app.exception
    assert not app.table
    assert any("No ratings yet" in i.value for i in app.info)


def test_out_of_range_rating_shows_error(app_env):
    app = new_user_page({1: 7.0, 2: 4.0})

    assert not app.exception, [e.value for e in app.exception]
    assert any("ratings must be between 1 and 5; got 7 for item 1" in e.value
               for e in app.error)
    assert any("7 is not one of the stars" in w.value for w in app.warning)
    assert entered_ratings(app) == {1: 7.0, 2: 4.0}


def test_unknown_item_shows_error(app_env):
    app = new_user_page({99999: 4.0})

    assert not app.exception, [e.value for e in app.exception]
    assert any("item ids [99999] are not in the catalogue" in e.value for e in app.error)


def test_ratings_survive_rerun_and_page_switch(app_env, featured):
    app = new_user_page()
    app = click(app, "Add this persona's ratings")
    before = dict(entered_ratings(app))

    app.run()
    assert entered_ratings(app) == before
    app.switch_page("app.py").run()
    app.switch_page(NEW_USER).run()

    assert entered_ratings(app) == before
    assert any(h.value == f"Your ratings ({len(before)})" for h in app.subheader)
    assert_top_lists(app, featured)


def test_demographics_survive_page_switch(app_env, featured):
    app = new_user_page({1: 5.0, 2: 4.0})
    app.number_input(key="new_user.age").set_value(30).run()
    app.selectbox(key="new_user.gender").set_value("F").run()
    app.selectbox(key="new_user.occupation").set_value("student").run()
    app.switch_page("app.py").run()
    app.switch_page(NEW_USER).run()

    assert app.number_input(key="new_user.age").value == 30
    assert app.selectbox(key="new_user.gender").value == "F"
    assert app.selectbox(key="new_user.occupation").value == "student"
    assert_top_lists(app, featured)


def test_age_out_of_range_is_named(app_env, featured):
    app = new_user_page({1: 5.0, 2: 4.0})
    app.number_input(key="new_user.age").set_value(150).run()

    assert not app.exception, [e.value for e in app.exception]
    assert any("Age 150 is outside 1 to 120, so the models leave it out" in e.value
               for e in app.error)
    assert app.number_input(key="new_user.age").value == 150
    headings = [heading.value for heading in app.subheader]
    assert all(variant in headings for variant in featured)


def test_change_remove_and_clear(app_env, featured):
    app = new_user_page({1: 5.0, 2: 4.0, 3: 1.0})
    app.segmented_control(key="new_user.rating.2").set_value(2).run()
    assert entered_ratings(app) == {1: 5.0, 2: 2.0, 3: 1.0}

    app.button(key="new_user.remove.1").click().run()
    assert entered_ratings(app) == {2: 2.0, 3: 1.0}
    assert_top_lists(app, featured)

    app = click(app, "Clear all")
    assert entered_ratings(app) == {}
    assert not app.table
    assert any("No ratings yet" in i.value for i in app.info)

    app = click(app, "Undo clear (2)")
    assert entered_ratings(app) == {2: 2.0, 3: 1.0}
    assert_top_lists(app, featured)


def test_no_variant_chosen_shows_info(app_env):
    app = new_user_page({1: 5.0})
    app.multiselect(key="new_user.variants").set_value([]).run()

    assert not app.exception
    assert not app.table
    assert any("Choose at least one variant" in i.value for i in app.info)


def test_invalid_data_folder_keeps_ratings(app_env, featured, tmp_path):
    app = new_user_page({1: 5.0})
    app.sidebar.radio(key="_widget.data.source").set_value("MovieLens-100K folder").run()
    app.sidebar.text_input(key="_widget.data.folder").input(str(tmp_path / "missing")).run()

    assert not app.exception, [e.value for e in app.exception]
    assert any("does not exist" in e.value for e in app.error)

    app.sidebar.radio(key="_widget.data.source").set_value("Bundled sample").run()
    assert entered_ratings(app) == {1: 5.0}
    assert_top_lists(app, featured)


def test_malformed_data_folder_shows_error(app_env, tmp_path):
    for name in ("u.data", "u.item", "u.user"):
        (tmp_path / name).write_text("not|a|valid\tline\n")
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()
    app.sidebar.radio(key="_widget.data.source").set_value("MovieLens-100K folder").run()
    app.sidebar.text_input(key="_widget.data.folder").input(str(tmp_path)).run()

    assert not app.exception, [e.value for e in app.exception]
    assert any("line 1: expected 4 tab-separated fields" in e.value for e in app.error)


def test_missing_models_offer_training(app_env, monkeypatch, tmp_path):
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "no_models"))
    home = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()

    assert not home.exception, [e.value for e in home.exception]
    assert any("No trained models" in i.value for i in home.info)
    assert [b.label for b in home.button] == ["Train models"]
    # With no models in the folder, the caption names where they go, not what is replaced.
    assert any(f"Models are written to '{tmp_path / 'no_models'}'" in c.value
               for c in home.caption)
    assert not any("are replaced" in c.value for c in home.caption)

    app = new_user_page()
    app = click(app, "Add this persona's ratings")
    assert not app.exception, [e.value for e in app.exception]
    assert len(entered_ratings(app)) == 8
    assert any("Train them on the home page" in i.value for i in app.info)


def test_home_retraining_says_models_are_replaced(app_env):
    home = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()

    assert not home.exception, [e.value for e in home.exception]
    assert "Retrain models" in [b.label for b in home.button]
    [caption] = [c.value for c in home.caption if "Models already in" in c.value]
    assert "are replaced" in caption


def test_home_trains_with_chosen_seed(app_env, monkeypatch, tmp_path):
    seeds = stop_training_at(monkeypatch, "metarec.pipeline.train_models")
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "no_models"))
    home = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()
    seed = next(n for n in home.number_input if n.label == "Seed")
    assert seed.value == 0
    assert any("Full training takes one to a few minutes" in c.value for c in home.caption)

    seed.set_value(3).run()
    home = click(home, "Train models")

    assert not home.exception, [e.value for e in home.exception]
    assert seeds == [3]
    assert any("stopped before training" in e.value for e in home.error)


def test_retrain_starts_at_models_seed(tiny_models, monkeypatch, tmp_path):
    import json
    import shutil

    models = tmp_path / "models"
    shutil.copytree(tiny_models, models)
    manifest = json.loads((models / "manifest.json").read_text())
    manifest["scenario"]["users"]["seed"] = 7
    (models / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv(MODELS_DIR_ENV, str(models))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    home = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()

    assert not home.exception, [e.value for e in home.exception]
    assert any("trained with seed 7 on" in m.value for m in home.markdown)
    assert next(n for n in home.number_input if n.label == "Seed").value == 7


def test_home_names_the_models_seed(app_env):
    home = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()

    assert not home.exception, [e.value for e in home.exception]
    assert any("trained with seed 0 on" in m.value for m in home.markdown)
    validation = [c.value for c in home.caption if "Mean absolute error" in c.value]
    assert len(validation) == 1
    assert "validation users (of the split's 50:" in validation[0]


# Profile files -------------------------------------------------------------------------

def upload_profile(app, name, content):
    mime = "application/json" if name.endswith(".json") else "text/csv"
    app.file_uploader(key="new_user.profile_file").set_value((name, content, mime)).run()
    return app


def test_profile_replace_restores_ratings(app_env, sample_dataset):
    from metarec.ui.profile_io import profile_json

    saved = {1: 5.0, 2: 4.0, 3: 1.0}
    user = {"age": 30, "gender": "F", "occupation": "student"}
    app = new_user_page({7: 2.0})
    upload_profile(app, "me.json", profile_json(sample_dataset, saved, user).encode())

    assert not app.exception, [e.value for e in app.exception]
    assert any("'me.json' has 3 rating(s): 3 you have not entered" in i.value
               for i in app.info)
    assert entered_ratings(app) == {7: 2.0}
    app = click(app, "Replace my profile")

    assert entered_ratings(app) == saved
    assert app.number_input(key="new_user.age").value == 30
    assert app.selectbox(key="new_user.gender").value == "F"
    assert app.selectbox(key="new_user.occupation").value == "student"
    assert any(h.value == "Your ratings (3)" for h in app.subheader)


def test_profile_add_keeps_own_ratings(app_env, sample_dataset):
    app = new_user_page({7: 2.0, 1: 3.0})
    upload_profile(app, "me.csv", b"item_id,rating\n1,5\n2,4\n")
    assert any("2 rating(s): 1 you have not entered and 1 that differ" in i.value
               for i in app.info)
    app = click(app, "Add to my ratings")

    assert entered_ratings(app) == {7: 2.0, 1: 5.0, 2: 4.0}


@pytest.mark.parametrize("name, content, message", [
    ("bad.json", b"{not json", "'bad.json' is not valid JSON"),
    ("bad.csv", b"item_id,rating\n1,7\n", "rating 7 is not a whole number of stars"),
    ("bad.csv", b"item_id,rating\n99999,4\n", "item 99999 is not in the catalogue"),
    ("bad.csv", b"item_id,rating\n1,4\n1,5\n", "item 1 is rated more than once"),
    ("bad.json", b'{"ratings": []}', "'bad.json' contains no ratings"),
])
def test_malformed_profile_keeps_ratings(app_env, name, content, message):
    app = new_user_page({7: 2.0})
    upload_profile(app, name, content)

    assert not app.exception, [e.value for e in app.exception]
    errors = [e.value for e in app.error]
    assert any(message in error for error in errors), errors
    assert all("Your ratings are unchanged" in error for error in errors), errors
    assert not any(".." in error for error in errors), errors
    assert entered_ratings(app) == {7: 2.0}
    assert not [b for b in app.button if b.label == "Replace my profile"]


def test_rejected_profile_error_once(app_env):
    app = new_user_page({7: 2.0})
    upload_profile(app, "bad.csv", b"item_id,rating\n1,7\n")
    errors = [e.value for e in app.error]
    assert len(errors) == 1, errors
    assert "rating 7 is not a whole number of stars" in errors[0]
    assert "remove this one with the × beside its name" in errors[0]

    app = click(app, "Add this persona's ratings")
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    notes = [c for c in app.caption if "'bad.csv' was not loaded" in c.value]
    assert len(notes) == 1, [c.value for c in app.caption]
    assert "Remove it with the × beside its name" in notes[0].value
    assert "rating 7 is not a whole number of stars" in notes[0].proto.help

    # Uploading the file again is a new attempt, so its error shows again.
    upload_profile(app, "bad.csv", b"item_id,rating\n1,7\n")
    assert len(app.error) == 1, [e.value for e in app.error]


def test_chart_switches_kept_per_dataset(app_env, tmp_path):
    import shutil

    switches = ("new_user.scores_chart", "new_user.details", "new_user.explain")
    app = new_user_page({1: 5.0, 2: 4.0})
    for key in switches:
        app.toggle(key=key).set_value(True).run()

    # A copy of the sample is another data set, with ratings and switches of its own.
    for name in ("u.data", "u.item", "u.user"):
        shutil.copy(SAMPLE_DIR / name, tmp_path / name)
    app.sidebar.radio(key="_widget.data.source").set_value("MovieLens-100K folder").run()
    app.sidebar.text_input(key="_widget.data.folder").input(str(tmp_path)).run()
    app = click(app, "Add this persona's ratings")
    assert not app.exception, [e.value for e in app.exception]
    assert {key: app.toggle(key=key).value for key in switches} == dict.fromkeys(
        switches, False)
    assert not app.get("plotly_chart")

    app.sidebar.radio(key="_widget.data.source").set_value("Bundled sample").run()
    assert entered_ratings(app) == {1: 5.0, 2: 4.0}
    assert {key: app.toggle(key=key).value for key in switches} == dict.fromkeys(
        switches, True)


# Explanations --------------------------------------------------------------------------

def test_explanation_lists_every_item(app_env, featured):
    app = new_user_page({1: 5.0, 2: 4.0, 3: 1.0})
    app.toggle(key="new_user.explain").set_value(True).run()

    assert not app.exception, [e.value for e in app.exception]
    explained = app.table[len(featured)].value
    assert len(explained) == TOP_K
    assert list(explained.columns) == ["predicted", "item mean", "pushed up by",
                                       "pulled down by", "your genres"]
    assert any("adaptations in" in c.value for c in app.caption)
    # Prediction against mean and the two effect charts. The score dots stay switched off.
    assert len(app.get("plotly_chart")) == 3

    app.selectbox(key="new_user.explain_variant").set_value(featured[-1]).run()
    assert not app.exception, [e.value for e in app.exception]
    assert len(app.table[len(featured)].value) == TOP_K


# Dynamic session -----------------------------------------------------------------------

SESSION = "pages/3_Dynamic_session.py"


def session_page() -> AppTest:
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)
    app.switch_page(SESSION)
    return app.run()


def user_id(label: str) -> int:
    """Return the id in a test user's label, "user 16 · 75 ratings · …"."""
    return int(label.split()[1])


def revealed_text(app) -> str:
    return app.get("progress")[0].proto.text


def test_session_steps_back_and_restart(app_env, featured):
    app = session_page()
    assert not app.exception, [e.value for e in app.exception]
    assert revealed_text(app).startswith("0 of ")
    assert any("Nothing revealed yet" in i.value for i in app.info)

    click(app, "Reveal next rating")
    click(app, "Reveal next rating")
    assert revealed_text(app).startswith("2 of ")
    assert any(h.value == "Top 10 after 2 ratings" for h in app.header)
    top_tables = app.table
    assert len(top_tables) == len(featured)
    assert all(list(t.value.columns) == ["title", "score", "move"] for t in top_tables)
    assert len(app.dataframe[0].value) == 2
    assert list(app.dataframe[1].value.columns) == ["title", "rating", *featured]
    assert len(app.get("plotly_chart")) == 1

    click(app, "Back one")
    assert revealed_text(app).startswith("1 of ")
    click(app, "Restart")
    assert revealed_text(app).startswith("0 of ")


def test_session_reveal_all_disables_next(app_env):
    app = session_page()
    app.multiselect(key="session.variants").set_value(["student", "popularity"]).run()
    click(app, "Reveal all")

    total = int(revealed_text(app).split(" of ")[1].split()[0])
    assert revealed_text(app).startswith(f"{total} of {total}")
    assert [b for b in app.button if b.label == "Reveal next rating"][0].disabled
    app.selectbox(key="session.metric").set_value("ndcg@3").run()
    assert not app.exception, [e.value for e in app.exception]


def test_session_survives_page_switch(app_env):
    app = session_page()
    user = user_id(app.selectbox(key="session.user").options[2])
    app.selectbox(key="session.user").set_value(user).run()
    click(app, "Reveal next rating")
    app.switch_page("app.py").run()
    app.switch_page(SESSION).run()

    assert app.selectbox(key="session.user").value == user
    assert revealed_text(app).startswith("1 of ")


def test_session_new_user_restarts(app_env):
    app = session_page()
    click(app, "Reveal next rating")
    other = user_id(app.selectbox(key="session.user").options[1])
    app.selectbox(key="session.user").set_value(other).run()

    assert revealed_text(app).startswith("0 of ")


def test_session_order_change_keeps_progress(app_env, models_dir, sample_dataset,
                                             featured):
    from metarec.serving.recommender import Recommender
    from metarec.ui.session import session_tasks

    app = session_page()
    click(app, "Reveal next rating")
    click(app, "Reveal next rating")
    revealed = app.dataframe[0].value["title"].tolist()
    record = app.session_state["session.records"]["records"][(featured[0], 2)]
    app.radio(key="session.order").set_value("random").run()

    assert not app.exception, [e.value for e in app.exception]
    assert revealed_text(app).startswith("2 of ")
    assert app.dataframe[0].value["title"].tolist() == revealed
    # The same ratings are revealed, so the step is not adapted again.
    assert app.session_state["session.records"]["records"][(featured[0], 2)] is record
    assert any("The first 2 ratings keep the order" in c.value for c in app.caption)

    # The next rating is the first one of evaluation's random order not yet revealed.
    recommender = Recommender.load(models_dir, sample_dataset)
    task = session_tasks(recommender, sample_dataset)[app.selectbox(key="session.user").value]
    titles = sample_dataset.item_titles()
    random_titles = [titles[int(item)] for item in task.support_items]
    click(app, "Reveal next rating")
    revealed_now = app.dataframe[0].value["title"].tolist()
    assert revealed_now[1:] == revealed
    assert revealed_now[0] == next(t for t in random_titles if t not in revealed)

    click(app, "Restart")
    click(app, "Reveal next rating")
    assert app.dataframe[0].value["title"].tolist() == random_titles[:1]
    assert not any("keep the order" in c.value for c in app.caption)


def test_shared_dataset_unchanged_by_pages(app_env):
    import pandas as pd

    from metarec.data import load_movielens_100k
    from metarec.ui.state import load_dataset

    shared = load_dataset(SAMPLE_DIR)
    app = new_user_page()
    app.text_input(key="new_user.search").input("tokyo").run()
    app = click(app, "Add this persona's ratings")
    app.toggle(key="new_user.scores_chart").set_value(True).run()
    app.toggle(key="new_user.explain").set_value(True).run()
    app.switch_page(SESSION).run()
    app = click(app, "Reveal next rating")
    assert not app.exception, [e.value for e in app.exception]

    assert load_dataset(SAMPLE_DIR) is shared
    fresh = load_movielens_100k(SAMPLE_DIR)
    for table in ("ratings", "items", "users"):
        pd.testing.assert_frame_equal(getattr(shared, table), getattr(fresh, table))
    assert shared.fingerprint() == fresh.fingerprint()


# Model comparison ----------------------------------------------------------------------

COMPARISON = "pages/4_Model_comparison.py"
# The variants the Model comparison page starts with when the results have many.
FEATURED_RESULTS = ("teacher", "student", "user-bias", "mf-als", "ensemble")


@pytest.fixture(scope="module")
def results_file(models_dir, tmp_path_factory):
    from metarec.cli import main

    out = tmp_path_factory.mktemp("evaluation") / "sample"
    assert main(["evaluate", "--data", str(SAMPLE_DIR), "--models", str(models_dir),
                 "--shots", "1", "5", "all", "--out", str(out)]) == 0
    return out


def comparison_page() -> AppTest:
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)
    app.switch_page(COMPARISON)
    return app.run()


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_comparison_shows_loaded_results(app_env, results_file, variants, suffix):
    app = comparison_page()
    path = results_file.with_suffix(suffix)
    app.file_uploader(key="comparison.file").set_value(
        (path.name, path.read_bytes(), "text/plain")).run()

    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    table = app.table[0].value
    assert table.index.tolist() == [v for v in variants if v in FEATURED_RESULTS]
    assert list(table.columns) == [f"{m} K={k}" for m in ("MAE", "nDCG@3")
                                   for k in ("1", "5", "all")]
    # Two K-shot charts, the trade-off, adaptation latency.
    assert len(app.get("plotly_chart")) == 4
    # One models folder, so the long form has no intervals to promise.
    assert [b.label for b in app.get("download_button")] == [
        "Download table (CSV)", "Download long form (CSV)"]

    app.selectbox(key="comparison.tradeoff_cost").set_value("parameters").run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("Not drawn, for lack of a parameters" in c.value for c in app.caption)


def test_comparison_malformed_file_shows_error(app_env):
    app = comparison_page()
    app.file_uploader(key="comparison.file").set_value(
        ("results.csv", b"variant,mae\nteacher,0.8\n", "text/csv")).run()

    assert not app.exception, [e.value for e in app.exception]
    assert any("lacks the column(s) shots" in e.value for e in app.error)
    assert not app.table


def run_comparison(shots, variants):
    """Run an evaluation on the Model comparison page and return the page after it."""
    app = comparison_page()
    app.radio(key="comparison.source").set_value("Run an evaluation here").run()
    app.multiselect(key="comparison.shots").set_value(shots)
    app.multiselect(key="comparison.run_variants").set_value(variants).run()
    return click(app, "Run evaluation")


def test_comparison_runs_evaluation(app_env):
    app = run_comparison(["1", "5"], ["student", "user-bias"])

    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert app.table[0].value.index.tolist() == ["student", "user-bias"]
    # Two K-shot charts, the trade-off, latency and evaluation time per user.
    assert len(app.get("plotly_chart")) == 5


def test_comparison_evaluates_at_zero_ratings(app_env):
    # K=0 was missing from the choices, though `evaluate --shots 0` scores it.
    app = run_comparison(["0", "5"], ["student", "user-bias"])

    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    columns = [str(c) for c in app.table[0].value.columns]
    zero = [c for c in columns if c.endswith("K=0")]
    five = [c for c in columns if c.endswith("K=5")]
    assert zero, columns
    assert five, columns
    assert columns.index(zero[0]) < columns.index(five[0])


# Broken inputs on every page -----------------------------------------------------------

@pytest.mark.parametrize("page", [NEW_USER, SESSION, COMPARISON])
def test_incompatible_models_show_error(app_env, monkeypatch, tmp_path, page):
    (tmp_path / "manifest.json").write_text('{"format_version": 99}')
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path))
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)
    app.switch_page(page)
    app.session_state[RATINGS_KEY] = {str(SAMPLE_DIR): {1: 5.0}}
    app.run()
    if page == COMPARISON:
        app.radio(key="comparison.source").set_value("Run an evaluation here").run()

    assert not app.exception, [e.value for e in app.exception]
    assert any("format version 99" in e.value for e in app.error), [e.value for e in app.error]


@pytest.mark.parametrize("page", [NEW_USER, SESSION, COMPARISON])
def test_folder_without_data_files_shows_error(app_env, tmp_path, page):
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)
    app.switch_page(page)
    app.run()
    app.sidebar.radio(key="_widget.data.source").set_value("MovieLens-100K folder").run()
    app.sidebar.text_input(key="_widget.data.folder").input(str(tmp_path)).run()

    assert not app.exception, [e.value for e in app.exception]
    assert app.error, "no error shown for an empty data folder"


def test_comparison_survives_page_switch(app_env, results_file):
    app = comparison_page()
    path = results_file.with_suffix(".json")
    app.file_uploader(key="comparison.file").set_value(
        (path.name, path.read_bytes(), "application/json")).run()
    app.multiselect(key="comparison.metrics").set_value(["rmse"]).run()
    app.switch_page("app.py").run()
    app.switch_page(COMPARISON).run()

    assert not app.exception, [e.value for e in app.exception]
    assert any(f"Showing '{path.name}', loaded earlier" in c.value for c in app.caption)
    assert app.multiselect(key="comparison.metrics").value == ["rmse"]
    assert list(app.table[0].value.columns) == ["RMSE K=1", "RMSE K=5", "RMSE K=all"]


def test_ensemble_reuses_chosen_members(models_dir, sample_dataset):
    from metarec.serving.recommender import Recommender
    from metarec.ui.compare import compare_variants

    recommender = Recommender.load(models_dir, sample_dataset)
    members = recommender.ensemble.members
    comparison = compare_variants(recommender, {1: 5.0, 2: 4.0, 3: 1.0},
                                  [*members, "ensemble"], k=TOP_K)
    results = comparison.results
    # Members the ensemble gives no weight at this support size are not counted.
    weighted = recommender.ensemble.active_members(3)
    assert weighted
    assert results["ensemble"].seconds == pytest.approx(
        sum(results[member].seconds for member in weighted), rel=1e-12)


def test_ensemble_rejects_members_of_other_ratings(models_dir, sample_dataset):
    from metarec.serving.recommender import Recommender

    recommender = Recommender.load(models_dir, sample_dataset)
    student = recommender.adapt({1: 5.0}, "student")
    with pytest.raises(ValueError, match="adapted to other ratings"):
        recommender.adapt({1: 5.0, 2: 4.0}, "ensemble", members={"student": student})


def test_top_lists_name_what_scores_are(app_env):
    chosen = ["student", "popularity", "student-like", "user-bias"]
    app = new_user_page({1: 5.0, 2: 4.0})
    app = choose_all_variants(app, chosen)

    assert not app.exception, [e.value for e in app.exception]
    headings = [heading.value for heading in app.subheader if heading.value in chosen]
    assert headings == chosen
    tables = dict(zip(headings, (table.value for table in app.table)))
    assert "score" in tables["student"].columns
    assert "like probability" in tables["student-like"].columns
    counts = tables["popularity"]["ranking score"]
    # Popularity scores are rating counts, shown as whole numbers.
    assert all(text.replace(",", "").isdigit() for text in counts)


def test_timing_caption_text():
    from metarec.ui.views import timing_caption

    assert timing_caption(0.00001) == "adapted in under 0.1 ms"
    assert timing_caption(0.0123) == "adapted in 12.3 ms"
    assert timing_caption(0.002, ensemble=True) == (
        "adapted in 2.0 ms, the sum of its members' adaptations")


def test_parent_folder_gives_dashboard_advice(app_env, tmp_path):
    (tmp_path / "ml-100k").mkdir()
    for name in ("u.data", "u.item", "u.user"):
        (tmp_path / "ml-100k" / name).write_text("")
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()
    app.sidebar.radio(key="_widget.data.source").set_value("MovieLens-100K folder").run()
    app.sidebar.text_input(key="_widget.data.folder").input(str(tmp_path)).run()

    assert not app.exception, [e.value for e in app.exception]
    errors = [e.value for e in app.error]
    assert len(errors) == 1
    assert "These sub-folders of it do: 'ml-100k'." in errors[0]
    assert errors[0].endswith(f"Type the folder '{tmp_path / 'ml-100k'}' in 'Folder path' "
                              "in the sidebar.")
    assert "--data" not in errors[0]
    assert DATA_DIR_ENV not in errors[0]


def test_movielens_file_names_its_folder(app_env):
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()
    app.sidebar.radio(key="_widget.data.source").set_value("MovieLens-100K folder").run()
    app.sidebar.text_input(key="_widget.data.folder").input(str(SAMPLE_DIR / "u.data")).run()

    assert not app.exception, [e.value for e in app.exception]
    errors = [e.value for e in app.error]
    assert len(errors) == 1
    assert f"'{SAMPLE_DIR / 'u.data'}' is a file of the MovieLens-100K layout" in errors[0]
    assert errors[0].endswith(f"Type the folder '{SAMPLE_DIR}' in 'Folder path' in the "
                              "sidebar.")
    assert not app.sidebar.caption, "the file was loaded as a dataset"


def test_session_says_how_ratings_add_up(app_env):
    app = session_page()
    # The first user is chosen: "user 3 · 62 ratings · 52 to reveal + 10 held out · …".
    parts = app.selectbox(key="session.user").options[0].split(" · ")
    total, to_reveal = int(parts[1].split()[0]), int(parts[2].split()[0])
    held_out = int(parts[2].split("+ ")[1].split()[0])

    assert to_reveal + held_out == total
    assert revealed_text(app) == (f"0 of {to_reveal} ratings revealed; scored on the other "
                                  f"{held_out}, held out ({to_reveal} + {held_out} = {total} "
                                  "ratings in all)")


@pytest.mark.parametrize("name", ["metarec-comparison.csv", "metarec-comparison-long.csv"])
def test_comparison_loads_its_own_downloads(app_env, results_file, name):
    from metarec.ui.results import metric_table, read_results, summarise

    path = results_file.with_suffix(".csv")
    summary = summarise(read_results(path.read_bytes(), path.name))
    # The two files the page offers, as download_buttons writes them.
    table = metric_table(summary, ["mae", "ndcg@3"])
    data = table.to_csv() if name == "metarec-comparison.csv" else summary.to_csv(index=False)
    app = comparison_page()
    app.file_uploader(key="comparison.file").set_value((name, data.encode(), "text/csv")).run()

    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    loaded = app.table[0].value
    assert list(loaded.columns) == [f"{m} K={k}" for m in ("MAE", "nDCG@3")
                                    for k in ("1", "5", "all")]
    assert loaded.to_numpy() == pytest.approx(
        table.loc[loaded.index].to_numpy(), nan_ok=True)


def test_profile_add_confirms_changed_ratings(app_env, sample_dataset):
    titles = sample_dataset.item_titles()
    app = new_user_page({7: 2.0, 1: 3.0})
    upload_profile(app, "me.csv", b"item_id,rating\n1,5\n2,4\n")
    change = f"{titles[1]}: 3★ → 5★"
    assert any(change in i.value for i in app.info), [i.value for i in app.info]
    app = click(app, "Add to my ratings")

    assert not app.exception, [e.value for e in app.exception]
    assert [s.value for s in app.success] == [f"Added 1 new rating, changed 1 ({change})."]
    # The message stays in place of the prompt while the same upload stays.
    app.run()
    assert [s.value for s in app.success] == [f"Added 1 new rating, changed 1 ({change})."]
    assert not [b for b in app.button if b.label == "Add to my ratings"]


def test_profile_replace_confirms_removed_ratings(app_env, sample_dataset):
    titles = sample_dataset.item_titles()
    app = new_user_page({7: 2.0, 1: 3.0})
    app.number_input(key="new_user.age").set_value(40).run()
    upload_profile(app, "me.csv", b"item_id,rating\n1,5\n2,4\n")
    app = click(app, "Replace my profile")

    assert entered_ratings(app) == {1: 5.0, 2: 4.0}
    assert [s.value for s in app.success] == [
        f"Loaded 2 ratings in place of your 2, changed 1 ({titles[1]}: 3★ → 5★), removed 1 "
        f"({titles[7]} 2★). The file also replaced your age."]


def test_ensemble_weights_show_numbers(app_env):
    import json

    app = new_user_page({1: 5.0, 2: 4.0})
    assert "ensemble" in app.multiselect(key="new_user.variants").value
    assert len(app.dataframe) == 1
    # A progress bar cut the numbers off in a quarter of the page's width.
    config = json.loads(app.dataframe[0].proto.columns)
    assert config["weight"]["type_config"]["type"] == "number"
    assert config["weight"]["type_config"]["format"] == "%.2f"


def test_rating_stars_wrap_in_row(app_env):
    # In a column the stars scrolled out of sight at 1280 px. A wrapping row keeps their
    # width and moves them below the title when the page is narrow.
    app = new_user_page({1: 5.0, 2: 4.0})
    parents = {}

    def walk(node):
        for child in getattr(node, "children", {}).values():
            if getattr(child, "type", None) == "button_group":
                parents[child.key] = node
            walk(child)

    walk(app.main)
    for item in (1, 2):
        row = parents[f"new_user.rating.{item}"].proto.flex_container
        assert row.direction == row.Direction.HORIZONTAL
        assert row.wrap


def draw_two_top_lists():
    import pandas as pd

    from metarec.ui.compare import VariantResult
    from metarec.ui.views import top_lists

    def result(variant, scores):
        top = pd.DataFrame({"rank": [1, 2, 3], "item_id": [1, 2, 3],
                            "title": ["A", "B", "C"], "score": scores})
        return VariantResult(variant, top, [], 0.001, {})

    top_lists({"tied": result("tied", [5.0, 5.0, 4.2]),
               "distinct": result("distinct", [4.9, 4.5, 4.2])})


def test_tied_scores_get_a_note():
    from metarec.ui.views import tied_scores_note

    app = AppTest.from_function(draw_two_top_lists).run()
    assert not app.exception
    notes = [caption.value for caption in app.caption
             if caption.value == tied_scores_note(["5.00", "5.00"])]
    assert len(notes) == 1


def test_comparison_new_file_keeps_pickers_filled(app_env, results_file, tmp_path):
    import pandas as pd

    app = comparison_page()
    first = results_file.with_suffix(".csv")
    app.file_uploader(key="comparison.file").set_value(
        (first.name, first.read_bytes(), "text/plain")).run()
    # A second file whose variants share no name with the first one's.
    renamed = pd.read_csv(first)
    renamed["variant"] = "other-" + renamed["variant"]
    second = tmp_path / "other.csv"
    renamed.to_csv(second, index=False)
    app.file_uploader(key="comparison.file").set_value(
        (second.name, second.read_bytes(), "text/plain")).run()

    assert not app.exception, [e.value for e in app.exception]
    assert app.multiselect(key="comparison.metrics").value
    chosen = app.multiselect(key="comparison.variants").value
    assert chosen
    assert all(name.startswith("other-") for name in chosen)
    assert app.table
