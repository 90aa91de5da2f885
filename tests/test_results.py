"""Tests for the Model comparison page's results (metarec.ui.results)."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from metarec.cli import SAMPLE_DIR, main
from metarec.ui.results import (ResultsError, best_variants, measure_latency, metric_table,
                                read_results, run_evaluation, summarise, timing_per_user,
                                variant_costs)

SHOTS = ["1", "5"]
VARIANTS = ["teacher", "user-bias", "popularity"]


@pytest.fixture(scope="module")
def recommender(tiny_models, sample_dataset):
    from metarec.serving.recommender import Recommender

    return Recommender.load(tiny_models, sample_dataset)


@pytest.fixture(scope="module")
def written(tiny_models, tmp_path_factory):
    """OUT.json and OUT.csv as 'python -m metarec evaluate --out OUT' writes them."""
    out = tmp_path_factory.mktemp("results") / "run"
    code = main(["evaluate", "--data", str(SAMPLE_DIR), "--models", str(tiny_models),
                 "--shots", *SHOTS, "--variants", *VARIANTS, "--out", str(out)])
    assert code == 0
    return out


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_reads_cli_output(written, suffix):
    path = written.with_suffix(suffix)
    results = read_results(path.read_bytes(), path.name)

    assert results.rows["variant"].unique().tolist() == VARIANTS
    assert results.rows["shots"].unique().tolist() == SHOTS
    assert results.metrics == ["mae", "rmse", "ndcg@1", "ndcg@3", "auc"]
    assert results.rows.loc[results.rows["variant"] == "popularity", "mae"].isna().all()
    if suffix == ".json":
        assert results.source["dataset"] == "sample_data"
        assert results.source["users"] == "test"


def test_run_matches_cli(written, recommender, sample_dataset):
    cli = read_results(written.with_suffix(".csv").read_bytes(), "run.csv")
    steps = []
    here = run_evaluation(recommender, sample_dataset, SHOTS, VARIANTS,
                          progress=lambda fraction, text: steps.append(fraction))

    merged = cli.rows.merge(here.rows, on=["variant", "shots"], suffixes=("_cli", "_here"))
    assert len(merged) == len(VARIANTS) * len(SHOTS)
    for metric in cli.metrics:
        assert np.allclose(merged[f"{metric}_cli"], merged[f"{metric}_here"], equal_nan=True)
    assert steps[0] == 0.0
    assert steps[-1] == 1.0
    assert steps == sorted(steps)
    assert set(here.timings["variant"]) == set(VARIANTS)
    assert (timing_per_user(here.timings)["ms_per_user"] > 0).all()


def test_summary_interval_over_seeds():
    rows = pd.DataFrame({"split_seed": [0, 1, 2], "variant": "a", "shots": "5",
                         "users": 10, "mae": [0.8, 0.9, 1.0]})
    data = rows.to_csv(index=False).encode()
    summary = summarise(read_results(data, "seeds.csv"))

    row = summary.iloc[0]
    half = stats.t.ppf(0.975, df=2) * np.std([0.8, 0.9, 1.0], ddof=1) / np.sqrt(3)
    assert row["mean"] == pytest.approx(0.9)
    assert row["ci95"] == pytest.approx(half)
    assert row["seeds"] == 3


def test_table_and_best_variants():
    summary = pd.DataFrame({
        "variant": ["a", "b", "a", "b", "b"],
        "shots": ["1", "1", "1", "1", "5"],
        "metric": ["mae", "mae", "ndcg@3", "ndcg@3", "mae"],
        "mean": [0.9, 0.8, 0.7, 0.6, 0.75], "ci95": np.nan, "seeds": 1})
    table = metric_table(summary, ["mae", "ndcg@3"])

    assert list(table.columns) == ["mae K=1", "mae K=5", "ndcg@3 K=1", "ndcg@3 K=5"]
    assert table.loc["b", "mae K=5"] == 0.75
    assert np.isnan(table.loc["a", "mae K=5"])
    # No variant has nDCG@3 at K=5, so that column has no best.
    assert best_variants(table) == {"mae K=1": ["b"], "mae K=5": ["b"], "ndcg@3 K=1": ["a"]}


@pytest.mark.parametrize("content, name, message", [
    (b"{", "r.json", r"'r.json' is not valid JSON"),
    (b'{"summary": []}', "r.json", r"with a \"results\" list"),
    (b"variant,mae\nteacher,0.8\n", "r.csv", r"lacks the column\(s\) shots"),
    (b"variant,shots,users\nteacher,5,10\n", "r.csv", r"has no numbers in any metric column"),
    (b"variant,shots,mae\nteacher,5,abc\n", "r.csv", r"has no numbers in any metric column"),
    (b"", "r.csv", r"'r.csv' is empty\. Upload a file that"),
    (b" \n", "r.json", r"'r.json' is empty"),
    (b"variant,shots,mae\n", "r.xlsx", r"must end in .json or .csv"),
])
def test_malformed_results_raise(content, name, message):
    with pytest.raises(ResultsError, match=message):
        read_results(content, name)


def test_run_rejects_bad_options(recommender, sample_dataset):
    with pytest.raises(ValueError, match="choose at least one support size"):
        run_evaluation(recommender, sample_dataset, [])
    with pytest.raises(ValueError, match=r"unknown variants \['nope'\]"):
        run_evaluation(recommender, sample_dataset, ["1"], ["nope"])
    with pytest.raises(ValueError, match="shots must be 0, a positive integer or 'all'"):
        run_evaluation(recommender, sample_dataset, ["zero"])


def test_latency_and_costs(recommender, sample_dataset):
    latency = measure_latency(recommender, sample_dataset, ["teacher", "user-bias"], users=3)
    costs = variant_costs(recommender.manifest, latency).set_index("variant")

    assert latency["adaptations"].tolist() == [3, 3]
    assert (latency["median_ms"] >= 0).all()
    assert costs.loc["teacher", "parameters"] > costs.loc["student", "parameters"]
    assert np.isnan(costs.loc["user-bias", "parameters"])
    assert np.isnan(costs.loc["student", "median_ms"])


def test_json_with_bad_metric_values_kept_as_missing():
    document = {"results": [{"variant": "a", "shots": "1", "mae": 0.8},
                            {"variant": "b", "shots": "1", "mae": "n/a"}]}
    results = read_results(json.dumps(document).encode(), "r.json")
    assert np.isnan(results.rows.loc[1, "mae"])


def test_table_headers_use_metric_names():
    from metarec.ui.results_view import highlight_best

    table = pd.DataFrame({"mae K=1": [0.8, 0.9], "ndcg@3 K=all": [0.7, 0.6]},
                         index=["a", "b"])
    styled = highlight_best(table, {"mae K=1": "a", "ndcg@3 K=all": "a"})
    assert list(styled.data.columns) == ["MAE K=1", "nDCG@3 K=all"]
    assert "font-weight: bold" in styled.to_html()


def test_shown_ties_are_all_best():
    from metarec.ui.results_view import highlight_best

    # The ensemble serving the student: equal to four decimals, not to the last bit.
    table = pd.DataFrame({"mae K=1": [0.84241, 0.842412, 0.85],
                          "ndcg@3 K=1": [0.74, 0.7401, 0.74004]},
                         index=pd.Index(["student", "ensemble", "teacher"], name="variant"))
    best = best_variants(table)
    assert best == {"mae K=1": ["student", "ensemble"], "ndcg@3 K=1": ["ensemble"]}

    styled = highlight_best(table, best)
    styles = styled._compute().ctx
    bold = {(row, column) for (row, column), style in styles.items()
            if ("font-weight", "bold") in style}
    assert bold == {(0, 0), (1, 0), (1, 1)}


@pytest.mark.parametrize("seeds", [1, 3])
def test_page_downloads_load_again(seeds):
    from metarec.ui.results_view import interval_note

    rng = np.random.default_rng(0)
    rows = pd.DataFrame([{"split_seed": seed, "variant": variant, "shots": shots, "users": 9,
                          "mae": np.nan if variant == "popularity" else rng.uniform(0.7, 1),
                          "ndcg@3": rng.uniform(0.6, 0.8)}
                         for seed in range(seeds) for variant in VARIANTS for shots in SHOTS])
    summary = summarise(read_results(rows.to_csv(index=False).encode(), "run.csv"))
    table = metric_table(summary, ["mae", "ndcg@3"])

    # The long form keeps the means, intervals and seed counts.
    long = read_results(summary.to_csv(index=False).encode(), "metarec-comparison-long.csv")
    assert long.metrics == ["mae", "ndcg@3"]
    pd.testing.assert_frame_equal(summarise(long), summary, check_dtype=False)
    # The table keeps the means only.
    wide = read_results(table.to_csv().encode(), "metarec-comparison.csv")
    assert wide.metrics == ["mae", "ndcg@3"]
    pd.testing.assert_frame_equal(metric_table(summarise(wide), ["mae", "ndcg@3"]), table)
    assert summarise(wide)["ci95"].isna().all()
    assert interval_note(summarise(wide)) == ("The file contains means only, so there are "
                                              "no intervals.")


def test_downloaded_table_with_shown_headers_loads():
    data = b"variant,MAE K=1,nDCG@3 K=all\nstudent,0.84,0.75\npopularity,,0.63\n"
    results = read_results(data, "table.csv")
    summary = summarise(results).set_index(["variant", "metric"])

    assert results.metrics == ["mae", "ndcg@3"]
    assert summary.loc[("student", "mae"), "shots"] == "1"
    assert summary.loc[("popularity", "ndcg@3"), "mean"] == pytest.approx(0.63)
    assert ("popularity", "mae") not in summary.index


def test_tradeoff_axis_names_the_metric():
    from metarec.ui.evaluation_charts import tradeoff_figure

    points = pd.DataFrame({"variant": ["a", "b"], "cost": [1.0, 2.0], "value": [0.8, 0.9]})
    figure = tradeoff_figure(points, "mae", "parameters")
    assert figure.layout.yaxis.title.text == "MAE (lower is better)"
    assert figure.layout.title.text.startswith("MAE (lower is better) against")
    assert "<br>MAE: " in figure.data[0].hovertemplate
