"""Dashboard pages on data with string ids of its own, and what the pages show of results."""

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from metarec.cli import MODELS_DIR_ENV
from metarec.data.movielens import DATA_DIR_ENV
from page_helpers import APP, click

COMPARISON = "pages/4_Model_comparison.py"
RUN_TIMEOUT = 60
GENRES = ("Sci-Fi", "Drama", "Mystery")


@pytest.fixture(scope="module")
def own_dataset(tmp_path_factory):
    """Twelve books and six readers with ids of their own, such as 'BK-0003' and 'uc002'."""
    from metarec.data.custom import load_csv_dataset

    folder = tmp_path_factory.mktemp("own-ids")
    items = pd.DataFrame({"item_id": [f"BK-{i:04d}" for i in range(1, 13)],
                          "title": [f"Book {i}" for i in range(1, 13)],
                          "genres": [GENRES[i % 3] for i in range(1, 13)]})
    users = pd.DataFrame({"user_id": [f"u{c}00{n}" for c in "abc" for n in (1, 2)],
                          "age": [23, 35, 41, 19, 60, 28], "gender": list("MFMFMF"),
                          "occupation": ["engineer", "student"] * 3})
    rows = [(user, item, 1 + (position + step) % 5, 1_600_000_000 + step)
            for position, user in enumerate(users["user_id"])
            for step, item in enumerate(items["item_id"])]
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    paths = {}
    for name, frame in (("ratings", ratings), ("items", items), ("users", users)):
        paths[name] = folder / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return load_csv_dataset(paths["ratings"], paths["items"], paths["users"])


# Own ids ---------------------------------------------------------------------------------

def test_user_label_shows_own_id(own_dataset):
    from metarec.ui.item_controls import user_label

    users = own_dataset.users.set_index("user_id")
    [internal] = own_dataset.user_ids_for(["ub002"])
    assert user_label(users, internal) == "user ub002 · 19 F student"


def test_user_label_movielens_id(sample_dataset):
    from metarec.ui.item_controls import user_label

    users = sample_dataset.users.set_index("user_id")
    assert user_label(users, 3).startswith("user 3 · ")


def test_audience_labels_show_own_id(own_dataset):
    from metarec.ui.item_views import _labels

    users = own_dataset.users.set_index("user_id")
    top = pd.DataFrame({"user_id": own_dataset.user_ids_for(["uc001", "ua002"])})
    assert _labels(top, users) == ["user uc001 · 60 M engineer", "user ua002 · 35 F student"]


def test_session_label_own_id_and_age(own_dataset):
    from metarec.ui.session import session_users

    [internal] = own_dataset.user_ids_for(["ua001"])
    tasks = {internal: SimpleNamespace(shots=2, query_items=np.arange(10))}
    [label] = session_users(tasks, own_dataset)["label"]
    assert label == ("user ua001 · 12 ratings · 2 to reveal + 10 held out · M, 23, engineer"
                     " · not scored by evaluate (under 13 ratings)")


def test_session_plan_age_is_whole(own_dataset):
    from metarec.ui.session import _demographics

    users = own_dataset.users.set_index("user_id")
    [internal] = own_dataset.user_ids_for(["ua001"])
    age = _demographics(users, internal)["age"]
    assert age == 23
    assert isinstance(age, int)


def test_profile_csv_writes_own_ids(own_dataset):
    from metarec.ui.profile_io import profile_csv

    [internal] = own_dataset.item_ids_for(["BK-0003"])
    lines = profile_csv(own_dataset, {internal: 5.0}).splitlines()
    assert lines == ["item_id,title,rating", "BK-0003,Book 3,5"]


def test_profile_json_writes_own_ids(own_dataset):
    from metarec.ui.profile_io import profile_json

    [internal] = own_dataset.item_ids_for(["BK-0003"])
    document = json.loads(profile_json(own_dataset, {internal: 4.0}))
    assert document["ratings"] == [{"item_id": "BK-0003", "title": "Book 3", "rating": 4}]


def test_profile_round_trip_own_ids(own_dataset):
    from metarec.ui.profile_io import profile_csv, profile_json, read_profile

    ratings = dict(zip(own_dataset.item_ids_for(["BK-0001", "BK-0012"]), (2.0, 5.0)))
    from_csv = read_profile(profile_csv(own_dataset, ratings).encode(), "p.csv", own_dataset)
    from_json = read_profile(profile_json(own_dataset, ratings).encode(), "p.json",
                             own_dataset)
    assert from_csv.ratings == ratings
    assert from_json.ratings == ratings


def test_profile_reads_own_id(own_dataset):
    from metarec.ui.profile_io import read_profile

    loaded = read_profile(b"item_id,rating\nBK-0001,2\n", "p.csv", own_dataset)
    assert loaded.ratings == {own_dataset.item_ids_for(["BK-0001"])[0]: 2.0}


def test_profile_reads_internal_number(own_dataset):
    from metarec.ui.profile_io import read_profile

    [internal] = own_dataset.item_ids_for(["BK-0005"])
    loaded = read_profile(f"item_id,title,rating\n{internal},Book 5,3\n".encode(), "p.csv",
                          own_dataset)
    assert loaded.ratings == {internal: 3.0}


def test_profile_unknown_own_id_raises(own_dataset):
    from metarec.ui.profile_io import ProfileError, read_profile

    with pytest.raises(ProfileError, match="line 2: item BK-9999 is not in the catalogue"):
        read_profile(b"item_id,rating\nBK-9999,2\n", "p.csv", own_dataset)


@pytest.fixture
def mixed_ids(tmp_path):
    """Items 'A', '3' and 'C': '3' is then the second item's own id and the third's number."""
    from metarec.data.custom import load_csv_dataset

    ratings = tmp_path / "ratings.csv"
    ratings.write_text("user_id,item_id,rating\nu,A,1\nu,3,2\nu,C,3\nv,A,4\n")
    items = tmp_path / "items.csv"
    items.write_text("item_id,title\nA,Alpha\n3,Beta\nC,Gamma\n")
    return load_csv_dataset(ratings, items)


def test_ambiguous_id_follows_title(mixed_ids):
    from metarec.ui.profile_io import read_profile

    [beta, gamma] = mixed_ids.item_ids_for(["3", "C"])
    assert gamma == 3
    by_own_id = read_profile(b"item_id,title,rating\n3,Beta,5\n", "p.csv", mixed_ids)
    by_number = read_profile(b"item_id,title,rating\n3,Gamma,5\n", "p.csv", mixed_ids)
    assert by_own_id.ratings == {beta: 5.0}
    assert by_number.ratings == {gamma: 5.0}


def test_ambiguous_id_without_title_raises(mixed_ids):
    from metarec.ui.profile_io import ProfileError, read_profile

    with pytest.raises(ProfileError, match="item_id 3 is the id of 'Beta' but also the "
                                           "internal number of 'Gamma'"):
        read_profile(b"item_id,rating\n3,5\n", "p.csv", mixed_ids)


# Model comparison --------------------------------------------------------------------

def _results(path, shots_users, variants, entity="users", scenario="new-user"):
    """Write evaluate --out style results: ``shots_users`` maps K to the users scored."""
    rows = [{"split_seed": 0, "variant": variant, "shots": shots, entity: users,
             "mae": 0.8 + 0.01 * position, "ndcg@3": 0.7}
            for shots, users in shots_users.items()
            for position, variant in enumerate(variants)]
    path.with_suffix(".csv").write_text(pd.DataFrame(rows).to_csv(index=False))
    path.with_suffix(".json").write_text(json.dumps(
        {"dataset": "sample_data", "scenario": scenario, "users": "test",
         "results": rows}))
    return path


USER_VARIANTS = ["teacher", "student", "finetune", "melu-1", "user-bias", "mf-als",
                 "item-mean", "ensemble"]
ITEM_VARIANTS = ["teacher", "student", "global-mean", "genre-mean", "user-bias",
                 "content-only", "ensemble"]


@pytest.fixture
def comparison_env(tmp_path, monkeypatch):
    # No models: the page shows loaded results without them.
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "no-models"))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    return tmp_path


def _load(app, path):
    app.file_uploader(key="comparison.file").set_value(
        (path.name, path.read_bytes(), "text/plain")).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _comparison_page():
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)
    app.switch_page(COMPARISON)
    return app.run()


def test_counts_per_shot_in_caption(comparison_env):
    results = _results(comparison_env / "few", {"1": 15, "5": 15, "20": 4}, USER_VARIANTS)
    app = _load(_comparison_page(), results.with_suffix(".json"))
    captions = [caption.value for caption in app.caption]
    assert any("test users per support size (K=1: 15, K=5: 15, K=20: 4)" in text
               for text in captions), captions
    assert any(text.startswith("Shaded: support sizes scored on fewer than 90% as many "
                               "users as the largest count (15): K=20 on 4.")
               for text in captions), captions


def test_kshot_figure_shades_few_users():
    from metarec.ui.evaluation_charts import kshot_figure

    summary = pd.DataFrame({"variant": "teacher", "shots": ["1", "5", "20"],
                            "mean": [0.7, 0.8, 0.6], "ci95": np.nan})
    figure = kshot_figure(summary, "ndcg@3", counts={"1": 15, "5": 15, "20": 4})
    [trace] = figure.data
    assert list(trace.x) == ["K=1<br>15 users", "K=5<br>15 users", "K=20<br>4 users"]
    [band] = figure.layout.shapes
    assert (band.x0, band.x1) == (1.5, 2.5)


def test_item_results_say_items(comparison_env):
    results = _results(comparison_env / "items", {"1": 6, "5": 6}, ITEM_VARIANTS,
                       entity="items", scenario="new-item")
    app = _load(_comparison_page(), results.with_suffix(".json"))
    captions = [caption.value for caption in app.caption]
    assert any("scenario new-item, test items per support size (K=1: 6, K=5: 6)" in text
               for text in captions), captions
    assert not any("test users" in text for text in captions), captions


def test_item_results_csv_counts_items(comparison_env):
    from metarec.ui.results import read_results

    path = _results(comparison_env / "items", {"1": 6, "all": 5}, ITEM_VARIANTS,
                    entity="items", scenario="new-item").with_suffix(".csv")
    results = read_results(path.read_bytes(), path.name)
    assert results.entity == "items"
    assert results.counts() == {"1": 6, "all": 5}


def test_defaults_same_after_other_file(comparison_env):
    items = _results(comparison_env / "items", {"1": 6}, ITEM_VARIANTS, entity="items",
                     scenario="new-item")
    users = _results(comparison_env / "users", {"1": 15}, USER_VARIANTS)
    fresh = _load(_comparison_page(), users.with_suffix(".json"))
    expected = fresh.multiselect(key="comparison.variants").value
    assert "mf-als" in expected

    app = _load(_comparison_page(), items.with_suffix(".json"))
    _load(app, users.with_suffix(".csv"))
    assert app.multiselect(key="comparison.variants").value == expected


# Personas ----------------------------------------------------------------------------

def test_personas_offered_for_own_genres(own_dataset):
    from metarec.ui.personas import available_personas

    # The data has Sci-Fi and Drama, but no Action, Thriller, Children's or Animation.
    assert available_personas(own_dataset) == ["Sci-fi fan", "Romance lover"]


def test_sci_fi_fan_without_adventure(own_dataset):
    from metarec.ui.personas import persona_ratings

    ratings = persona_ratings(own_dataset, "Sci-fi fan", n_loved=2, n_disliked=0)
    sci_fi = set(own_dataset.items.loc[own_dataset.items["genres"].map(
        lambda genres: "Sci-Fi" in genres), "item_id"])
    assert len(ratings) == 2
    assert set(ratings) <= sci_fi


def test_persona_message_lists_plainly(own_dataset):
    from metarec.ui.personas import persona_ratings

    with pytest.raises(ValueError) as raised:
        persona_ratings(own_dataset, "Kids' films")
    message = str(raised.value)
    assert "loves the genres Children's, Animation, and" in message, message
    assert "[" not in message
    assert "rate items one by one" in message


def test_new_user_page_personas(own_dataset, tmp_path, monkeypatch):
    from pathlib import Path

    monkeypatch.setenv(DATA_DIR_ENV, str(Path(own_dataset.source).parent))
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "no-models"))
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)
    app.switch_page("pages/1_New_user.py")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.selectbox(key="new_user.persona").options == ["Sci-fi fan", "Romance lover"]
    assert app.caption[0].value.startswith("Rate a few items, or start from a persona.")

    click(app, "Add this persona's ratings")
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    [ratings] = app.session_state["new_user.ratings"].values()
    # The four Sci-Fi books, most rated first; the data has no Romance to dislike.
    loved = own_dataset.item_ids_for(["BK-0003", "BK-0006", "BK-0009", "BK-0012"])
    assert ratings == dict(zip(loved, (5.0, 4.0, 5.0, 4.0)))


def test_item_noun(own_dataset, sample_dataset):
    from metarec.ui.personas import item_noun

    assert item_noun(own_dataset) == "item"
    assert item_noun(sample_dataset) == "movie"


# Support-loss charts -----------------------------------------------------------------

def test_curves_axis_title_has_room():
    from metarec.ui.charts import curves_figure

    curves = pd.DataFrame({"variant": "teacher", "step": [0, 1, 2], "loss": [1.0, 0.8, 0.7]})
    layout = curves_figure(curves).layout
    assert layout.yaxis.automargin is True
    assert layout.margin.l >= 60


def test_curves_flat_label():
    from metarec.ui.charts import curves_figure

    curves = pd.DataFrame({"variant": ["teacher"] * 3 + ["ensemble"], "step": [0, 1, 2, 0],
                           "loss": [1.0, 0.8, 0.7, 0.75]})
    names = [trace.name for trace in curves_figure(
        curves, flat_labels={"ensemble": "blend of adapted members"}).data]
    assert names == ["teacher", "ensemble (blend of adapted members)"]


def draw_item_curves():
    import pandas as pd

    from metarec.data import load_movielens_100k
    from metarec.cli import SAMPLE_DIR
    from metarec.ui.item_compare import ItemComparison, ItemVariantResult
    from metarec.ui.item_views import comparison_charts

    top = pd.DataFrame({"rank": [1], "user_id": [1], "age": [30.0], "gender": ["F"],
                        "occupation": ["other"], "predicted": [4.0], "usual": [3.5],
                        "lift": [0.5]})
    results = {
        "teacher": ItemVariantResult("teacher", top, [1.0, 0.8, 0.6], 0.01, {}),
        "ensemble": ItemVariantResult("ensemble", top, [0.6], 0.01,
                                      {"teacher": 1.0, "user-bias": 0.0}),
    }
    predictions = pd.DataFrame({"variant": ["teacher", "teacher", "ensemble", "ensemble"],
                                "user_id": [1, 2, 1, 2], "predicted": [4.0, 3.0, 4.0, 3.0]})
    groups = pd.DataFrame({"variant": ["teacher"], "group": ["gender"], "value": ["F"],
                           "users": [2], "mean predicted": [3.5]})
    comparison = ItemComparison(results, predictions, groups, 0.001)
    comparison_charts(comparison, ["teacher", "ensemble"], (1.0, 5.0), 2, "test",
                      load_movielens_100k(SAMPLE_DIR))


def test_item_ensemble_follows_teacher():
    app = AppTest.from_function(draw_item_curves, default_timeout=RUN_TIMEOUT).run()
    assert not app.exception, [e.value for e in app.exception]
    specs = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    curves = [spec for spec in specs
              if spec["layout"]["title"]["text"] == "Support loss during adaptation"]
    assert [trace["name"] for trace in curves[0]["data"]] == ["teacher"]
    assert any("gives teacher all its weight for 2 ratings, so it adapts exactly as "
               "teacher does" in caption.value for caption in app.caption)


# Top audience ------------------------------------------------------------------------

def test_audience_ranked_by_lift():
    from metarec.ui.item_compare import audience_top

    predictions = pd.DataFrame({"user_id": [1, 2, 3, 4], "rated": [False] * 3 + [True],
                                "predicted": [4.8, 3.9, 3.0, 5.0]})
    # User 1 rates everything high, user 2 is picky, user 4 already rated the item.
    usual = pd.Series([4.7, 3.0, 3.2, 2.0], index=[1, 2, 3, 4])
    top = audience_top(predictions, usual, k=3)
    assert top["user_id"].tolist() == [2, 1, 3]
    assert top["rank"].tolist() == [1, 2, 3]
    assert top["predicted"].tolist() == [3.9, 4.8, 3.0]
    assert np.allclose(top["lift"], [0.9, 0.1, -0.2])


def test_audience_without_usual_ratings():
    from metarec.ui.item_compare import audience_top

    predictions = pd.DataFrame({"user_id": [1, 2], "rated": [False, False],
                                "predicted": [3.0, 4.0]})
    top = audience_top(predictions, None, k=2)
    assert top["user_id"].tolist() == [2, 1]
    assert top["lift"].isna().all()
