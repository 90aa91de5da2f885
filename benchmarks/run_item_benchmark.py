"""Regenerate the new-item section of benchmarks/RESULTS.md on MovieLens-100K.

For every seed and scenario, the item-side variants are trained (items released from the
cut year on are new; with ``new-user-new-item`` users are split 70/10/20 as well), then
every test item with 13 to 100 held-out ratings is scored: 10 of its ratings form the
query and K others the support (K = 0: content only). Metrics are averaged per item,
then their mean and 95% confidence interval (Student's t) are taken over seeds.

    python benchmarks/run_item_benchmark.py --data path/to/ml-100k

Trained models go to ``--models`` (default ``runs/item-benchmark``) and are reused when
``--reuse`` is given.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from metarec.data import load_movielens_100k  # noqa: E402
from metarec.evaluation.items import evaluate_item_scenario  # noqa: E402
from metarec.evaluation.metrics import mean_confidence_interval  # noqa: E402
from metarec.item_pipeline import train_item_models  # noqa: E402
from metarec.item_training import item_tasks  # noqa: E402
from metarec.models.item_learner import default_item_variants  # noqa: E402
from metarec.serving.item_store import ITEM_MANIFEST  # noqa: E402
from metarec.serving.items import ItemRecommender  # noqa: E402
from metarec.tasks.scenarios import ScenarioSplit  # noqa: E402

from results import header, paired_cell, paired_difference, update_section  # noqa: E402

SCENARIOS = ("new-item", "new-user-new-item")
SHOTS = ("0", "1", "3", "5", "10")
TARGET_SHOTS = ("0", "1", "5")
LATENCY_ITEMS = 40
METRICS = (("mae", "MAE (lower is better)"), ("rmse", "RMSE"),
           ("ndcg@3", "nDCG@3 re-ranking the 10 query users"))
ORDER = ("teacher", "student", "student-text", "ensemble", "content-only", "user-bias",
         "genre-mean", "global-mean")
# Baselines without meta-learning that the verdicts compare the meta-learned variants with.
CLASSICAL = ("content-only", "genre-mean", "user-bias", "global-mean")


def benchmark_variants():
    """Return the default item variants plus a student that reads the text embedding too."""
    variants = default_item_variants()
    variants["student-text"] = replace(variants["student"], use_text=True,
                                       train=replace(variants["student"].train))
    return variants


def train(dataset, out, seed, scenario, reuse):
    if reuse and (out / ITEM_MANIFEST).is_file():
        return
    variants = benchmark_variants() if scenario == "new-item" else None
    train_item_models(dataset, out, seed=seed, scenario=scenario, variants=variants,
                      show_progress=True)


def latency(recommender, dataset):
    """p50 adaptation milliseconds per variant at K=5 on one thread."""
    split = ScenarioSplit.from_dict(recommender.manifest["scenario"])
    tasks = item_tasks(split.held_out_ratings(dataset.ratings, "test"),
                       split.held_out_items("test"), 5)[:LATENCY_ITEMS]
    contents = {t.user_id: recommender.task_encoder.catalogue_content(t.user_id)
                for t in tasks}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rows = []
    try:
        for variant in recommender.variants:
            timings = []
            for task in tasks:
                ratings = dict(zip(task.support_items.tolist(), task.support_ratings.tolist()))
                started = time.perf_counter()
                recommender.adapt_item(variant, ratings, content=contents[task.user_id])
                timings.append((time.perf_counter() - started) * 1000)
            rows.append({"variant": variant, "adapt_p50_ms": np.percentile(timings, 50)})
    finally:
        torch.set_num_threads(threads)
    return rows


def with_ci(frame, keys, columns):
    """Mean and 95% half-width over seeds for each group of ``keys``."""
    out = []
    for key, group in frame.groupby(keys, sort=False):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        for column in columns:
            values = group[column].dropna().to_numpy()
            if len(values) == 0:
                row[column] = (np.nan, np.nan)
            elif len(values) == 1:
                row[column] = (values[0], np.nan)
            else:
                row[column] = mean_confidence_interval(values)
        out.append(row)
    return pd.DataFrame(out)


def fmt(cell, digits=3):
    mean, half = cell
    if np.isnan(mean):
        return "–"
    if np.isnan(half):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {half:.{digits}f}"


def table(frame, metric, shots):
    """Markdown table of ``metric`` with one row per variant and one column per K."""
    wide = frame.pivot(index="variant", columns="shots", values=metric)
    order = [v for v in ORDER if v in wide.index] + [v for v in wide.index if v not in ORDER]
    wide = wide.reindex(order)[[s for s in shots if s in wide.columns]]
    lines = ["| variant | " + " | ".join(f"K={k}" for k in wide.columns) + " |",
             "|---|" + "---|" * len(wide.columns)]
    for variant, row in wide.iterrows():
        lines.append(f"| {variant} | " + " | ".join(fmt(cell) for cell in row) + " |")
    return "\n".join(lines)


def seed_pivot(results):
    """MAE with one row per seed and support size and one column per variant."""
    return results.pivot_table(index=["seed", "shots"], columns="variant", values="mae")


def paired_differences(results, shots):
    """Markdown table of per-seed MAE differences against the classical baselines.

    Every variant is scored on the same items and query users within a seed, so the
    difference per seed removes the spread between seeds' test items, which dominates
    the intervals of the plain MAE.
    """
    by_seed = seed_pivot(results)
    pairs = [(v, b) for v in ("teacher", "student", "ensemble")
             for b in ("content-only", "genre-mean", "user-bias")]
    if "student-text" in by_seed.columns:
        pairs.append(("student-text", "student"))
    lines = ["| difference | " + " | ".join(f"K={k}" for k in shots) + " |",
             "|---|" + "---|" * len(shots)]
    for variant, baseline in pairs:
        if variant not in by_seed.columns or baseline not in by_seed.columns:
            continue
        cells = [paired_cell(by_seed, variant, baseline, k) for k in shots]
        lines.append(f"| {variant} − {baseline} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def target_check(results):
    """Return a line per meta-learned variant and K: which classical baselines it beats.

    A variant is better than a baseline only when the 95% interval of their paired
    per-seed MAE difference lies below 0, and worse only when it lies above 0. Otherwise
    the difference is within noise, and with one seed there is no interval to decide by.
    """
    by_seed = seed_pivot(results)
    means = results.groupby(["variant", "shots"])["mae"].mean()
    baselines = [b for b in CLASSICAL if b in by_seed.columns]
    lines = []
    for variant in ("teacher", "ensemble"):
        if variant not in by_seed.columns:
            continue
        for k in TARGET_SHOTS:
            groups = {"better than": [], "within noise of": [], "worse than": [],
                      "undecided, one seed, against": []}
            for baseline in baselines:
                mean, half = paired_difference(by_seed, variant, baseline, k)
                if np.isnan(mean):
                    continue
                if np.isnan(half):
                    groups["undecided, one seed, against"].append(f"{baseline} ({mean:+.3f})")
                    continue
                cell = f"{baseline} ({mean:+.3f} ± {half:.3f})"
                if mean + half < 0:
                    groups["better than"].append(cell)
                elif mean - half > 0:
                    groups["worse than"].append(cell)
                else:
                    groups["within noise of"].append(cell)
            found = [f"{verdict} " + ", ".join(cells) for verdict, cells in groups.items()
                     if cells]
            if not found:
                continue
            lines.append(f"- {variant} at K={k} (MAE {means.get((variant, k), np.nan):.3f}): "
                         + "; ".join(found) + ".")
    return lines


def main(argv=None):
    # Training times of the 2026-12-05 run in RESULTS.md ("Total training time per seed").
    parser = argparse.ArgumentParser(description=(
        f"{__doc__.splitlines()[0]} On 2 CPU cores a full run trains for about 8 to 9 "
        f"minutes (110 to 120 s per new-item seed, 40 to 75 s per new-user-new-item seed, "
        f"3 seeds each), then evaluates; --reuse skips the training."))
    parser.add_argument("--data", default=os.environ.get("METAREC_DATA_DIR"),
                        help="MovieLens-100K folder (default: $METAREC_DATA_DIR)")
    parser.add_argument("--models", default=str(ROOT / "runs" / "item-benchmark"),
                        help="folder for the trained models (subfolder SCENARIO/seed-N) and "
                             "the result CSV files (default: runs/item-benchmark in the "
                             "repository)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2],
                        help="seeds of the split and of training; results are averaged over "
                             "them (default: 0 1 2)")
    parser.add_argument("--shots", nargs="+", default=list(SHOTS),
                        help=f"support sizes K, integers from 0 (default: {' '.join(SHOTS)})")
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS),
                        help=f"scenarios to run (default: {' '.join(SCENARIOS)})")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse the models of a seed whose folder already has an "
                             "item_manifest.json, instead of training them again")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for evaluation (default 1; the networks are "
                             "too small to gain from more)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"),
                        help="Markdown file whose new-item section is replaced (default: "
                             "benchmarks/RESULTS.md)")
    args = parser.parse_args(argv)
    if not args.data:
        parser.error("pass --data or set METAREC_DATA_DIR to a MovieLens-100K folder")
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    command = "python benchmarks/run_item_benchmark.py " + " ".join(
        a if a != args.data else "path/to/ml-100k" for a in (argv or sys.argv[1:]))

    dataset = load_movielens_100k(args.data)
    results, timings, sizes = [], [], {}
    for scenario in args.scenarios:
        for seed in tqdm(args.seeds, desc=scenario):
            out = Path(args.models) / scenario / f"seed-{seed}"
            train(dataset, out, seed, scenario, args.reuse)
            recommender = ItemRecommender.load(out, dataset)
            frame = evaluate_item_scenario(recommender, dataset, args.shots, seed=seed)
            frame.insert(0, "seed", seed)
            frame.insert(0, "scenario", scenario)
            results.append(frame)
            manifest = recommender.manifest
            for row in latency(recommender, dataset):
                entry = manifest["variants"].get(row["variant"], {})
                timings.append({"scenario": scenario, "seed": seed, **row,
                                "parameters": entry.get("parameters", np.nan),
                                "train_seconds": entry.get("train_seconds", np.nan),
                                "total_train_seconds": manifest["train_seconds"]})
            sizes[(scenario, seed)] = len(ScenarioSplit.from_dict(
                manifest["scenario"]).new_items)
    results = pd.concat(results, ignore_index=True)
    timings = pd.DataFrame(timings)
    Path(args.models).mkdir(parents=True, exist_ok=True)
    results.to_csv(Path(args.models) / "results.csv", index=False)
    timings.to_csv(Path(args.models) / "efficiency.csv", index=False)
    write_report(args, command, dataset, results, timings, sizes)


def seeds_phrase(seeds) -> str:
    """Return "For each of the seeds 0, 1, 2", or "For seed 0" when there is one."""
    if len(seeds) == 1:
        return f"For seed {seeds[0]}"
    return f"For each of the seeds {', '.join(map(str, seeds))}"


def write_report(args, command, dataset, results, timings, sizes):
    seeds = sorted(results.seed.unique())
    lines = [
        "## New item on MovieLens-100K",
        "",
        header(command, [dataset]),
        f"Data: {dataset.summary()}. Items released in the cut year (1997) or later are new "
        f"({', '.join(f'{n} items' for n in sorted(set(sizes.values())))}); their ratings "
        "never reach training. Half of them, drawn with the seed, are validation items "
        f"(early stopping, ensemble weights) and half are test items. {seeds_phrase(seeds)}, "
        "every test item with 13 to 100 held-out ratings "
        "is a task: 10 random ratings form the query and K others the support (K=0: the "
        "item's content alone). Metrics are averaged per item; cells show the mean over "
        "seeds"
        + (" ± the 95% confidence half-width (Student's t)." if len(seeds) > 1 else
           " (one seed, so no interval)."),
        "",
        "Variants: `teacher` (wide network reading the all-MiniLM-L6-v2 embedding of the "
        "item's title, genres and year), `student` (small network on genres, year band and "
        "hashed title words, distilled from the adapted teacher), `student-text` (the "
        "student reading the text embedding as well, new-item only), `ensemble` (convex "
        "blend of teacher, student, content-only and user-bias, weights per support size "
        "fitted on validation items), `content-only` (ridge regression from content "
        "features and text embedding to the item bias, plus the user's bias), `user-bias` "
        "(mean + user bias + shrunk support residual), `genre-mean` (mean of the training "
        "item means that share the item's genres, moved toward the support ratings) and "
        "`global-mean`.",
        "",
    ]
    for scenario in args.scenarios:
        part = results[results.scenario == scenario]
        ci = with_ci(part, ["variant", "shots"], [m for m, _ in METRICS])
        counts = part.groupby("shots")["items"].mean().reindex(args.shots).dropna()
        title = ("New item, known users" if scenario == "new-item"
                 else "New item and new user (test users are new: demographics only)")
        lines += [f"### {title} (`{scenario}`)", "",
                  "Test items scored per seed (mean over seeds): "
                  + ", ".join(f"K={k}: {n:.0f}" for k, n in counts.items()) + ".", ""]
        for metric, label in METRICS:
            lines += [f"#### {label}", "", table(ci, metric, args.shots), ""]
        lines += ["Teacher and ensemble against every classical baseline: the paired "
                  "per-seed MAE difference (variant minus baseline), mean over seeds ± the "
                  "95% confidence half-width. Better or worse only where the interval "
                  "excludes 0:", "", *target_check(part), "",
                  "#### Paired MAE differences (negative: the first is better)", "",
                  "Per seed, the difference of two variants' MAE on the same test items and "
                  "query users; mean over seeds ± the 95% confidence half-width.", "",
                  paired_differences(part, args.shots), ""]

    eff = timings.groupby(["scenario", "variant"], sort=False).agg(
        parameters=("parameters", "mean"), train_seconds=("train_seconds", "mean"),
        adapt_p50_ms=("adapt_p50_ms", "mean")).reset_index()
    lines += ["### Efficiency", "",
              "Parameters, meta-training wall time per network and the median adaptation "
              f"latency per item at K=5 (over {LATENCY_ITEMS} test items, one thread, text "
              "already embedded), mean over seeds.", "",
              "| scenario | variant | parameters | train seconds | adapt p50 ms |",
              "|---|---|---|---|---|"]
    for row in eff.itertuples(index=False):
        parameters = "–" if np.isnan(row.parameters) else f"{row.parameters:,.0f}"
        seconds = "–" if np.isnan(row.train_seconds) else f"{row.train_seconds:.0f}"
        lines.append(f"| {row.scenario} | {row.variant} | {parameters} | {seconds} | "
                     f"{row.adapt_p50_ms:.2f} |")
    totals = timings.groupby(["scenario", "seed"])["total_train_seconds"].first()
    lines += ["", "Total training time per seed (text embedding, baselines, every network, "
              "ensemble): " + ", ".join(f"{s} seed {seed}: {t:.0f} s"
                                        for (s, seed), t in totals.items()) + ".", ""]
    update_section("new-item", "\n".join(lines), Path(args.out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
