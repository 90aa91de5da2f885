"""The new-user benchmark's sanity controls fail where the field's known failures would."""

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def run_benchmark():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location("run_benchmark",
                                                      BENCHMARKS / "run_benchmark.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


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


def outcome(checks, name):
    return next((passed, detail) for check, passed, detail in checks if check == name)


def test_spread_apart_metrics_pass(run_benchmark):
    checks = run_benchmark.sanity_checks(*tables({"student": 0.80, "user-bias": 0.82,
                                                  "global-mean": 0.98, "random": 1.30}))
    passed, detail = outcome(checks, "metrics differ across variants")

    assert passed
    assert "from 0.800 to 1.300" in detail


def test_alike_metrics_fail(run_benchmark):
    # Distinct values that a broken metric could still give: all within 0.01 stars.
    checks = run_benchmark.sanity_checks(*tables({"student": 0.801, "user-bias": 0.802,
                                                  "global-mean": 0.803, "random": 0.804}))

    assert not outcome(checks, "metrics differ across variants")[0]


def test_generalization_gap_reports_noise(run_benchmark):
    checks = run_benchmark.sanity_checks(*tables({"student": 0.8, "random": 1.3},
                                                 train_mae=(0.76, 0.78, 0.75),
                                                 test_mae=(0.77, 0.76, 0.77)))
    passed, detail = outcome(
        checks, "teacher scores better on its own meta-train users than on test users")

    assert passed
    assert "test minus train +0.003 ±" in detail
    assert detail.endswith("within seed-to-seed noise")
