"""The benchmark reports decide verdicts on paired differences and mark mixed populations."""

import argparse

import numpy as np
import pandas as pd
import pytest
from benchmark_helpers import load_script
# Per-seed base MAE, far apart so that only paired differences can separate variants.
SEED_BASE = (0.90, 0.95, 0.88)


@pytest.fixture(scope="module")
def run_benchmark():
    return load_script("run_benchmark")


@pytest.fixture(scope="module")
def run_item_benchmark():
    return load_script("run_item_benchmark")


class FakeDataset:
    name = "synthetic"
    items = pd.DataFrame({"item_id": range(5)})

    def summary(self):
        return "synthetic: 5 items"

    def fingerprint(self):
        return "0123456789abcdef"


# --- new item ------------------------------------------------------------------------

def item_results(offsets, seeds=(0, 1, 2), shots=("0", "1", "5")):
    """Return an item results frame whose MAE per seed is the seed's base plus an offset.

    ``offsets`` maps each variant to one offset per seed.
    """
    return pd.DataFrame(
        [{"scenario": "new-user-new-item", "seed": seed, "variant": variant, "shots": k,
          "items": 80, "mae": SEED_BASE[seed] + offset[seed], "rmse": 1.0, "ndcg@3": 0.5}
         for variant, offset in offsets.items() for seed in seeds for k in shots])


# Teacher: clearly better than genre-mean and global-mean, within noise of content-only
# (differences -0.009, +0.006, 0.000) and clearly worse than user-bias.
ITEM_OFFSETS = {
    "teacher": (0.000, 0.000, 0.000),
    "ensemble": (0.000, 0.000, 0.000),
    "content-only": (0.009, -0.006, 0.000),
    "genre-mean": (0.050, 0.060, 0.055),
    "user-bias": (-0.010, -0.012, -0.011),
    "global-mean": (0.100, 0.110, 0.090),
}


def test_item_verdict_follows_paired_interval(run_item_benchmark):
    lines = run_item_benchmark.target_check(item_results(ITEM_OFFSETS))
    teacher_k5 = next(line for line in lines if line.startswith("- teacher at K=5"))

    assert "better than genre-mean (-0.055 ± 0.012), global-mean" in teacher_k5
    assert "within noise of content-only (-0.001 ± 0.019)" in teacher_k5
    assert "worse than user-bias (+0.011 ± 0.002)" in teacher_k5
    assert "(better)" not in teacher_k5


def test_item_verdict_covers_every_baseline(run_item_benchmark):
    lines = run_item_benchmark.target_check(item_results(ITEM_OFFSETS))

    assert len(lines) == 2 * len(run_item_benchmark.TARGET_SHOTS)
    for line in lines:
        for baseline in ("content-only", "genre-mean", "user-bias", "global-mean"):
            assert baseline in line


def test_item_verdict_one_seed_undecided(run_item_benchmark):
    lines = run_item_benchmark.target_check(item_results(ITEM_OFFSETS, seeds=(0,)))

    assert lines[0].startswith("- teacher at K=0 (MAE 0.900): undecided, one seed, against ")
    assert "better than" not in lines[0]


def test_item_paired_table_includes_user_bias(run_item_benchmark):
    table = run_item_benchmark.paired_differences(item_results(ITEM_OFFSETS), ["0", "5"])

    assert "| teacher − user-bias | +0.011 ± 0.002 | +0.011 ± 0.002 |" in table
    assert "| ensemble − user-bias |" in table


def write_item_report(module, tmp_path, seeds):
    results = item_results(ITEM_OFFSETS, seeds=seeds)
    timings = pd.DataFrame([{"scenario": "new-user-new-item", "seed": seed, "variant": "teacher",
                             "adapt_p50_ms": 1.0, "parameters": 10.0, "train_seconds": 5.0,
                             "total_train_seconds": 9.0} for seed in seeds])
    args = argparse.Namespace(scenarios=["new-user-new-item"], shots=["0", "1", "5"],
                              out=str(tmp_path / "RESULTS.md"))
    module.write_report(args, "cmd", FakeDataset(), results, timings,
                        {("new-user-new-item", seed): 351 for seed in seeds})
    return (tmp_path / "RESULTS.md").read_text()


def test_item_report_one_seed_wording(run_item_benchmark, tmp_path):
    text = write_item_report(run_item_benchmark, tmp_path, seeds=(0,))

    assert "For seed 0, every test item" in text
    assert "For each of the seeds" not in text
    assert "(one seed, so no interval)" in text


def test_item_report_several_seeds_wording(run_item_benchmark, tmp_path):
    text = write_item_report(run_item_benchmark, tmp_path, seeds=(0, 1, 2))

    assert "For each of the seeds 0, 1, 2, every test item" in text


# --- new user ------------------------------------------------------------------------

USER_SHOTS = ["1", "5", "20", "all"]
# MAE offsets per seed; at K=1 user-bias is the strongest classical baseline, at the
# other K mf-als.
USER_OFFSETS = {
    "teacher": (0.00, 0.00, 0.00),
    "student": (-0.010, -0.012, -0.014),
    "melu-1": (-0.005, -0.020, 0.010),
    "ensemble": (-0.020, -0.020, -0.020),
    "user-bias": (0.010, 0.010, 0.010),
    "mf-als": (0.005, 0.006, 0.007),
    "item-mean": (0.05, 0.05, 0.05),
    "global-mean": (0.10, 0.10, 0.10),
    "random": (np.nan, np.nan, np.nan),
}


def user_results(seeds=(0, 1, 2)):
    rows = []
    for variant, offset in USER_OFFSETS.items():
        for seed in seeds:
            for k in USER_SHOTS:
                mae = SEED_BASE[seed] + offset[seed]
                if k == "1" and variant == "mf-als":
                    mae += 0.02
                rows.append({"seed": seed, "variant": variant, "shots": k,
                             "users": 79 if k == "20" else 115, "mae": mae, "rmse": mae + 0.2,
                             "ndcg@1": 0.7, "ndcg@3": 0.75 if variant == "student" else 0.6,
                             "auc": 0.7, "catalogue_ndcg@10": 0.03, "precision@10": 0.02,
                             "recall@10": 0.03})
    return pd.DataFrame(rows)


def test_user_paired_differences_rows(run_benchmark):
    table = run_benchmark.paired_differences(user_results(), USER_SHOTS)
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table.splitlines()[2:]}

    assert list(rows) == ["student − mf-als", "student − user-bias", "student − melu-1",
                          "ensemble − mf-als", "ensemble − best classical baseline"]
    # student − user-bias: -0.020, -0.022, -0.024 at every K.
    assert "| -0.022 ± 0.005 |" in rows["student − user-bias"]
    best = rows["ensemble − best classical baseline"].split(" | ")[1:]
    assert best[0] == "-0.030 ± 0.000 (user-bias)"
    assert best[1] == "-0.026 ± 0.002 (mf-als)"


def test_user_population_note_names_k20(run_benchmark):
    results = user_results()

    assert run_benchmark.reduced_shots(results, USER_SHOTS) == ["20"]
    note = run_benchmark.population_note(results, USER_SHOTS)
    assert note == ("K=20 is scored on 79 users per seed, only those with at least 30 "
                    "ratings, against 115 at every other K. These fewer, heavier raters make "
                    "the K=20 column not comparable with the others.")


def test_user_population_note_absent_when_equal(run_benchmark):
    results = user_results()
    results["users"] = 115

    assert run_benchmark.population_note(results, USER_SHOTS) is None


def test_kshot_svg_marks_reduced_point(run_benchmark):
    metrics_ci = run_benchmark.with_ci(user_results(), ["variant", "shots"], ["mae"])
    svg = run_benchmark.kshot_svg(metrics_ci, USER_SHOTS, "mae", "MAE", reduced=["20"])
    x_k20 = f'{60 + 2 * (640 - 60 - 130) / 3:.1f}'

    hollow = [line for line in svg.splitlines()
              if line.startswith("<circle") and 'fill="white"' in line]
    assert len(hollow) == len(run_benchmark.CURVE_VARIANTS) - 1  # every variant but finetune
    assert all(f'cx="{x_k20}"' in line for line in hollow)
    dashed = [line for line in svg.splitlines() if "stroke-dasharray" in line]
    assert len(dashed) == len(hollow)
    assert all(f'x2="{x_k20}"' in line for line in dashed)
    for line in svg.splitlines():
        if line.startswith("<polyline"):
            assert f"{x_k20}," not in line
    assert "K=20 scored" in svg


def test_kshot_svg_without_reduced_is_solid(run_benchmark):
    metrics_ci = run_benchmark.with_ci(user_results(), ["variant", "shots"], ["mae"])
    svg = run_benchmark.kshot_svg(metrics_ci, USER_SHOTS, "mae", "MAE")

    assert "stroke-dasharray" not in svg
    assert 'fill="white" stroke=' not in svg


@pytest.mark.parametrize("loads, shared", [((0.6, 1.2, 2.0), False), ((0.6, 2.3, 2.0), True)])
def test_load_sentence_shared_clause(run_benchmark, monkeypatch, loads, shared):
    monkeypatch.setattr(run_benchmark.os, "cpu_count", lambda: 2)
    sentence = run_benchmark.load_sentence(
        {seed: {"load_at_start": load} for seed, load in enumerate(loads)})

    assert ", ".join(f"{load:.1f}" for load in loads) in sentence
    assert ("other work shared the 2 cores" in sentence) == shared


def write_user_report(module, tmp_path, seeds):
    results = user_results(seeds)
    general = pd.DataFrame([{"seed": seed, "variant": variant, "users_of": part, "shots": "all",
                             "mae": mae, "ndcg@3": 0.7}
                            for seed in seeds for variant in ("teacher", "student")
                            for part, mae in (("train", 0.72), ("test", 0.76))])
    efficiency = pd.DataFrame([{"seed": seed, "variant": "student", "parameters": 10.0,
                                "train_seconds": 5.0, "adapt_p50_ms": 1.0, "adapt_p95_ms": 2.0,
                                "score_p50_ms": 1.0, "score_p95_ms": 2.0} for seed in seeds])
    rounded = results[["seed", "variant", "shots", "mae", "rmse"]].dropna()
    controls = {seed: {"shuffled_ndcg@3": 0.59, "chance_ndcg@3": 0.588,
                       "total_train_seconds": 100.0, "load_at_start": 0.5} for seed in seeds}
    args = argparse.Namespace(shots=USER_SHOTS, epochs=None, out=str(tmp_path / "RESULTS.md"))
    module.write_report(args, "cmd", FakeDataset(), results, general, efficiency, rounded,
                        controls)
    return (tmp_path / "RESULTS.md").read_text()


def test_user_report_layout(run_benchmark, tmp_path):
    text = write_user_report(run_benchmark, tmp_path, seeds=(0, 1, 2))
    mae_at = text.index("### MAE (lower is better)")
    note_at = text.index("K=20 is scored on 79 users per seed")
    paired_at = text.index("#### Paired MAE differences")

    assert mae_at < note_at < paired_at < text.index("### RMSE")
    assert "For each of the seeds 0, 1, 2, users are split" in text
    assert "a hollow circle on a dashed segment marks K=20" in text
    assert "stroke-dasharray" in (tmp_path / "kshot_mae.svg").read_text()


def test_user_report_one_seed_wording(run_benchmark, tmp_path):
    text = write_user_report(run_benchmark, tmp_path, seeds=(0,))

    assert "For seed 0, users are split" in text
    assert "For each of the seeds" not in text
    assert "INCONCLUSIVE: teacher scores better" in text
