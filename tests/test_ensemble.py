"""The support-size-aware ensemble."""

import numpy as np
import pytest

from metarec.meta.ensemble import SupportSizeEnsemble, convex_weights

N = 2000


@pytest.fixture
def members():
    rng = np.random.default_rng(0)
    truth = rng.normal(3.5, 1.0, N)
    shots = np.where(np.arange(N) < N // 2, 1, 50)
    # Member "prior" is good for one-rating users and poor for fifty-rating users;
    # member "adapted" is the other way round.
    small = shots == 1
    prior = truth + rng.normal(0, np.where(small, 0.2, 1.0))
    adapted = truth + rng.normal(0, np.where(small, 1.0, 0.2))
    return {"prior": prior, "adapted": adapted}, shots, truth


def test_convex_weights_favour_better_member(members):
    predictions, _, truth = members
    weights = convex_weights(np.column_stack([predictions["prior"], truth]), truth)
    assert weights.sum() == pytest.approx(1.0)
    assert (weights >= 0).all()
    assert weights[1] > 0.99


def test_weights_depend_on_support_size(members):
    predictions, shots, truth = members
    ensemble = SupportSizeEnsemble(["prior", "adapted"]).fit(predictions, shots, truth)
    one, fifty = ensemble.weights_for(1), ensemble.weights_for(50)
    assert one["prior"] > 0.8
    assert fifty["adapted"] > 0.8


def test_blend_beats_each_member(members):
    predictions, shots, truth = members
    ensemble = SupportSizeEnsemble(["prior", "adapted"]).fit(predictions, shots, truth)
    for shot in (1, 50):
        rows = shots == shot
        blend = ensemble.predict({m: p[rows] for m, p in predictions.items()}, shot)
        error = np.abs(blend - truth[rows]).mean()
        for member in predictions.values():
            assert error <= np.abs(member[rows] - truth[rows]).mean()


def test_round_trip_keeps_predictions(members):
    predictions, shots, truth = members
    ensemble = SupportSizeEnsemble(["prior", "adapted"]).fit(predictions, shots, truth)
    again = SupportSizeEnsemble.from_dict(ensemble.to_dict())
    np.testing.assert_array_equal(ensemble.predict(predictions, 5),
                                  again.predict(predictions, 5))


def test_unfitted_ensemble_raises():
    with pytest.raises(RuntimeError, match="not fitted"):
        SupportSizeEnsemble(["a"]).predict({"a": np.ones(3)}, 1)


def test_missing_member_is_named(members):
    predictions, shots, truth = members
    with pytest.raises(ValueError, match=r"lack members \['other'\]"):
        SupportSizeEnsemble(["prior", "other"]).fit(predictions, shots, truth)


def test_ensemble_falls_back_to_best_member():
    rng = np.random.default_rng(1)
    truth = rng.normal(3.5, 1.0, N)
    shots = np.ones(N)
    people = np.repeat(np.arange(N // 10), 10)
    # "noise" is "good" plus independent noise: any weight on it only adds error, though
    # an in-sample fit still gives it a little.
    good = truth + rng.normal(0, 0.3, N)
    predictions = {"good": good, "noise": good + rng.normal(0, 1.0, N)}
    ensemble = SupportSizeEnsemble(["good", "noise"]).fit(predictions, shots, truth,
                                                          groups=people)
    weights = ensemble.weights_for(1)
    assert weights == {"good": 1.0, "noise": 0.0}


def test_cross_validation_keeps_a_useful_blend(members):
    predictions, shots, truth = members
    people = np.arange(N) // 5
    ensemble = SupportSizeEnsemble(["prior", "adapted"]).fit(predictions, np.full(N, 3),
                                                             truth, groups=people)
    # Pooled over support sizes, neither member is best everywhere, so a blend wins.
    weights = ensemble.weights_for(3)
    assert 0.2 < weights["prior"] < 0.8


def test_fallback_member_has_lowest_absolute_error():
    # "steady" is off by 0.5 everywhere: MAE 0.5, MSE 0.25. "spiky" is exact on 80% of
    # the ratings and off by 2 on the rest: MAE 0.4, MSE 0.8. No convex blend has an
    # MAE below 0.4, so the bin falls back to one member, chosen by absolute error.
    truth = np.zeros(N)
    spiky = np.where(np.arange(N) % 5 == 0, 2.0, 0.0)
    predictions = {"steady": np.full(N, 0.5), "spiky": spiky}
    ensemble = SupportSizeEnsemble(["steady", "spiky"]).fit(
        predictions, np.ones(N), truth, groups=np.arange(N) // 10)
    assert ensemble.weights_for(1) == {"steady": 0.0, "spiky": 1.0}


@pytest.mark.parametrize("spread, chosen", [(0.3, "steady"), (0.02, "other")])
def test_bin_leaves_default_only_on_clear_gain(spread, chosen):
    # In the one-rating bin "other" has "steady"'s errors scaled per person by 1 + f,
    # f of mean -0.03: better on average. With a spread of 0.3 across people that gain
    # is noise, with 0.02 it is clear. Elsewhere "other" is poor, so "steady" is the
    # member best over all bins, the default.
    rng = np.random.default_rng(0)
    people = np.repeat(np.arange(100), 20)
    shots = np.where(np.arange(len(people)) % 2 == 0, 1, 50)
    truth = rng.normal(3.5, 1.0, len(people))
    steady = truth + rng.normal(0, 0.5, len(people))
    scale = 1 + rng.normal(-0.03, spread, 100)[people]
    other = np.where(shots == 1, truth + (steady - truth) * scale, steady + 1.0)
    predictions = {"steady": steady, "other": other}
    errors = {name: np.abs(p - truth)[shots == 1].mean() for name, p in predictions.items()}
    assert errors["other"] < errors["steady"]

    ensemble = SupportSizeEnsemble(["steady", "other"]).fit(predictions, shots, truth,
                                                            groups=people)
    assert ensemble.weights_for(1)[chosen] == 1.0


def _one_member_per_bin():
    # Bin 1 (one rating) serves "prior" alone, bin 3 (3 or more) blends both.
    ensemble = SupportSizeEnsemble(["prior", "adapted"], bin_edges=(1, 3))
    ensemble.weights_ = np.array([[1.0, 0.0], [0.5, 0.5]])
    ensemble.intercepts_ = np.zeros(2)
    return ensemble


def test_active_members_skip_zero_weights():
    ensemble = _one_member_per_bin()
    assert ensemble.active_members(1) == ["prior"]
    assert ensemble.active_members(5) == ["prior", "adapted"]


def test_zero_weight_member_may_be_left_out():
    ensemble = _one_member_per_bin()
    prior = np.array([3.0, 4.0])
    np.testing.assert_array_equal(ensemble.predict({"prior": prior}, 1), prior)


def test_weighted_member_may_not_be_left_out():
    ensemble = _one_member_per_bin()
    with pytest.raises(ValueError, match="lacks 'adapted', whose weight for this support"):
        ensemble.predict({"prior": np.array([3.0])}, 5)
