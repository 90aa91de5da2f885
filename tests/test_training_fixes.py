"""Divergence during meta-training, the CLI's training errors and original item ids."""

import copy
import logging
from dataclasses import replace

import numpy as np
import pytest
import torch

from metarec.cli import main
from metarec.data import load_dataset
from metarec.data.features import FeatureEncoder
from metarec.meta import training
from metarec.meta.training import TrainConfig, TrainingError, meta_train
from metarec.models.baselines import UserBiasBaseline
from metarec.models.prior import ItemPrior
from metarec.models.variants import VariantSpec, build_learner
from metarec.serving.recommender import Recommender
from metarec.tasks import split_users

# A few epochs and no serving-step search keep each run short.
SHORT = TrainConfig(epochs=3, patience=10, serve_step_candidates=())
SMALL_SPEC = {"learner": {"adapt": "personal+decision", "algorithm": "maml",
                          "inner_steps": 3, "inner_lr": 0.1}}


@pytest.fixture(scope="module")
def parts(sample_dataset):
    split = split_users(sample_dataset.users["user_id"], seed=0)
    train = split.ratings_of(sample_dataset.ratings, "train")
    encoder = FeatureEncoder.from_dataset(sample_dataset)
    return {
        "train": train,
        "validation": split.ratings_of(sample_dataset.ratings, "validation"),
        "encoder": encoder,
        "users": encoder.encode_users(sample_dataset.users),
        "items": encoder.item_feature_table(sample_dataset.items),
        "prior": ItemPrior.from_baseline(UserBiasBaseline().fit(train), encoder),
    }


def make_learner(parts):
    torch.manual_seed(0)
    spec = VariantSpec(network={"dim": 8, "hidden": (16,)}, **SMALL_SPEC)
    return build_learner(spec, parts["encoder"], parts["items"], parts["prior"])


def train(learner, parts, config=SHORT, callback=None, train_ratings=None,
          validation_ratings=None):
    return meta_train(learner, parts["train"] if train_ratings is None else train_ratings,
                      parts["validation"] if validation_ratings is None
                      else validation_ratings,
                      parts["encoder"], parts["users"], parts["prior"], config,
                      name="small", callback=callback)


def snapshots_then(learner, poison):
    """Return an epoch callback that copies the weights, then calls ``poison(epoch)``.

    The copies are in the callback's ``states``, by 1-based epoch.
    """
    def callback(epoch, epochs, loss, error):
        callback.states[epoch] = copy.deepcopy(learner.state_dict())
        poison(epoch)

    callback.states = {}
    return callback


def assert_same_weights(learner, state):
    for name, value in learner.state_dict().items():
        assert torch.equal(value, state[name]), name


def assert_all_finite(learner):
    for name, value in learner.state_dict().items():
        if value.is_floating_point():
            assert torch.isfinite(value).all(), name


def test_nan_loss_keeps_best_epoch(parts, caplog):
    learner = make_learner(parts)

    def poison(epoch):
        if epoch == 1:
            with torch.no_grad():
                learner.net.offset.fill_(float("nan"))

    callback = snapshots_then(learner, poison)
    with caplog.at_level(logging.WARNING, logger="metarec"):
        history = train(learner, parts, callback=callback)

    assert history.best_epoch == 0
    assert len(history.train_loss) == 1
    assert_same_weights(learner, callback.states[1])
    assert_all_finite(learner)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("small: meta-loss became nan in epoch 2")
    assert "kept the weights of epoch 1" in warnings[0]


def test_non_finite_weight_keeps_best_epoch(parts, caplog):
    # An item that no meta-train or validation user rated: a NaN in its embedding
    # changes neither the meta-loss nor the validation error, yet must not be saved.
    unrated = int(parts["train"]["item_id"].value_counts().index[-1])
    train_ratings = parts["train"][parts["train"]["item_id"] != unrated]
    validation_ratings = parts["validation"][parts["validation"]["item_id"] != unrated]
    learner = make_learner(parts)
    row = int(parts["encoder"].item_rows([unrated])[0])

    def poison(epoch):
        if epoch == 1:
            with torch.no_grad():
                learner.net.item_embedding.weight[row] = float("nan")

    callback = snapshots_then(learner, poison)
    with caplog.at_level(logging.WARNING, logger="metarec"):
        history = train(learner, parts, callback=callback, train_ratings=train_ratings,
                        validation_ratings=validation_ratings)

    assert history.best_epoch == 0
    assert_same_weights(learner, callback.states[1])
    assert_all_finite(learner)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "weight net.item_embedding.weight became NaN or infinite in epoch 2" in \
        warnings[0]


def test_loss_spike_is_logged(parts, caplog):
    learner = make_learner(parts)

    def poison(epoch):
        if epoch == 1:
            with torch.no_grad():
                learner.net.offset.fill_(50.0)

    with caplog.at_level(logging.WARNING, logger="metarec"):
        history = train(learner, parts, callback=snapshots_then(learner, poison))

    assert history.train_loss[1] > 100 * history.train_loss[0]
    spikes = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
              and r.getMessage().startswith("small: training loss")]
    assert spikes
    assert "in epoch 2 is over 100 times the lowest so far" in spikes[0]


def test_nan_in_first_epoch_names_fixes(parts):
    learner = make_learner(parts)
    with torch.no_grad():
        learner.net.offset.fill_(float("nan"))
    with pytest.raises(TrainingError, match=r"small: meta-loss became nan in epoch 1, "
                                            r"before any epoch .* no weights to keep\. "
                                            r"Train again with another seed \(train "
                                            r"--seed N\) or on more ratings"):
        train(learner, parts)


def test_healthy_run_unchanged_by_checks(parts, monkeypatch, caplog):
    # The divergence checks only read the weights: with them switched off, a healthy
    # run ends with exactly the same weights, and those are the best epoch's.
    config = replace(SHORT, epochs=4, patience=1)
    learner = make_learner(parts)
    callback = snapshots_then(learner, lambda epoch: None)
    with caplog.at_level(logging.WARNING, logger="metarec"):
        history = train(learner, parts, config, callback=callback)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert_same_weights(learner, callback.states[history.best_epoch + 1])

    monkeypatch.setattr(training, "divergence", lambda learner, error: None)
    unchecked = make_learner(parts)
    unchecked_history = train(unchecked, parts, config)
    assert unchecked_history.validation_mae == history.validation_mae
    assert_same_weights(unchecked, learner.state_dict())


# Two taste groups on ids of their own: the first 8 users love the sci-fi items and
# dislike the romance ones, the other 8 the opposite.
@pytest.fixture(scope="module")
def own_csv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("own-csv")
    items = [f"sf-{i:02d}" for i in range(1, 7)] + [f"ro-{i:02d}" for i in range(1, 7)]
    users = [f"user-o{i:02d}" for i in range(1, 17)]
    rng = np.random.default_rng(0)
    lines = ["user_id,item_id,rating"]
    for number, user in enumerate(users):
        fan = "sf" if number < 8 else "ro"
        for item in items:
            if rng.random() < 0.8:
                rating = 5 if item.startswith(fan) else 1
                lines.append(f"{user},{item},{rating}")
    (folder / "ratings.csv").write_text("\n".join(lines) + "\n")
    (folder / "items.csv").write_text("item_id,title,genres\n" + "".join(
        f"{item},{'Star' if item.startswith('sf') else 'Love'} {item},"
        f"{'Sci-Fi' if item.startswith('sf') else 'Romance'}\n" for item in items))
    return folder


def test_train_error_is_one_line(own_csv, monkeypatch, capsys, tmp_path):
    def diverge(*args, name="model", **kwargs):
        raise TrainingError(f"{name}: meta-loss became nan in epoch 1, before any epoch "
                            f"ended with a finite validation error")

    monkeypatch.setattr("metarec.pipeline.meta_train", diverge)
    code = main(["train", "--data", str(own_csv / "ratings.csv"), "--items-csv",
                 str(own_csv / "items.csv"), "--out", str(tmp_path / "models"),
                 "--epochs", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "error: teacher: meta-loss became nan in epoch 1" in err
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def own_models(own_csv, tmp_path_factory):
    from metarec.pipeline import train_models

    dataset = load_dataset(own_csv)
    out = tmp_path_factory.mktemp("own-models")
    spec = {"small": VariantSpec(network={"dim": 4, "hidden": (8,)}, **SMALL_SPEC,
                                 train=TrainConfig(epochs=1))}
    train_models(dataset, out, seed=0, variants=spec)
    return dataset, out


@pytest.mark.parametrize("variant", ["small", "user-bias", "popularity"])
def test_top_k_names_original_ids(own_models, variant):
    dataset, out = own_models
    recommender = Recommender.load(out, dataset)
    ratings = dict(zip(dataset.item_ids_for(["sf-01", "ro-01"]), [5, 1]))
    top = recommender.adapt(ratings, variant).top_k(5)

    assert list(top.columns) == ["item_id", "title", "score", "original_id"]
    originals = dataset.original_item_ids()
    assert top["original_id"].tolist() == [originals[i] for i in top["item_id"]]
    assert dataset.item_ids_for(top["original_id"]) == top["item_id"].tolist()
    assert not {"sf-01", "ro-01"} & set(top["original_id"])


def test_top_k_without_original_ids(own_models):
    dataset, out = own_models
    numbered = replace(dataset, items=dataset.items.drop(columns="original_id"))
    for recommender in (Recommender.load(out), Recommender.load(out, numbered)):
        top = recommender.adapt({1: 5}, "user-bias").top_k(3)
        assert list(top.columns) == ["item_id", "title", "score"]


def test_teacher_targets_are_bounded(parts):
    teacher = build_learner(VariantSpec(network={"dim": 4, "hidden": (8,)}, **SMALL_SPEC),
                            parts["encoder"], parts["items"], parts["prior"])
    means = teacher.net.item_prior
    low, high = float(means.min()), float(means.max())
    span = max(high - low, 1.0)
    sound = torch.tensor([[low - 0.5, 3.0, high + 0.5]])
    wild = torch.tensor([[1e21, -1e21, float("nan")]])

    kept, bounded = training._bounded_targets(teacher, sound, wild)

    assert torch.equal(kept, sound)
    assert bounded[0].tolist() == pytest.approx([high + span, low - span, (low + high) / 2])
    assert training._bounded_targets(teacher, sound, None)[1] is None


def test_item_training_keeps_best_epoch(sample_dataset, tmp_path, monkeypatch, caplog):
    from metarec import item_training
    from metarec.item_pipeline import train_item_models
    from metarec.models.item_learner import default_item_variants

    plain = item_training.masked_mse

    def poisoned_after_first_epoch(prediction, target, mask):
        value = plain(prediction, target, mask)
        return value * float("nan") if epochs_done["count"] >= 1 else value

    epochs_done = {"count": 0}

    def count_epochs(message, fraction):
        epochs_done["count"] += "epoch" in message

    monkeypatch.setattr(item_training, "masked_mse", poisoned_after_first_epoch)
    variants = {"teacher": default_item_variants(3)["teacher"]}
    with caplog.at_level(logging.WARNING, logger="metarec"):
        train_item_models(sample_dataset, tmp_path, epochs=3, variants=variants,
                          callback=count_epochs)

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(w.startswith("teacher: meta-loss became nan in epoch 2") for w in warnings)
    saved = torch.load(tmp_path / "item-teacher.pt", weights_only=False)
    state = saved.get("state_dict", saved) if isinstance(saved, dict) else saved
    assert all(torch.isfinite(value).all() for value in state.values()
               if torch.is_tensor(value) and value.is_floating_point())
