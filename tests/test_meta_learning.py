"""Properties of the inner loop, the meta-gradient, distillation and serving."""

import json

import numpy as np
import pytest
import torch

from metarec.data.features import FeatureEncoder
from metarec.meta.batching import collate
from metarec.meta.inner_loop import adapt, masked_mse
from metarec.meta.training import TrainConfig, TrainingError, meta_train
from metarec.models.baselines import UserBiasBaseline
from metarec.models.prior import ItemPrior
from metarec.models.variants import VariantSpec, build_learner
from metarec.serving.recommender import Recommender
from metarec.serving.store import ModelsDirectoryError
from metarec.tasks import make_tasks, split_users

# Relative tolerance for "the same prediction" after a save and reload.
SAME = 1e-6


@pytest.fixture(scope="module")
def parts(sample_dataset):
    split = split_users(sample_dataset.users["user_id"], seed=0)
    train = split.ratings_of(sample_dataset.ratings, "train")
    encoder = FeatureEncoder.from_dataset(sample_dataset)
    baseline = UserBiasBaseline().fit(train)
    return {
        "split": split,
        "train": train,
        "validation": split.ratings_of(sample_dataset.ratings, "validation"),
        "encoder": encoder,
        "users": encoder.encode_users(sample_dataset.users),
        "items": encoder.item_feature_table(sample_dataset.items),
        "prior": ItemPrior.from_baseline(baseline, encoder),
    }


def make_learner(parts, algorithm="maml", dim=8, hidden=(16,), adapt_group="personal+decision",
                 seed=0):
    torch.manual_seed(seed)
    spec = VariantSpec(network={"dim": dim, "hidden": hidden},
                       learner={"adapt": adapt_group, "algorithm": algorithm,
                                "inner_steps": 3, "inner_lr": 0.1})
    return build_learner(spec, parts["encoder"], parts["items"], parts["prior"])


def batch_of(parts, shots=5, n=16):
    tasks = make_tasks(parts["train"], parts["split"].train, shots)[:n]
    return collate(tasks, parts["encoder"], parts["users"], parts["prior"])


def randomise_residual(learner, seed=1):
    # A fresh network predicts exactly the bias model; give the residual some weight so
    # that gradients reach every layer.
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in learner.net.decision.parameters():
            parameter.copy_(0.3 * torch.randn(parameter.shape, generator=generator))


def test_one_inner_step_lowers_support_loss(parts):
    learner = make_learner(parts)
    randomise_residual(learner)
    batch = batch_of(parts, shots=10, n=1)
    params = learner.initial_params()
    _, losses = adapt(learner.net, params, learner.adapted_names, learner.inner_lrs(),
                      batch["user_features"][0], batch["support_rows"][0],
                      batch["support_targets"][0], batch["support_mask"][0], steps=1)
    assert losses[1] < losses[0]


@pytest.mark.parametrize("algorithm", ["maml", "fomaml", "metasgd"])
def test_meta_gradient_reaches_initial_parameters(parts, algorithm):
    learner = make_learner(parts, algorithm=algorithm)
    randomise_residual(learner)
    batch = batch_of(parts)
    scores, _, _ = learner.adapt_and_predict(batch)
    masked_mse(scores, batch["query_targets"], batch["query_mask"]).backward()
    net = learner.net
    for name in ("user_embedding", "user_bias", "decision.0.weight", "item_embedding.weight",
                 "user_encoder.weight"):
        grad = dict(net.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name
    lr_grads = [p.grad for p in learner.log_inner_lrs.values()]
    if algorithm == "metasgd":
        assert all(g is not None and g.abs().sum() > 0 for g in lr_grads)
    else:
        assert all(g is None for g in lr_grads)


def test_second_order_differs_from_first_order(parts):
    learner = make_learner(parts)
    randomise_residual(learner)
    batch = batch_of(parts)
    grads = {}
    for first_order in (False, True):
        learner.zero_grad()
        scores, _, _ = learner.adapt_and_predict(batch, first_order=first_order)
        masked_mse(scores, batch["query_targets"], batch["query_mask"]).backward()
        grads[first_order] = learner.net.user_encoder.weight.grad.clone()
    # The second-order term is what MAML adds over first-order MAML: it must not vanish.
    assert not torch.allclose(grads[False], grads[True])


def test_adaptation_leaves_weights_untouched(parts):
    learner = make_learner(parts)
    before = {k: v.clone() for k, v in learner.state_dict().items()}
    with torch.no_grad():
        learner.adapt_and_predict(batch_of(parts))
    for name, value in learner.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_distillation_moves_student_toward_teacher(parts):
    teacher = make_learner(parts, dim=16, hidden=(32,), seed=1)
    randomise_residual(teacher, seed=7)
    teacher.requires_grad_(False)
    batch = batch_of(parts, n=64)

    def gap(student):
        with torch.no_grad():
            s, _, _ = student.adapt_and_predict(batch)
            t, _, _ = teacher.adapt_and_predict(batch)
        return masked_mse(s, t, batch["query_mask"]).item()

    gaps = {}
    for weight in (0.0, 5.0):
        student = make_learner(parts, seed=2)
        config = TrainConfig(epochs=3, patience=10, distill_weight=weight,
                             distill_catalogue_weight=weight)
        meta_train(student, parts["train"], parts["validation"], parts["encoder"],
                   parts["users"], parts["prior"], config,
                   teacher=teacher if weight else None)
        gaps[weight] = gap(student)
    assert gaps[5.0] < 0.8 * gaps[0.0]


def test_nan_loss_stops_training(parts):
    learner = make_learner(parts)
    with torch.no_grad():
        learner.net.offset.fill_(float("nan"))
    with pytest.raises(TrainingError, match="meta-loss became nan"):
        meta_train(learner, parts["train"], parts["validation"], parts["encoder"],
                   parts["users"], parts["prior"], TrainConfig(epochs=1))


def test_frozen_loss_stops_training(parts):
    # With a zero meta learning rate nothing moves, and with one user who rated two items
    # 4 stars against a flat prior, every epoch draws an equivalent task: the meta-loss
    # repeats exactly, which is what a dead network looks like.
    flat = {**parts, "prior": ItemPrior(np.full(parts["encoder"].n_items + 1, 3.0), 5.0)}
    learner = make_learner(flat)
    user = parts["split"].train[0]
    two = parts["train"][parts["train"]["user_id"] == user].head(2).assign(rating=4.0)
    config = TrainConfig(epochs=5, meta_lr=0.0, stall_epochs=2, patience=10)
    with pytest.raises(TrainingError, match="stayed at"):
        meta_train(learner, two, parts["validation"], parts["encoder"], parts["users"],
                   flat["prior"], config)


def test_training_never_reads_held_out_users(sample_dataset, tmp_path):
    """Changing every test user's ratings leaves the trained weights unchanged."""
    from metarec.pipeline import train_models

    spec = {"small": VariantSpec(network={"dim": 4, "hidden": (8,)},
                                 learner={"adapt": "personal", "algorithm": "maml",
                                          "inner_steps": 1, "inner_lr": 0.1},
                                 train=TrainConfig(epochs=1))}
    split = split_users(sample_dataset.ratings["user_id"].unique(), seed=0)
    changed = sample_dataset.ratings.copy()
    held_out = changed["user_id"].isin(split.test)
    changed.loc[held_out, "rating"] = 6.0 - changed.loc[held_out, "rating"]
    from dataclasses import replace
    other = replace(sample_dataset, ratings=changed)

    weights = []
    for dataset, out in ((sample_dataset, tmp_path / "a"), (other, tmp_path / "b")):
        train_models(dataset, out, seed=0, variants=spec)
        weights.append(torch.load(out / "small.pt", weights_only=True))
    for name in weights[0]:
        assert torch.equal(weights[0][name], weights[1][name]), name


def test_recommender_adapts_every_variant(tiny_models, sample_dataset):
    recommender = Recommender.load(tiny_models, sample_dataset)
    ratings = {1: 5, 2: 4, 3: 1}
    for variant in recommender.variants:
        result = recommender.adapt(ratings, variant, user={"age": 30, "gender": "F"})
        top = result.top_k(10)
        assert len(top) == 10, variant
        assert not set(top["item_id"]) & set(ratings), variant
        assert top["score"].is_monotonic_decreasing, variant
        if not recommender.is_ranker(variant):
            assert len(result.support_losses) >= 1, variant


def test_same_input_twice_gives_same_output(tiny_models, sample_dataset):
    recommender = Recommender.load(tiny_models, sample_dataset)
    weights = {k: v.clone() for k, v in recommender.learners["student"].state_dict().items()}
    items = recommender.item_ids[:50]
    first = recommender.adapt({5: 5, 6: 2}, "student").predict(items)
    recommender.adapt({7: 1, 8: 1, 9: 1}, "student")
    second = recommender.adapt({5: 5, 6: 2}, "student").predict(items)
    np.testing.assert_array_equal(first, second)
    for name, value in recommender.learners["student"].state_dict().items():
        assert torch.equal(value, weights[name]), name


def test_save_and_reload_give_identical_predictions(tiny_models, sample_dataset):
    a = Recommender.load(tiny_models, sample_dataset)
    b = Recommender.load(tiny_models, sample_dataset)
    for variant in a.variants:
        pa = a.adapt({1: 4, 2: 2}, variant).predict(a.item_ids)
        pb = b.adapt({1: 4, 2: 2}, variant).predict(b.item_ids)
        np.testing.assert_allclose(pa, pb, rtol=SAME)


def test_adaptation_changes_predictions(tiny_models, sample_dataset):
    recommender = Recommender.load(tiny_models, sample_dataset)
    items = recommender.item_ids
    lover = recommender.adapt({1: 5, 2: 5, 3: 5}, "student").predict(items)
    hater = recommender.adapt({1: 1, 2: 1, 3: 1}, "student").predict(items)
    assert lover.mean() > hater.mean() + 0.2


@pytest.mark.parametrize("ratings, message", [
    ({1: 6}, "between 1 and 5; got 6 for item 1"),
    ({99999: 4}, r"item ids \[99999\] are not in the catalogue"),
    ({"film3": 4}, r"whole-number item ids, got \['film3'\].*dataset.item_ids_for"),
])
def test_bad_ratings_are_rejected(tiny_models, ratings, message):
    recommender = Recommender.load(tiny_models)
    with pytest.raises(ValueError, match=message):
        recommender.adapt(ratings, "student")


def test_unknown_variant_is_rejected(tiny_models):
    with pytest.raises(ValueError, match="unknown variant 'giant'"):
        Recommender.load(tiny_models).adapt({1: 4}, "giant")


def test_models_for_other_data_are_rejected(tiny_models, sample_dataset):
    from dataclasses import replace

    other = replace(sample_dataset, name="other", ratings=sample_dataset.ratings.iloc[:-1])
    with pytest.raises(ModelsDirectoryError, match="were trained on 'sample_data'"):
        Recommender.load(tiny_models, other)


def test_missing_models_directory_names_the_fix(tmp_path):
    with pytest.raises(ModelsDirectoryError, match="python -m metarec train"):
        Recommender.load(tmp_path)


@pytest.mark.parametrize("user, message", [
    ({"age": "abc"}, "age must be a number of years, got 'abc'"),
    ({"age": 300}, "age must be between 1 and 120, got 300"),
    ({"gender": "X"}, "gender must be 'M' or 'F'"),
    ({"occupation": "astronaut"}, "occupation 'astronaut' is not one of"),
    ({"height": 180}, r"unknown user fields \['height'\]"),
])
def test_bad_demographics_are_rejected(tiny_models, user, message):
    with pytest.raises(ValueError, match=message):
        Recommender.load(tiny_models).adapt({1: 4}, "student", user=user)


def test_empty_profile_predicts_from_the_prior(tiny_models):
    recommender = Recommender.load(tiny_models)
    for variant in ("student", "user-bias", "ensemble"):
        result = recommender.adapt({}, variant, user={"age": 30})
        assert result.support_losses == []
        assert len(result.top_k(5)) == 5


def test_ranking_baselines_report_no_rating_loss(tiny_models):
    recommender = Recommender.load(tiny_models)
    assert recommender.is_ranker("popularity")
    assert not recommender.is_ranker("student")
    with pytest.raises(ValueError, match="unknown variant 'Student'; choose one of"):
        recommender.is_ranker("Student")
    result = recommender.adapt({1: 4, 2: 5}, "popularity")
    assert result.support_losses == []
    assert result.is_ranker


def test_top_k_ranks_by_unclipped_scores(tiny_models):
    recommender = Recommender.load(tiny_models)
    result = recommender.adapt({1: 5}, "student")
    # Pretend every item scores above the scale: the displayed scores clip to 5, but
    # the order must still follow the raw scores.
    raw = np.linspace(9.0, 6.0, len(recommender.item_ids))
    result._scorer = lambda ids: raw[np.searchsorted(recommender.item_ids, ids)]
    top = result.top_k(5)
    assert (top["score"] == 5.0).all()
    expected = [i for i in recommender.item_ids if i != 1][:5]
    assert top["item_id"].tolist() == expected
    ids = recommender.item_ids[:3]
    np.testing.assert_array_equal(result.predict(ids), [5.0, 5.0, 5.0])
    np.testing.assert_allclose(result.predict(ids, clip=False), raw[:3])


def test_like_variant_gives_like_probabilities(tiny_models, sample_dataset):
    recommender = Recommender.load(tiny_models, sample_dataset)
    assert recommender.is_ranker("student-like")
    adaptation = recommender.adapt({1: 5.0, 2: 1.0, 3: 4.0}, "student-like")
    scores = adaptation.predict(recommender.item_ids)
    assert ((scores > 0) & (scores < 1)).all()
    assert len(adaptation.support_losses) == recommender.learners["student-like"].steps_for(3) + 1


def test_serve_steps_are_chosen_on_validation(tiny_models):
    manifest = json.loads((tiny_models / "manifest.json").read_text())
    for name, entry in manifest["variants"].items():
        if entry["kind"] != "meta":
            continue
        table = entry["serve_step_errors"]
        schedule = entry["spec"]["learner"]["serve_schedule"]
        # One schedule entry per validation group, in increasing support size.
        assert len(schedule) == len(table), name
        assert [lower for lower, _ in schedule] == sorted(lower for lower, _ in schedule)
        assert schedule[0][0] == 0
        for (_, chosen), size in zip(schedule, sorted(table, key=int)):
            errors = {int(k): v for k, v in table[size].items()}
            # The cheapest count within the tolerance of the group's best one.
            assert errors[chosen] <= min(errors.values()) + 1e-3
            assert all(errors[s] > min(errors.values()) + 1e-3 for s in errors if s < chosen)


def test_serving_follows_the_schedule(tiny_models, sample_dataset):
    recommender = Recommender.load(tiny_models, sample_dataset)
    learner = recommender.learners["student"]
    saved = learner.serve_schedule
    learner.serve_schedule = [[0, 1], [3, 4]]
    try:
        assert learner.steps_for(0) == 1
        assert learner.steps_for(2) == 1
        assert learner.steps_for(3) == 4
        assert learner.steps_for(50) == 4
        two = recommender.adapt({1: 5.0, 2: 1.0}, "student")
        three = recommender.adapt({1: 5.0, 2: 1.0, 3: 4.0}, "student")
        assert len(two.support_losses) == 2
        assert len(three.support_losses) == 5
    finally:
        learner.serve_schedule = saved


def test_listwise_distillation_compares_orderings():
    from metarec.meta.training import listwise_distillation

    teacher = torch.tensor([[3.0, 1.0, 2.0], [0.5, 0.0, 4.0]])
    assert listwise_distillation(teacher, teacher).item() == pytest.approx(0.0, abs=1e-6)
    # A constant shift leaves the softmax, and so the loss, unchanged.
    assert listwise_distillation(teacher + 2.0, teacher).item() == pytest.approx(0.0, abs=1e-6)
    reversed_order = listwise_distillation(teacher.flip(-1), teacher).item()
    assert reversed_order > 0.1


@pytest.mark.parametrize("item_ids, message", [
    ([1, 0], r"item ids \[0\] are not in the catalogue"),
    ([-5, 10**9], r"item ids \[-5, 1000000000\] are not in the catalogue"),
    ([1.7], r"whole-number item ids, got \[1.7\]"),
    (["film3"], r"whole-number item ids, got \['film3'\]"),
])
def test_predict_rejects_ids_outside_the_catalogue(tiny_models, item_ids, message):
    adaptation = Recommender.load(tiny_models).adapt({1: 5}, "student")
    with pytest.raises(ValueError, match=message):
        adaptation.predict(item_ids)


def test_predict_takes_whole_numbers_of_any_type(tiny_models):
    adaptation = Recommender.load(tiny_models).adapt({1: 5}, "student")
    expected = adaptation.predict(np.array([1, 2], dtype=np.int64))
    np.testing.assert_array_equal(adaptation.predict([1.0, 2.0]), expected)
    np.testing.assert_array_equal(adaptation.predict(np.array([1, 2], dtype=np.int32)),
                                  expected)


def test_own_csv_ids_map_to_item_ids(tmp_path):
    from metarec.data import load_csv_dataset

    path = tmp_path / "ratings.csv"
    path.write_text("user_id,item_id,rating\nana,film-b,4\nana,film-a,2\nbo,film-a,5\n")
    dataset = load_csv_dataset(path)
    ids = dataset.item_ids_for(["film-a", "film-b"])
    titles = dataset.items.set_index("item_id")["original_id"]
    assert [titles[i] for i in ids] == ["film-a", "film-b"]
    assert dataset.user_ids_for(["bo"]) == dataset.users.loc[
        dataset.users["original_id"] == "bo", "user_id"].tolist()
    with pytest.raises(ValueError, match=r"\['film-z'\] is not an id of the dataset's items"):
        dataset.item_ids_for(["film-z"])
    # The message shows what the ids look like and where to find them.
    with pytest.raises(ValueError) as error:
        dataset.item_ids_for(["film-y", "film-z"])
    message = str(error.value)
    assert message.startswith("['film-y', 'film-z'] are not ids of the dataset's items (2 items, "
                              "such as 'film-")
    assert message.endswith("the ids are the original_id column of dataset.items")


def test_movielens_ids_map_to_themselves(sample_dataset):
    assert sample_dataset.item_ids_for([3, "7"]) == [3, 7]
