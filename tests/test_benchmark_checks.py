"""The new-user benchmark's sanity controls fail where the field's known failures would."""

import numpy as np
import pandas as pd
import pytest
from benchmark_helpers import load_script


@pytest.fixture(scope="module")
def run_benchmark():
    return load_script("run_benchmark")


def tables(mae_by_variant, train_mae=(0.70, 0.71, 0.72), test_mae=(0.80, 0.81, 0.82)):
    """Return results, generalization and controls as the run_benchmark builds them."""
    results = pd.DataFrame(
        [{"seed": seed, "variant": variant, "shots": shots, "mae": mae,
          "ndcg@3": 0.75 if variant == "student" else 0.59}
         for seed in range(3) for variant, mae in mae_by_variant.items()
         for shots in ("5", "all")])
    general = pd.DataFrame(
        [{"seed": seed, "variant": variant, "users_of": part, "shots": "all", "mae": mae}
         for variant in ("teacher", "student") for seed in range(3)
         for part, mae in (("train", train_mae[seed]), ("test", test_mae[seed]))])
    controls = {seed: {"shuffled_ndcg@3": 0.59, "chance_ndcg@3": 0.588,
                       "teacher_first_last": (1.0, 0.8)} for seed in range(3)}
    return results, general, controls


def per_user_tables(train_mean, test_mean, spread, users=100):
    """Return generalization frames whose per-user MAE has exactly the given means.

    Every group of ``users`` has mean ``train_mean`` or ``test_mean`` and sample standard
    deviation ``spread``, so the gap's interval over users shrinks as ``users`` grows.
    """
    offsets = np.linspace(-1.0, 1.0, users)
    offsets = offsets / offsets.std(ddof=1)
    rows = [{"seed": seed, "variant": variant, "users_of": part, "user": user,
             "mae": mean + spread * offsets[user]}
            for variant in ("teacher", "student") for seed in range(3)
            for part, mean in (("train", train_mean), ("test", test_mean))
            for user in range(users)]
    per_user = pd.DataFrame(rows)
    general = per_user.groupby(["seed", "variant", "users_of"], as_index=False)["mae"].mean()
    general["shots"] = "all"
    return general, per_user


GAP = "teacher scores better on its own meta-train users than on test users"


def outcome(checks, name):
    return next((result, detail) for check, result, detail in checks if check == name)


def test_spread_apart_metrics_pass(run_benchmark):
    checks = run_benchmark.sanity_checks(*tables({"student": 0.80, "user-bias": 0.82,
                                                  "global-mean": 0.98, "random": 1.30}))
    result, detail = outcome(checks, "metrics differ across variants")

    assert result == "PASS"
    assert "from 0.800 to 1.300" in detail


def test_alike_metrics_fail(run_benchmark):
    # Distinct values that a broken metric could still give: all within 0.01 stars.
    checks = run_benchmark.sanity_checks(*tables({"student": 0.801, "user-bias": 0.802,
                                                  "global-mean": 0.803, "random": 0.804}))

    assert outcome(checks, "metrics differ across variants")[0] == "FAIL"


def test_generalization_gap_within_noise_inconclusive(run_benchmark):
    # Without per-user errors the interval is taken over the three seeds' differences.
    checks = run_benchmark.sanity_checks(*tables({"student": 0.8, "random": 1.3},
                                                 train_mae=(0.76, 0.78, 0.75),
                                                 test_mae=(0.77, 0.76, 0.77)))
    result, detail = outcome(checks, GAP)

    assert result == "INCONCLUSIVE"
    assert "test minus train +0.003 ±" in detail
    assert "over seeds" in detail
    assert detail.endswith("the interval includes 0")


def test_generalization_gap_clear_passes(run_benchmark):
    checks = run_benchmark.sanity_checks(*tables({"student": 0.8, "random": 1.3}))
    result, detail = outcome(checks, GAP)

    assert result == "PASS"
    assert "test minus train +0.100 ± 0.000 over seeds" in detail


def test_generalization_train_worse_fails(run_benchmark):
    checks = run_benchmark.sanity_checks(*tables({"student": 0.8, "random": 1.3},
                                                 train_mae=(0.80, 0.81, 0.82),
                                                 test_mae=(0.70, 0.71, 0.72)))

    assert outcome(checks, GAP)[0] == "FAIL"


def test_generalization_per_user_clear_gap_passes(run_benchmark):
    # A 0.04-star gap with per-user spread 0.1 and 100 users a group in each of 3 seeds
    # has standard error 0.1 * sqrt(2 / 100) / sqrt(3) = 0.008, well below the gap.
    general, per_user = per_user_tables(0.72, 0.76, 0.1)
    results, _, controls = tables({"student": 0.8, "random": 1.3})
    checks = run_benchmark.sanity_checks(results, general, controls, per_user)
    result, detail = outcome(checks, GAP)

    assert result == "PASS"
    assert ("test minus train +0.040 ± 0.016 by Welch's t over 300 train and 300 "
            "test users summed over seeds") in detail
    # Every seed has the same gap here, so the interval over seeds is zero wide.
    assert detail.endswith("(over seeds: +0.040 ± 0.000)")


def test_generalization_per_user_noise_inconclusive(run_benchmark):
    # The same gap among 10 users a group with spread 0.3 has standard error 0.077.
    general, per_user = per_user_tables(0.72, 0.76, 0.3, users=10)
    results, _, controls = tables({"student": 0.8, "random": 1.3})
    checks = run_benchmark.sanity_checks(results, general, controls, per_user)
    result, detail = outcome(checks, GAP)

    assert result == "INCONCLUSIVE"
    assert detail.endswith("the interval includes 0")


def test_generalization_per_user_train_worse_fails(run_benchmark):
    general, per_user = per_user_tables(0.80, 0.72, 0.1)
    results, _, controls = tables({"student": 0.8, "random": 1.3})
    checks = run_benchmark.sanity_checks(results, general, controls, per_user)

    assert outcome(checks, GAP)[0] == "FAIL"


def test_welch_gap_matches_known_values(run_benchmark):
    # With one seed, train errors 0.6 and 0.8 and test errors 0.7 and 0.9 give gap 0.1,
    # group variances 0.02, standard error sqrt(0.02) and Welch degrees of freedom 2.
    per_user = pd.DataFrame({"seed": 0, "users_of": ["train", "train", "test", "test"],
                             "mae": [0.6, 0.8, 0.7, 0.9]})
    gap, half, users = run_benchmark.welch_gap(per_user)

    assert gap == pytest.approx(0.1)
    assert half == pytest.approx(4.302653 * np.sqrt(0.02), rel=1e-5)
    assert users == {"test": 2, "train": 2}
