"""The serving fast path agrees with the general inner loop."""

import numpy as np
import pytest
import torch

from metarec.meta.inner_loop import TASK_LOSSES, adapt, predict
from metarec.serving.fast_path import FastAdapter
from metarec.serving.recommender import Recommender


@pytest.fixture(scope="module")
def recommender(tiny_models, sample_dataset):
    return Recommender.load(tiny_models, sample_dataset)


def huber(prediction, target, mask):
    """Return the Huber loss, which has no hand-written backward pass in the fast path."""
    losses = torch.nn.functional.huber_loss(prediction, target, reduction="none")
    return (losses * mask).sum() / mask.sum().clamp_min(1.0)


@pytest.mark.parametrize("variant", ["teacher", "student", "finetune", "melu-1", "melu-5",
                                     "student-like", "student+huber"])
@pytest.mark.parametrize("shots", [0, 1, 10])
def test_fast_path_matches_inner_loop(recommender, variant, shots):
    variant, _, loss_name = variant.partition("+")
    learner = recommender.learners[variant]
    # Move the decision layers off their zero start so every term matters.
    torch.manual_seed(0)
    saved = {n: p.detach().clone() for n, p in learner.net.named_parameters()}
    with torch.no_grad():
        for name, p in learner.net.named_parameters():
            p.add_(0.05 * torch.randn_like(p))
    try:
        rng = np.random.default_rng(shots)
        items = rng.choice(recommender.item_ids, size=shots, replace=False)
        values = rng.integers(1, 6, size=shots).astype(np.float32)
        features = recommender._user_features(None, items, values)
        rows = torch.as_tensor(recommender.encoder.item_rows(items))
        targets = torch.as_tensor(values)
        if learner.task == "like":
            targets = (targets >= 4).float()
        loss = huber if loss_name == "huber" else TASK_LOSSES[learner.task]
        steps = max(learner.serve_steps, 2)

        expected, losses = adapt(learner.net, learner.initial_params(), learner.adapted_names,
                                 learner.inner_lrs(), features, rows, targets,
                                 torch.ones_like(targets), steps, first_order=True, loss=loss,
                                 shrinkage=learner.support_shrinkage)
        _, fast_losses, score = FastAdapter(learner).adapt(
            features, rows, targets, steps, loss, learner.support_shrinkage)

        catalogue = recommender._all_rows
        with torch.no_grad():
            reference = predict(learner.net, expected, features, catalogue)
        np.testing.assert_allclose(score(catalogue).numpy(), reference.numpy(), atol=1e-4)
        np.testing.assert_allclose(fast_losses, losses.detach().numpy(), atol=1e-4)
    finally:
        with torch.no_grad():
            for name, p in learner.net.named_parameters():
                p.copy_(saved[name])


def test_fast_path_leaves_weights_untouched(recommender):
    learner = recommender.learners["student"]
    before = {n: p.detach().clone() for n, p in learner.state_dict().items()}
    recommender.adapt({1: 5.0, 2: 1.0, 3: 4.0}, "student").top_k(5)
    for name, value in learner.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_fast_path_refuses_item_parameters(recommender):
    learner = recommender.learners["student"]
    original = learner.adapted_names
    learner.adapted_names = [*original, "item_embedding.weight"]
    try:
        with pytest.raises(ValueError, match="item_embedding.weight"):
            FastAdapter(learner)
    finally:
        learner.adapted_names = original


@pytest.mark.parametrize("variant", ["teacher", "student"])
def test_numpy_and_torch_scoring_agree(recommender, variant):
    adapter = FastAdapter(recommender.learners[variant])
    items = recommender.item_ids[:5]
    values = np.array([5.0, 1.0, 4.0, 2.0, 3.0], dtype=np.float32)
    features = recommender._user_features(None, items, values)
    rows = recommender.encoder.item_rows(items)
    scores = {}
    # A limit of 0 forces PyTorch, an infinite one NumPy.
    for limit in (np.inf, 0):
        adapter.numpy_scoring_limit = limit
        _, _, score = adapter.adapt(features, rows, values, 2, TASK_LOSSES["rating"])
        scores[limit] = score(recommender._all_rows).numpy()
    np.testing.assert_allclose(scores[np.inf], scores[0], atol=1e-5)


def test_small_scoring_calls_run_in_numpy(recommender):
    student = FastAdapter(recommender.learners["student"])
    teacher = FastAdapter(recommender.learners["teacher"])
    assert student.scores_in_numpy(1_682)
    assert not student.scores_in_numpy(100_000)
    assert not teacher.scores_in_numpy(1_682)
    assert teacher.scores_in_numpy(1)


def test_fast_path_reads_each_activation(recommender):
    # The teacher uses leaky ReLU and the other networks plain ReLU. The comparisons
    # above check both against torch.func.
    assert FastAdapter(recommender.learners["teacher"]).slope == pytest.approx(0.1)
    assert FastAdapter(recommender.learners["melu-1"]).slope == 0.0


def test_negative_slope_out_of_range_is_rejected():
    from metarec.models.networks import RatingNet

    with pytest.raises(ValueError, match="negative_slope must be in"):
        RatingNet(2, torch.zeros(3, 1), torch.zeros(3), 4, negative_slope=1.5)
