"""Regenerate benchmarks/RESULTS.md: the new-user protocol on MovieLens-100K.

For every seed, users are split at random (70/10/20), every variant is trained on the
meta-train users, and test users with 13-100 ratings are scored with 10 query ratings and
K support ratings for each K. Metrics are averaged per user, then their mean and 95%
confidence interval (Student's t) are taken over seeds. The run also measures
efficiency, generalization (meta-train users against test users) and sanity controls.

    python benchmarks/run_benchmark.py --data path/to/ml-100k

Trained models go to ``--models`` (default ``runs/benchmark``) and are reused when
``--reuse`` is given.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats
from threadpoolctl import threadpool_limits
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from metarec.data import load_movielens_100k  # noqa: E402
from metarec.evaluation.evaluate import METRICS, evaluate_tasks, score_tasks  # noqa: E402
from metarec.evaluation.metrics import mean_confidence_interval, ndcg_at_k  # noqa: E402
from metarec.evaluation.rounding import WholeStarRounding  # noqa: E402
from metarec.pipeline import train_models  # noqa: E402
from metarec.serving.recommender import Recommender  # noqa: E402
from metarec.tasks import make_tasks, parse_shots  # noqa: E402

from results import header, paired_cell, update_section  # noqa: E402

SHOTS = ("1", "3", "5", "10", "20", "all")
NEURAL = ("teacher", "student", "finetune", "melu-1", "melu-5")
LATENCY_USERS = 50
CHANCE_DRAWS = 200
# Largest gap between the shuffled-score nDCG@3 and the chance level that still counts as
# chance: about three standard errors of a mean over ~700 user rankings.
CHANCE_TOLERANCE = 0.02
# Minimum spread of K=5 MAE, in stars, between the best and worst variant for the
# metrics to count as differing; global mean and item mean alone are further apart.
MIN_MAE_SPREAD = 0.05
# Variants whose meta-train and test users are compared in the generalization control.
GAP_VARIANTS = ("teacher", "student")
# Classical baselines of the new-user protocol, which predict ratings without meta-learning.
CLASSICAL = ("user-bias", "mf-als", "item-mean", "global-mean")


def train_seed(dataset, out, seed, reuse, epochs=None) -> float | None:
    """Train ``seed``'s models unless reused; return the 1-minute load average at the start.

    The load shows whether other work shared the cores, which stretches wall time.
    """
    if reuse and (out / "manifest.json").is_file():
        return None
    load = os.getloadavg()[0]
    train_models(dataset, out, seed=seed, epochs=epochs, show_progress=True)
    return load


def latency(recommender, tasks, variant):
    """p50/p95 adaptation and catalogue-scoring milliseconds on one thread.

    One thread for PyTorch and one for the BLAS library under NumPy, which the serving
    fast path uses for its inner steps.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    adapt_ms, score_ms = [], []
    try:
        with threadpool_limits(1):
            for task in tasks[:LATENCY_USERS]:
                ratings = dict(zip(task.support_items.tolist(),
                                   task.support_ratings.tolist()))
                started = time.perf_counter()
                result = recommender.adapt(ratings, variant)
                adapted = time.perf_counter()
                result.predict(recommender.item_ids)
                done = time.perf_counter()
                adapt_ms.append((adapted - started) * 1000)
                score_ms.append((done - adapted) * 1000)
    finally:
        torch.set_num_threads(threads)
    return {"adapt_p50_ms": np.percentile(adapt_ms, 50), "adapt_p95_ms": np.percentile(adapt_ms, 95),
            "score_p50_ms": np.percentile(score_ms, 50), "score_p95_ms": np.percentile(score_ms, 95)}


def evaluate_seed(dataset, models_dir, shots_list):
    recommender = Recommender.load(models_dir, dataset)
    split = recommender.manifest["split"]
    features = recommender.encoder.encode_users(dataset.users)
    seed = split["seed"]
    rows, controls = [], {}

    for shots in tqdm(shots_list, desc=f"seed {seed}: K", leave=False):
        tasks = make_tasks(dataset.ratings, split["test"], parse_shots(shots), seed=seed)
        frame = evaluate_tasks(recommender, tasks, features)
        frame.insert(1, "shots", shots)
        frame.insert(0, "seed", seed)
        rows.append(frame)

    # Generalization: the same protocol on meta-train users (whose ratings trained the
    # models) and on test users, at K=5 and K=all.
    general, general_users = [], []
    for part in ("train", "test"):
        for shots in ("5", "all"):
            users = split[part][:200] if part == "train" else split[part]
            tasks = make_tasks(dataset.ratings, users, parse_shots(shots), seed=seed)
            frame = evaluate_tasks(recommender, tasks, features, catalogue=False)
            frame.insert(1, "shots", shots)
            frame.insert(1, "users_of", part)
            frame.insert(0, "seed", seed)
            general.append(frame)
            if shots == "all":
                general_users.append(user_errors(recommender, tasks, features, seed, part))

    rounded = whole_star_errors(recommender, dataset, split, features, shots_list)

    # Control: a ranking made from randomly permuted query scores is chance level. The
    # chance level itself is the mean nDCG@3 over many random orders of each query.
    tasks = make_tasks(dataset.ratings, split["test"], 5, seed=seed)
    shuffled = evaluate_tasks(recommender, tasks, features, ["student", "teacher"],
                              catalogue=False, shuffle_query_seed=seed)
    controls["shuffled_ndcg@3"] = shuffled["ndcg@3"].mean()
    rng = np.random.default_rng(seed)
    controls["chance_ndcg@3"] = np.mean([
        ndcg_at_k(t.query_ratings, rng.permutation(len(t.query_ratings)), 3)
        for t in tasks for _ in range(CHANCE_DRAWS)])

    # Efficiency: latency at K=10, parameters and training time from the manifest.
    tasks = make_tasks(dataset.ratings, split["test"], 10, seed=seed)
    efficiency = []
    for variant in recommender.variants:
        entry = recommender.manifest["variants"][variant] if variant in recommender.manifest[
            "variants"] else {}
        efficiency.append({"seed": seed, "variant": variant,
                           "parameters": entry.get("parameters", np.nan),
                           "train_seconds": entry.get("train_seconds", np.nan),
                           **latency(recommender, tasks, variant)})
        if variant in recommender.learners:
            losses = entry["train_loss"]
            controls[f"{variant}_train_loss_first_last"] = (losses[0], losses[-1])
    controls["total_train_seconds"] = recommender.manifest["train_seconds"]
    return (pd.concat(rows, ignore_index=True), pd.concat(general, ignore_index=True),
            pd.concat(general_users, ignore_index=True), pd.DataFrame(efficiency), rounded,
            controls)


def user_errors(recommender, tasks, features, seed, part):
    """MAE per user of the teacher and the student, for the generalization control."""
    rows = []
    for variant in GAP_VARIANTS:
        if variant not in recommender.variants:
            continue
        for task, scores in zip(tasks, score_tasks(recommender, variant, tasks, features)):
            rows.append({"seed": seed, "variant": variant, "users_of": part,
                         "user": task.user_id, "mae": np.abs(scores - task.query_ratings).mean()})
    return pd.DataFrame(rows)


def whole_star_errors(recommender, dataset, split, features, shots_list):
    """MAE and RMSE per user after rounding each variant's predictions to whole stars.

    The thresholds (see :class:`WholeStarRounding`) are fitted per variant on the
    validation users' predictions, pooled over every K, and applied to the test users'
    predictions under the main protocol.
    """
    seed = split["seed"]
    low, high = recommender.rating_scale
    levels = np.arange(np.ceil(low), np.floor(high) + 1)
    variants = [v for v in recommender.variants if not recommender.is_ranker(v)]
    validation = [make_tasks(dataset.ratings, split["validation"], parse_shots(shots),
                             seed=seed) for shots in shots_list]
    test = {shots: make_tasks(dataset.ratings, split["test"], parse_shots(shots), seed=seed)
            for shots in shots_list}
    rows = []
    for variant in tqdm(variants, desc=f"seed {seed}: whole stars", leave=False):
        scores, ratings = [], []
        for tasks in validation:
            scores += score_tasks(recommender, variant, tasks, features)
            ratings += [t.query_ratings for t in tasks]
        rounding = WholeStarRounding(levels).fit(np.concatenate(scores),
                                                 np.concatenate(ratings))
        for shots, tasks in test.items():
            errors = [rounding.transform(p) - t.query_ratings
                      for t, p in zip(tasks, score_tasks(recommender, variant, tasks, features))]
            rows.append({"seed": seed, "variant": variant, "shots": shots,
                         "mae": np.mean([np.abs(e).mean() for e in errors]),
                         "rmse": np.mean([np.sqrt((e ** 2).mean()) for e in errors])})
    return pd.DataFrame(rows)


def with_ci(frame, keys, columns):
    """Mean and 95% half-width over seeds for each group of ``keys``."""
    out = []
    for key, group in frame.groupby(keys, sort=False):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        for column in columns:
            values = group[column].dropna().to_numpy()
            if len(values) == 0:
                row[column] = (np.nan, np.nan)
            else:
                row[column] = mean_confidence_interval(values) if len(values) > 1 else (
                    values[0], np.nan)
        out.append(row)
    return pd.DataFrame(out)


def fmt(cell, digits=3):
    mean, half = cell
    if np.isnan(mean):
        return "–"
    if digits == 0:
        return f"{mean:,.0f}"
    if np.isnan(half):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {half:.{digits}f}"


def markdown(frame, index, columns, digits=3):
    header = "| " + " | ".join([index, *columns]) + " |"
    lines = [header, "|" + "---|" * (len(columns) + 1)]
    for _, row in frame.iterrows():
        cells = [fmt(row[c], 0 if c == "parameters" else digits) for c in columns]
        lines.append("| " + " | ".join([str(row[index]), *cells]) + " |")
    return "\n".join(lines)


CURVE_VARIANTS = ("teacher", "student", "ensemble", "finetune", "melu-1", "user-bias", "mf-als")
CURVE_COLOURS = ("#4c6ef5", "#e8590c", "#2b8a3e", "#ae3ec9", "#1098ad", "#868e96", "#f08c00")


def kshot_svg(metrics_ci, shots, metric, label, width=640, height=360,
              reduced=()) -> str:
    """Draw the K-shot curves of ``metric`` (mean over seeds) as a standalone SVG.

    The support sizes in ``reduced`` were scored on fewer users than the others. Each of
    their points is a hollow circle joined to the curve by a dashed segment, and the
    solid curve skips it.
    """
    left, right, top, bottom = 60, 130, 20, 40
    series = {}
    for variant in CURVE_VARIANTS:
        rows = metrics_ci[metrics_ci.variant == variant].set_index("shots")
        if not rows.empty:
            series[variant] = [rows.loc[k, metric][0] if k in rows.index else np.nan
                               for k in shots]
    values = [v for ys in series.values() for v in ys if not np.isnan(v)]
    low, high = min(values), max(values)
    pad = (high - low) * 0.05 or 0.01
    low, high = low - pad, high + pad

    def x(i):
        return left + i * (width - left - right) / max(1, len(shots) - 1)

    def y(v):
        return top + (high - v) / (high - low) * (height - top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>']
    for tick in np.linspace(low + pad, high - pad, 5):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" '
                     f'y2="{y(tick):.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">'
                     f'{tick:.3f}</text>')
    for i, k in enumerate(shots):
        parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 18}" '
                     f'text-anchor="middle">K={k}</text>')
    parts.append(f'<text x="14" y="{top + (height - top - bottom) / 2:.0f}" '
                 f'transform="rotate(-90 14 {top + (height - top - bottom) / 2:.0f})" '
                 f'text-anchor="middle">{label}</text>')
    for n, (variant, ys) in enumerate(series.items()):
        colour = CURVE_COLOURS[n % len(CURVE_COLOURS)]
        points = [(i, v) for i, v in enumerate(ys) if not np.isnan(v)]
        solid = [(i, v) for i, v in points if shots[i] not in reduced]
        parts.append('<polyline points="'
                     + " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in solid)
                     + f'" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i, v in points:
            if shots[i] not in reduced:
                parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" '
                             f'fill="{colour}"/>')
                continue
            before = [(j, w) for j, w in solid if j < i]
            if before:
                j, w = before[-1]
                parts.append(f'<line x1="{x(j):.1f}" y1="{y(w):.1f}" x2="{x(i):.1f}" '
                             f'y2="{y(v):.1f}" stroke="{colour}" stroke-width="1.5" '
                             f'stroke-dasharray="4 3"/>')
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="4" fill="white" '
                         f'stroke="{colour}" stroke-width="1.5"/>')
        parts.append(f'<text x="{width - right + 10}" y="{top + 16 * n + 10}" '
                     f'fill="{colour}">{variant}</text>')
    if reduced:
        note_y = top + 16 * len(series) + 20
        names = ", ".join(f"K={k}" for k in shots if k in reduced)
        for n, text in enumerate(("hollow, dashed:", f"{names} scored", "on fewer users")):
            parts.append(f'<text x="{width - right + 10}" y="{note_y + 14 * n}" '
                         f'fill="#495057">{text}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def reduced_shots(results, shots) -> list[str]:
    """Return the support sizes scored on fewer users per seed than the largest count."""
    counts = results.groupby(["seed", "shots"])["users"].max().unstack("shots")
    full = counts.max(axis=1)
    return [k for k in shots if k in counts.columns
            and (counts[k].dropna() < full[counts[k].notna()]).any()]


def population_note(results, shots, query_size=10) -> str | None:
    """Name the users per K and warn that a K scored on fewer users is not comparable."""
    reduced = reduced_shots(results, shots)
    if not reduced:
        return None
    counts = results.groupby("shots")["users"].mean().reindex(shots).dropna()
    others = sorted({round(n) for k, n in counts.items() if k not in reduced})
    clauses = [f"K={k} is scored on {counts[k]:.0f} users per seed"
               + (f", only those with at least {query_size + int(k)} ratings" if k.isdigit()
                  else "")
               for k in reduced]
    names = " and ".join(f"K={k}" for k in reduced)
    others_text = (f"{others[0]}" if len(others) == 1 else f"{others[0]} to {others[-1]}")
    columns = "column" if len(reduced) == 1 else "columns"
    return (" and ".join(clauses) + f", against {others_text} at every other K. These "
            f"fewer, heavier raters make the {names} {columns} not comparable with the "
            "others.")


def paired_differences(results, shots) -> str:
    """Markdown table of per-seed MAE differences of the student and the ensemble.

    Within a seed every variant is scored on the same test users and query ratings, so
    the difference per seed removes the spread between seeds' test users, which dominates
    the intervals of the plain MAE. The last row compares the ensemble with the classical
    baseline of lowest mean MAE at each K, named in the cell.
    """
    by_seed = results.pivot_table(index=["seed", "shots"], columns="variant", values="mae")
    pairs = [("student", "mf-als"), ("student", "user-bias"), ("student", "melu-1"),
             ("ensemble", "mf-als")]
    lines = ["| difference | " + " | ".join(f"K={k}" for k in shots) + " |",
             "|---|" + "---|" * len(shots)]
    for variant, baseline in pairs:
        if variant in by_seed.columns and baseline in by_seed.columns:
            lines.append(f"| {variant} − {baseline} | "
                         + " | ".join(paired_cell(by_seed, variant, baseline, k)
                                      for k in shots) + " |")
    means = results[results.variant.isin(CLASSICAL)].groupby(["shots", "variant"])[
        "mae"].mean().dropna()
    if "ensemble" in by_seed.columns and not means.empty:
        cells = []
        for k in shots:
            if k not in means.index.get_level_values("shots"):
                cells.append("–")
                continue
            best = means.xs(k, level="shots").idxmin()
            cells.append(f"{paired_cell(by_seed, 'ensemble', best, k)} ({best})")
        lines.append("| ensemble − best classical baseline | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    # Training times of the 2026-12-05 run in RESULTS.md ("Total training time").
    parser = argparse.ArgumentParser(description=(
        f"{__doc__.splitlines()[0]} On 2 CPU cores a full run trains for about 6 to 9 "
        f"minutes (about 2 to 3 minutes per seed, 3 seeds), then evaluates; --reuse skips the "
        f"training."))
    parser.add_argument("--data", default=os.environ.get("METAREC_DATA_DIR"),
                        help="MovieLens-100K folder (default: $METAREC_DATA_DIR)")
    parser.add_argument("--models", default=str(ROOT / "runs" / "benchmark"),
                        help="folder for the trained models (subfolder seed-N per seed) and "
                             "the result CSV files (default: runs/benchmark in the "
                             "repository)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2],
                        help="seeds of the user split and of training; results are averaged "
                             "over them (default: 0 1 2)")
    parser.add_argument("--shots", nargs="+", default=list(SHOTS),
                        help=f"support sizes K, integers or 'all' (default: "
                             f"{' '.join(SHOTS)})")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse the models of a seed whose folder already has a "
                             "manifest.json, instead of training them again")
    parser.add_argument("--epochs", type=int,
                        help="cap every variant's epochs, for a quick trial run (default: "
                             "each variant's own budget); the report then says the numbers "
                             "are not the benchmark's")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"),
                        help="Markdown file whose new-user section is replaced; the charts "
                             "are written beside it (default: benchmarks/RESULTS.md)")
    args = parser.parse_args(argv)
    if not args.data:
        parser.error("pass --data or set METAREC_DATA_DIR to a MovieLens-100K folder")
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    logging.basicConfig(level=logging.WARNING)
    command = "python benchmarks/run_benchmark.py " + " ".join(
        a if a != args.data else "path/to/ml-100k" for a in (argv or sys.argv[1:]))

    dataset = load_movielens_100k(args.data)
    results, general, general_users, efficiency, rounded, controls = [], [], [], [], [], {}
    for seed in args.seeds:
        out = Path(args.models) / f"seed-{seed}"
        load = train_seed(dataset, out, seed, args.reuse, args.epochs)
        r, g, u, e, w, c = evaluate_seed(dataset, out, args.shots)
        c["load_at_start"] = load
        results.append(r)
        rounded.append(w)
        general.append(g)
        general_users.append(u)
        efficiency.append(e)
        controls[seed] = c
    results = pd.concat(results, ignore_index=True)
    general = pd.concat(general, ignore_index=True)
    general_users = pd.concat(general_users, ignore_index=True)
    efficiency = pd.concat(efficiency, ignore_index=True)
    rounded = pd.concat(rounded, ignore_index=True)
    Path(args.models).mkdir(parents=True, exist_ok=True)
    results.to_csv(Path(args.models) / "results.csv", index=False)
    general.to_csv(Path(args.models) / "generalization.csv", index=False)
    general_users.to_csv(Path(args.models) / "generalization-users.csv", index=False)
    efficiency.to_csv(Path(args.models) / "efficiency.csv", index=False)
    rounded.to_csv(Path(args.models) / "whole-stars.csv", index=False)
    write_report(args, command, dataset, results, general, efficiency, rounded, controls,
                 general_users)


def seeds_phrase(seeds) -> str:
    """Return "For each of the seeds 0, 1, 2", or "For seed 0" when there is one."""
    if len(seeds) == 1:
        return f"For seed {seeds[0]}"
    return f"For each of the seeds {', '.join(map(str, seeds))}"


def load_sentence(controls) -> str:
    """Say what the load average was as each seed's training started, where it was measured."""
    loads = [c.get("load_at_start") for c in controls.values()]
    if any(load is None for load in loads):
        return " Some seeds reused saved models, whose training load was not recorded."
    cores = os.cpu_count()
    shared = (f" (above {cores}, other work shared the {cores} cores and stretched the wall "
              "time)" if any(load > cores for load in loads) else "")
    return (" The 1-minute load average at the start of each: "
            + ", ".join(f"{load:.1f}" for load in loads) + shared + ".")


def sanity_checks(results, general, controls, general_users=None):
    """Return ``(name, outcome, detail)`` for each control.

    The outcome is ``"PASS"``, ``"FAIL"`` or, for the generalization gap, ``"INCONCLUSIVE"``
    when the gap points the right way but its 95% interval includes 0.
    ``general_users`` contains the per-user MAE that :func:`user_errors` returns; without it
    the gap's interval is taken over seeds, which is wider.
    """
    checks = []
    random_ndcg = results[(results.variant == "random") & (results.shots == "5")]["ndcg@3"].mean()
    model_ndcg = results[(results.variant == "student") & (results.shots == "5")]["ndcg@3"].mean()
    shuffled = np.mean([c["shuffled_ndcg@3"] for c in controls.values()])
    chance = np.mean([c["chance_ndcg@3"] for c in controls.values()])
    checks.append(("shuffled query scores give chance-level nDCG@3",
                   verdict(abs(shuffled - chance) < CHANCE_TOLERANCE and shuffled < model_ndcg),
                   f"K=5: shuffled student and teacher scores {shuffled:.3f}, chance level "
                   f"{chance:.3f}, random ranker {random_ndcg:.3f}, student {model_ndcg:.3f}"))
    for variant in GAP_VARIANTS:
        checks.append(generalization_check(variant, general, general_users))
    # The ensemble may serve one member unchanged (see SupportSizeEnsemble), and then
    # matches it by construction, so it is left out of this check. A broken metric reads
    # alike for every variant, so the values must differ and spread apart.
    k5 = results[(results.shots == "5") & (results.variant != "ensemble")].groupby(
        "variant")["mae"].mean().dropna()
    spread = k5.max() - k5.min()
    checks.append(("metrics differ across variants",
                   verdict(k5.nunique() == len(k5) and spread > MIN_MAE_SPREAD),
                   f"{len(k5)} variants other than the ensemble: {k5.nunique()} distinct MAE "
                   f"values at K=5 ({k5.round(3).nunique()} at three decimals), from "
                   f"{k5.min():.3f} to {k5.max():.3f}"))
    moved = all(abs(first - last) > 1e-4 for c in controls.values()
                for key, (first, last) in ((k, v) for k, v in c.items() if k.endswith("first_last")))
    checks.append(("training loss changes during meta-training", verdict(moved),
                   "first and last epoch train loss differ for every network and seed"))
    return checks


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def generalization_check(variant, general, general_users=None):
    """Check that ``variant``'s MAE at K=all is lower on meta-train users than on test users.

    PASS needs the 95% interval of test minus train MAE to lie above 0, INCONCLUSIVE means
    the gap is positive but the interval includes 0, and FAIL means train users are not
    better. The two groups are different people, so part of any gap is which people
    they are.
    """
    rows = general[(general.variant == variant) & (general.shots == "all")]
    by_seed = rows.pivot_table(index="seed", columns="users_of", values="mae")
    train_mae, test_mae = by_seed["train"].mean(), by_seed["test"].mean()
    per_user = (None if general_users is None
                else general_users[general_users.variant == variant])
    if per_user is not None and not per_user.empty:
        gap, half, users = welch_gap(per_user)
        interval = (f" ± {half:.3f} by Welch's t over {users['train']} train and "
                    f"{users['test']} test users summed over seeds, with seeds as strata")
        differences = (by_seed["test"] - by_seed["train"]).to_numpy()
        if len(differences) > 1:
            # Welch's interval treats each seed's models as fixed. The spread over
            # seeds also counts what training varies.
            seed_gap, seed_half = mean_confidence_interval(differences)
            interval += f" (over seeds: {seed_gap:+.3f} ± {seed_half:.3f})"
    else:
        differences = (by_seed["test"] - by_seed["train"]).to_numpy()
        gap, half = (mean_confidence_interval(differences) if len(differences) > 1
                     else (differences[0], np.nan))
        interval = "" if np.isnan(half) else f" ± {half:.3f} over seeds"

    if np.isnan(half):
        outcome, note = ("INCONCLUSIVE", ", one seed so no interval") if gap > 0 else (
            "FAIL", "")
    elif gap - half > 0:
        outcome, note = "PASS", ""
    elif gap > 0:
        outcome, note = "INCONCLUSIVE", ", the interval includes 0"
    else:
        outcome, note = "FAIL", ""
    return (f"{variant} scores better on its own meta-train users than on test users",
            outcome,
            f"MAE K=all: train users {train_mae:.3f}, test users {test_mae:.3f}; "
            f"test minus train {gap:+.3f}{interval}{note}")


def welch_gap(per_user, confidence=0.95):
    """Return test minus train MAE, its half-width and the users per group.

    The gap is the mean over seeds of each seed's test-user mean minus train-user mean,
    and its variance sums each group's squared standard error, divided by the number of
    seeds squared. Degrees of freedom follow Welch and Satterthwaite. Users are the
    independent units, so this interval is narrower than one over the seeds' gaps.

    NOTE: each seed's trained models count as fixed, so the interval leaves out training
    randomness, and one person can be scored in several seeds.
    """
    seeds = sorted(per_user.seed.unique())
    gaps, terms, dof_terms = [], [], []
    for seed in seeds:
        means = {}
        for part in ("train", "test"):
            errors = per_user[(per_user.seed == seed) & (per_user.users_of == part)]["mae"]
            errors = errors.dropna().to_numpy()
            if len(errors) < 2:
                raise ValueError(f"seed {seed} has {len(errors)} {part} users with a MAE, "
                                 "but the generalization control needs at least 2 per group. "
                                 "Check that generalization-users.csv covers every seed.")
            term = errors.var(ddof=1) / len(errors) / len(seeds) ** 2
            terms.append(term)
            dof_terms.append(term ** 2 / (len(errors) - 1))
            means[part] = errors.mean()
        gaps.append(means["test"] - means["train"])
    variance = sum(terms)
    dof = variance ** 2 / sum(dof_terms) if sum(dof_terms) > 0 else np.inf
    half = stats.t.ppf(0.5 + confidence / 2, dof) * np.sqrt(variance)
    users = per_user.dropna(subset=["mae"]).groupby("users_of").size().to_dict()
    return float(np.mean(gaps)), float(half), users


def whole_star_section(results, rounded, order, shots) -> list[str]:
    """Markdown for the whole-star comparison, with the change against plain predictions."""
    rounded_ci = with_ci(rounded, ["variant", "shots"], ["mae", "rmse"])
    wide = rounded_ci.pivot(index="variant", columns="shots", values="mae")
    wide = wide.reindex([v for v in order if v in wide.index])[
        [s for s in shots if s in wide.columns]]
    wide.columns = [f"K={c}" for c in wide.columns]
    plain = results.groupby(["variant", "shots"])[["mae", "rmse"]].mean()
    after = rounded.groupby(["variant", "shots"])[["mae", "rmse"]].mean()
    change = (after - plain.reindex(after.index)).dropna()
    return [
        "### What MAE alone rewards: whole-star predictions", "",
        "Ratings are whole stars, and the prediction with the lowest expected absolute "
        "error is the median rating, itself a whole star, whereas models trained for squared "
        "error predict the mean. Rounding predictions at thresholds fitted on validation "
        "users (`metarec.evaluation.rounding.WholeStarRounding`, fitted per variant and "
        "seed) therefore lowers MAE with no better model of the person, and mostly raises RMSE. "
        "The tables above use predictions as the models give them. This table shows how "
        "much of a MAE figure rounding alone can explain, for comparing with results that "
        "do not say how their predictions were rounded.", "",
        markdown(wide.reset_index(), "variant", list(wide.columns)), "",
        f"Against the unrounded predictions, over every variant and K, MAE changes by "
        f"{change['mae'].min():+.3f} to {change['mae'].max():+.3f} and RMSE by "
        f"{change['rmse'].min():+.3f} to {change['rmse'].max():+.3f} (means over seeds).",
        "",
    ]


def write_report(args, command, dataset, results, general, efficiency, rounded, controls,
                 general_users=None):
    seeds = sorted(results.seed.unique())
    metrics_ci = with_ci(results, ["variant", "shots"], list(METRICS))
    order = list(dict.fromkeys(results.variant))
    lines = [
        "## New user on MovieLens-100K",
        "",
        header(command, [dataset]),
        *([f"**Epochs capped at {args.epochs} (`--epochs`): a trial run, not the "
           "benchmark's configuration.**", ""] if args.epochs else []),
        f"Data: {dataset.summary()}, scenario `new-user`. {seeds_phrase(seeds)}, users "
        "are split at random into meta-train "
        "(70%), validation (10%) and test (20%); every model is trained on meta-train users "
        "only. Test users with 13 to 100 ratings are scored: 10 random ratings form the "
        "query and K others the support (`all`: every other rating). Metrics are averaged "
        "per user; cells show the mean over seeds"
        + (" ± the 95% confidence half-width (Student's t)" if len(seeds) > 1 else
           " (one seed, so no interval)")
        + ". Catalogue metrics rank every item outside the support; relevant "
        "items are query items rated 4 or 5.",
        "",
    ]
    for metric, title in (("mae", "MAE (lower is better)"), ("rmse", "RMSE"),
                          ("ndcg@3", "nDCG@3 re-ranking the 10 query items"),
                          ("ndcg@1", "nDCG@1 re-ranking the 10 query items"),
                          ("catalogue_ndcg@10", "Catalogue nDCG@10"),
                          ("precision@10", "Catalogue precision@10"),
                          ("recall@10", "Catalogue recall@10"),
                          ("auc", "AUC of like (rating ≥ 4) against dislike on the query")):
        wide = metrics_ci.pivot(index="variant", columns="shots", values=metric)
        wide = wide.reindex(order)[[s for s in args.shots if s in wide.columns]]
        wide.columns = [f"K={c}" for c in wide.columns]
        lines += [f"### {title}", "", markdown(wide.reset_index(), "variant", list(wide.columns)), ""]
    mae_end = lines.index("### RMSE") if "### RMSE" in lines else len(lines)
    note = population_note(results, args.shots)
    lines[mae_end:mae_end] = ([note, ""] if note else []) + [
        "#### Paired MAE differences (negative: the first is better)", "",
        "Per seed, the difference of two variants' MAE. Within a seed every variant is "
        "scored on the same test users and query ratings, so the difference removes the "
        "spread between seeds' test users. Cells show the mean over seeds ± the 95% "
        "confidence half-width.", "",
        paired_differences(results, args.shots), ""]
    out_dir = Path(args.out).parent
    reduced = reduced_shots(results, args.shots)
    for metric, label in (("mae", "MAE"), ("ndcg@3", "nDCG@3")):
        name = f"kshot_{metric.replace('@', '')}.svg"
        (out_dir / name).write_text(kshot_svg(metrics_ci, args.shots, metric, label,
                                              reduced=reduced))
        lines.insert(lines.index("### MAE (lower is better)"),
                     f"![{label} against K, mean over seeds]({name})\n")
    if reduced:
        lines.insert(lines.index("### MAE (lower is better)"),
                     f"In the charts a hollow circle on a dashed segment marks "
                     f"{', '.join(f'K={k}' for k in reduced)}, scored on fewer users than the "
                     "other points.\n")
    counts = results.groupby("shots")["users"].mean().reindex(args.shots).dropna()
    lines.insert(lines.index("### MAE (lower is better)"),
                 "Test users scored per seed (mean over seeds; a user needs 10 + K ratings, so "
                 "fewer qualify at larger K): "
                 + ", ".join(f"K={k}: {n:.0f}" for k, n in counts.items()) + ".\n")

    eff = with_ci(efficiency, ["variant"], ["parameters", "train_seconds", "adapt_p50_ms",
                                            "adapt_p95_ms", "score_p50_ms", "score_p95_ms"])
    lines += ["### Efficiency", "",
              "Trainable parameters; meta-training wall time per variant; adaptation latency "
              f"per user at K=10 and scoring latency for the whole catalogue ({len(dataset.items):,} "
              f"items), p50 and p95 over {LATENCY_USERS} test users on one thread.", "",
              markdown(eff, "variant", ["parameters", "train_seconds", "adapt_p50_ms",
                                        "adapt_p95_ms", "score_p50_ms", "score_p95_ms"], 2), "",
              "Total training time of every variant per seed: "
              + ", ".join(f"{c['total_train_seconds']:.0f} s" for c in controls.values()) + "."
              + load_sentence(controls), ""]

    gen = with_ci(general, ["variant", "users_of", "shots"], ["mae", "ndcg@3"])
    gen = gen[gen.variant.isin(NEURAL + ("ensemble", "user-bias", "mf-als"))]
    gen["row"] = gen.variant + " / " + gen.users_of + " users / K=" + gen.shots
    lines += ["### Generalization", "",
              "The same metrics on meta-train users (up to 200, ratings seen in training) "
              "and on test users (never seen).", "",
              markdown(gen, "row", ["mae", "ndcg@3"]), ""]

    lines += whole_star_section(results, rounded, order, args.shots)

    lines += ["### Sanity controls", "",
              "PASS: the control holds. INCONCLUSIVE: the difference points the expected way "
              "but its 95% interval includes 0. FAIL: the control does not hold.", ""]
    for name, outcome, detail in sanity_checks(results, general, controls, general_users):
        lines.append(f"- {outcome}: {name} ({detail})")
    lines.append("")
    update_section("new-user", "\n".join(lines), Path(args.out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
