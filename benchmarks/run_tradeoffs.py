"""Ablations of the student and the accuracy/cost trade-off, into benchmarks/RESULTS.md.

Run after ``run_benchmark.py``, whose models (one folder per seed) this script reuses:
the teacher each student distils from, the split, the features and the efficiency
measurements. For every seed it meta-trains extra students on the same meta-train users:

- distillation: no distillation, each of the three objectives alone, and all three;
- meta-gradients: second-order MAML, first-order MAML and Meta-SGD, without distillation
  so that only the meta-gradient differs, with their meta-training time;
- inner steps at training (1, 3, 5), chosen by validation error;

then scores them on the test users at K = 1, 5 and all. It also writes the like/dislike
and trade-off sections from the main benchmark's results. Sections written: distillation,
meta-gradients, like-task, trade-off.

    python benchmarks/run_tradeoffs.py --data path/to/ml-100k --models runs/benchmark

With ``--parts`` and no part after it, nothing is trained and only the like-task and
trade-off sections are rewritten, for instance after run_benchmark.py ran again.
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
from metarec.evaluation.evaluate import evaluate_users, saved_scenario  # noqa: E402
from metarec.meta.training import meta_train  # noqa: E402
from metarec.models.variants import build_learner, default_variants  # noqa: E402
from metarec.serving.recommender import Recommender  # noqa: E402
from metarec.ui.evaluation_charts import label_positions  # noqa: E402

from results import RESULTS, code_version, header, update_section  # noqa: E402
from run_benchmark import markdown, with_ci  # noqa: E402

SHOTS = (1, 5, "all")
DISTILLATION = {
    "none": dict(distill_weight=0.0, distill_catalogue_weight=0.0, distill_ranking_weight=0.0),
    "rating": dict(distill_weight=0.5, distill_catalogue_weight=0.0, distill_ranking_weight=0.0),
    "catalogue": dict(distill_weight=0.0, distill_catalogue_weight=0.5,
                      distill_ranking_weight=0.0),
    "ranking": dict(distill_weight=0.0, distill_catalogue_weight=0.0,
                    distill_ranking_weight=0.5),
    "all": dict(distill_weight=0.5, distill_catalogue_weight=0.5, distill_ranking_weight=0.5),
}
ALGORITHMS = ("maml", "fomaml", "metasgd")
TRAIN_STEPS = (1, 3, 5)
# Inner steps of the distillation and algorithm rows: the default student's 5, fixed
# here so that the rows of all seeds compare even if the default changes.
ABLATION_STEPS = 5
# Validation MAE within which fewer inner steps are preferred, as for serving steps.
STEP_TOLERANCE = 0.001


def student_variants(epochs=None) -> dict:
    """Return every extra student this script trains, by row name.

    ``epochs`` caps each one's epoch budget, for a quick trial run.
    """
    base = default_variants(epochs)["student"]
    base = replace(base, learner={**base.learner, "inner_steps": ABLATION_STEPS})
    undistilled = replace(base.train, **DISTILLATION["none"])
    out = {}
    for name, weights in DISTILLATION.items():
        out[f"distill/{name}"] = replace(base, train=replace(base.train, **weights),
                                         distill_from=None if name == "none" else "teacher")
    for algorithm in ALGORITHMS:
        out[f"algorithm/{algorithm}"] = replace(
            base, learner={**base.learner, "algorithm": algorithm}, train=undistilled,
            distill_from=None)
    for steps in TRAIN_STEPS:
        out[f"steps/{steps}"] = replace(
            base, learner={**base.learner, "inner_steps": steps}, train=undistilled,
            distill_from=None)
    # Rows that are the same model are trained once.
    out["algorithm/metasgd"] = out["distill/none"]
    out[f"steps/{ABLATION_STEPS}"] = out["distill/none"]
    return out


def run_seed(dataset, models_dir, parts, epochs=None):
    recommender = Recommender.load(models_dir, dataset)
    manifest = recommender.manifest
    seed = manifest["split"]["seed"]
    scenario = saved_scenario(manifest)
    train = scenario.training_ratings(dataset.ratings)
    validation = scenario.held_out_ratings(dataset.ratings, "validation")
    test = scenario.held_out_ratings(dataset.ratings, "test")
    encoder, prior = recommender.encoder, recommender.prior
    features = encoder.encode_users(dataset.users)
    item_features = np.load(models_dir / "item_features.npy")
    text_path = models_dir / "item_text.npy"
    text = np.load(text_path) if text_path.is_file() else None
    teacher = recommender.learners["teacher"]

    trained, rows = {}, []
    variants = {k: v for k, v in student_variants(epochs).items()
                if k.split("/")[0] in parts}
    for name, spec in tqdm(variants.items(), desc=f"seed {seed}", leave=False):
        key = id(spec)
        if key not in trained:
            learner = build_learner(spec, encoder, item_features, prior, text)
            started, cpu_started = time.perf_counter(), time.process_time()
            history = meta_train(learner, train, validation, encoder, features, prior,
                                 replace(spec.train, seed=seed),
                                 teacher=teacher if spec.distill_from else None, name=name)
            seconds = time.perf_counter() - started
            cpu_seconds = time.process_time() - cpu_started
            learner.requires_grad_(False)
            trained[key] = (learner, history, seconds, cpu_seconds)
        learner, history, seconds, cpu_seconds = trained[key]
        recommender.learners[name] = learner
        frame = evaluate_users(recommender, test, scenario.users.test, features, SHOTS,
                               variants=[name], seed=seed)
        frame.insert(0, "seed", seed)
        frame["train_seconds"] = seconds
        frame["train_cpu_seconds"] = cpu_seconds
        frame["threads"] = torch.get_num_threads()
        frame["commit"] = code_version()
        frame["validation_error"] = min(history.validation_mae)
        frame["serve_steps"] = learner.serve_steps
        rows.append(frame)
    # The default student, for reference, as trained by run_benchmark.py.
    frame = evaluate_users(recommender, test, scenario.users.test, features, SHOTS,
                           variants=["student", "teacher"], seed=seed)
    frame.insert(0, "seed", seed)
    rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def kshot_table(results, prefix, metric, labels):
    frame = results[results.variant.str.startswith(prefix) | results.variant.isin(labels)]
    ci = with_ci(frame, ["variant", "shots"], [metric])
    wide = ci.pivot(index="variant", columns="shots", values=metric)
    wide = wide[[str(s) for s in SHOTS]]
    wide.columns = [f"K={c}" for c in wide.columns]
    order = [v for v in dict.fromkeys(frame.variant)]
    wide = wide.reindex(order).reset_index()
    wide["variant"] = wide["variant"].str.replace(prefix, "", regex=False)
    return markdown(wide, "variant", list(wide.columns[1:]))


def _seeds(results, prefix):
    seeds = sorted(results[results.variant.str.startswith(prefix)].seed.unique())
    return ", ".join(str(int(seed)) for seed in seeds)


def distillation_section(results, provenance):
    lines = ["## Distillation ablation", "", provenance,
             "The student network (see the new-user section) meta-trained with Meta-SGD on "
             "the same meta-train users, with each distillation objective alone, all three, "
             "or none; weights 0.5 each. `rating`: squared error to the adapted teacher's "
             "query predictions; `catalogue`: the same on 32 random catalogue items per "
             "task; `ranking`: KL divergence between the two models' softmax distributions "
             "over those items. Every row trains with 5 inner steps and serves with the "
             "count chosen on validation users. `student` (the default "
             "objectives, rating + catalogue) and `teacher` are the run_benchmark.py models "
             "the ablation was run against, saved in its per-seed files. "
             "Test users, mean over seeds ± 95% half-width; seeds "
             + _seeds(results, "distill/") + ". " + _trained_at(results), ""]
    for metric, title in (("mae", "MAE"), ("ndcg@3", "nDCG@3")):
        lines += [f"### {title}", "",
                  kshot_table(results, "distill/", metric, ("student", "teacher")), ""]
    return "\n".join(lines)


def meta_gradient_section(results, provenance):
    lines = ["## Meta-gradient variants and inner steps", "", provenance,
             "The student network without distillation, meta-trained with second-order MAML "
             "(`maml`), first-order MAML (`fomaml`) and Meta-SGD (`metasgd`, a learned step "
             "size for every adapted parameter element), 5 inner steps each. Serving steps "
             "are then chosen on validation users (the fewest within 0.001 of the best "
             "validation error, per support size). Test users; seeds "
             + _seeds(results, "algorithm/") + " (with one seed, no interval is shown). "
             + _trained_at(results), ""]
    for metric, title in (("mae", "MAE"), ("ndcg@3", "nDCG@3")):
        lines += [f"### {title}", "", kshot_table(results, "algorithm/", metric, ()), ""]
    cost = results[results.variant.str.startswith(("algorithm/", "steps/"))]
    columns = ["train_seconds", "train_cpu_seconds", "validation_error", "serve_steps"]
    threads = _threads_text(cost)
    if "train_cpu_seconds" not in cost:
        cost = cost.assign(train_cpu_seconds=np.nan)
    cost = cost.groupby(["variant", "seed"], sort=False)[columns].first().reset_index()
    ci = with_ci(cost, ["variant"], columns)
    lines += ["### Meta-training time, validation error and serving steps", "",
              "Meta-training time on this machine: `train_seconds` is wall time, "
              "`train_cpu_seconds` the whole process's CPU time (" + threads + "). Other "
              "jobs on the cores stretch wall time but hardly CPU time. Both vary widely "
              "between seeds, because early stopping ends each seed at its own epoch. Then "
              "the best validation MAE over epochs "
              "(validation users, K = 1, 5 and all) and the serving steps chosen (the "
              "count for the largest support-size group).", "",
              markdown(ci, "variant", columns), ""]
    steps = cost[cost.variant.str.startswith("steps/")]
    if not steps.empty:
        mean = steps.groupby("variant", sort=False)["validation_error"].mean()
        # As for serving steps: the fewest within the tolerance of the best.
        close = [k for k, v in mean.items() if v <= mean.min() + STEP_TOLERANCE]
        fewest = min(close, key=lambda k: int(k.split("/")[1]))
        lines += ["Inner steps at training by validation MAE (mean over seeds): "
                  + ", ".join(f"{k}: {v:.4f}" for k, v in mean.items())
                  + f". `{fewest}` is the fewest within {STEP_TOLERANCE} of the lowest.", ""]
        lines += ["### Test MAE by inner steps at training", "",
                  kshot_table(results, "steps/", "mae", ()), ""]
    return "\n".join(lines)


def _trained_at(results) -> str:
    """Say which commit trained the extra students; with --reuse it is an earlier run's."""
    commits = (sorted(results["commit"].dropna().unique()) if "commit" in results else [])
    if not commits:
        return ("The extra students were trained by an earlier run whose commit the saved "
                "results do not record.")
    return "The extra students were trained at " + " and ".join(commits) + "."


def _threads_text(frame) -> str:
    """Say how many torch threads the extra students trained with, e.g. "2 torch threads"."""
    counts = sorted(frame["threads"].dropna().astype(int).unique()) if "threads" in frame \
        else []
    if not counts:
        return "torch threads (their number was not recorded)"
    number = " or ".join(map(str, counts))
    return f"{number} torch thread" + ("" if counts == [1] else "s")


def like_section(main_results, provenance):
    keep = ["student-like", "student", "teacher", "ensemble", "popularity", "random"]
    frame = main_results[main_results.variant.isin(keep)]
    metrics = ["auc", "ndcg@3", "catalogue_ndcg@10", "precision@10", "recall@10"]
    lines = ["## Like/dislike classification", "", provenance,
             "`student-like` is the student's network meta-trained by the same meta-learner "
             "on like/dislike targets (a rating of 4 or more is a like) with a logistic "
             "loss; it scores like probabilities. The rating models rank by predicted "
             "rating. AUC separates liked from disliked query items; the other columns are "
             "the ranking metrics of the new-user section. Test users, mean over seeds ± "
             "95% half-width.", ""]
    for shots in ("1", "5", "all"):
        ci = with_ci(frame[frame.shots == shots], ["variant"], metrics)
        ci = ci.set_index("variant").reindex([v for v in keep if v in set(ci.variant)])
        lines += [f"### K={shots}", "", markdown(ci.reset_index(), "variant", metrics), ""]
    return "\n".join(lines)


def tradeoff_section(main_results, efficiency, provenance, out_dir):
    efficiency = efficiency.copy()
    efficiency["adapt_score_p50_ms"] = efficiency["adapt_p50_ms"] + efficiency["score_p50_ms"]
    accuracy = main_results[main_results.shots.isin(["5", "all"])].pivot_table(
        index=["seed", "variant"], columns="shots", values="mae").reset_index()
    accuracy.columns = ["seed", "variant", "mae_k5", "mae_kall"]
    joined = efficiency.merge(accuracy, on=["seed", "variant"], how="left")
    columns = ["mae_k5", "mae_kall", "parameters", "adapt_p50_ms", "score_p50_ms",
               "adapt_score_p50_ms"]
    ci = with_ci(joined, ["variant"], columns)
    ci = ci[ci.variant != "random"]
    lines = ["## Accuracy against cost", "", provenance,
             "MAE on test users against trainable parameters and one-thread latency at "
             "K=10 (p50 over 50 test users): adapting to the support, scoring the whole "
             "catalogue, and both. Classical baselines have no trainable network; their "
             "parameter count is left blank. The latencies come from run_benchmark.py's "
             "efficiency table, for the same models on the same machine.", "",
             markdown(ci, "variant", columns, 3), "",
             "![MAE at K=all against adaptation plus scoring latency](tradeoff.svg)", ""]
    ratio = _ratios(ci)
    if ratio:
        lines += [ratio, ""]
    (out_dir / "tradeoff.svg").write_text(scatter_svg(ci))
    return "\n".join(lines)


def _ratios(ci):
    rows = ci.set_index("variant")
    if not {"teacher", "student"} <= set(rows.index):
        return ""
    t, s = rows.loc["teacher"], rows.loc["student"]
    return (f"Teacher against student: {t['parameters'][0] / s['parameters'][0]:.1f}× the "
            f"trainable parameters; adaptation {t['adapt_p50_ms'][0] / s['adapt_p50_ms'][0]:.1f}× "
            f"and catalogue scoring {t['score_p50_ms'][0] / s['score_p50_ms'][0]:.1f}× the "
            f"student's p50 time, {t['adapt_score_p50_ms'][0] / s['adapt_score_p50_ms'][0]:.1f}× "
            f"for both together ({s['adapt_score_p50_ms'][0]:.2f} ms for the student).")


def scatter_svg(ci, width=640, height=380) -> str:
    """MAE at K=all against adapt+score p50 milliseconds (log scale), one dot a variant."""
    left, right, top, bottom = 60, 20, 20, 45
    points = [(r.variant, r.adapt_score_p50_ms[0], r.mae_kall[0]) for r in ci.itertuples()
              if not np.isnan(r.mae_kall[0])]
    xs = np.log10([p[1] for p in points])
    ys = np.array([p[2] for p in points])
    x0, x1 = xs.min() - 0.15, xs.max() + 0.15
    y0, y1 = ys.min() - 0.01, ys.max() + 0.01

    def px(v):
        return left + (v - x0) / (x1 - x0) * (width - left - right)

    def py(v):
        return top + (y1 - v) / (y1 - y0) * (height - top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>']
    for tick in range(int(np.floor(x0)), int(np.ceil(x1)) + 1):
        for sub in (1, 2, 5):
            v = tick + np.log10(sub)
            if x0 <= v <= x1:
                parts.append(f'<line x1="{px(v):.1f}" x2="{px(v):.1f}" y1="{top}" '
                             f'y2="{height - bottom}" stroke="#eee"/>')
                parts.append(f'<text x="{px(v):.1f}" y="{height - bottom + 16}" '
                             f'text-anchor="middle">{10 ** v:g}</text>')
    for v in np.linspace(y0 + 0.01, y1 - 0.01, 5):
        parts.append(f'<text x="{left - 6}" y="{py(v) + 4:.1f}" text-anchor="end">'
                     f'{v:.3f}</text>')
    parts.append(f'<text x="{(left + width - right) / 2:.0f}" y="{height - 8}" '
                 'text-anchor="middle">adapt + score p50 (ms, log scale)</text>')
    parts.append(f'<text x="14" y="{(top + height - bottom) / 2:.0f}" transform="rotate(-90 '
                 f'14 {(top + height - bottom) / 2:.0f})" text-anchor="middle">MAE at K=all'
                 '</text>')
    names = [name for name, _, _ in points]
    positions = label_positions([px(x) for x in xs], [height - py(y) for y in ys], names)
    # Offset of the text from its dot and the anchor, for each label position.
    offsets = {"top center": (0, -8, "middle"), "bottom center": (0, 18, "middle"),
               "middle right": (8, 4, "start"), "middle left": (-8, 4, "end")}
    for name, x, y, position in zip(names, xs, ys, positions):
        dx, dy, anchor = offsets[position]
        parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="#4c6ef5"/>')
        parts.append(f'<text x="{px(x) + dx:.1f}" y="{py(y) + dy:.1f}" '
                     f'text-anchor="{anchor}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def main(argv=None):
    # NOTE: the run time below is an estimate, because no full run was timed. RESULTS.md
    # gives the wall times of 5 of the 9 students per seed (about 10 to 25 s each). The
    # 4 distilled ones are taken to cost about as much as the default student (45 s).
    parser = argparse.ArgumentParser(description=(
        f"{__doc__.splitlines()[0]} On 2 CPU cores a full run (3 seeds, 9 extra students "
        f"each) takes an estimated 15 to 20 minutes; --reuse skips seeds already done."))
    parser.add_argument("--data", default=os.environ.get("METAREC_DATA_DIR"),
                        help="MovieLens-100K folder (default: $METAREC_DATA_DIR)")
    parser.add_argument("--models", default=str(ROOT / "runs" / "benchmark"),
                        help="run_benchmark.py's models folder (subfolder seed-N per seed), "
                             "which the ablation CSV files are written to (default: "
                             "runs/benchmark in the repository)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2],
                        help="seeds whose run_benchmark.py models to start from; each needs "
                             "MODELS/seed-N (default: 0 1 2)")
    parser.add_argument("--parts", nargs="*", default=["distill", "algorithm", "steps"],
                        choices=["distill", "algorithm", "steps"],
                        help="ablations to run (default: distill algorithm steps); --parts "
                             "with none trains nothing and rewrites only the like-task and "
                             "trade-off sections from run_benchmark.py's results")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse the per-seed ablation results (MODELS/ablation-seed-N-"
                             "*.csv) saved by an earlier run, instead of training again")
    parser.add_argument("--train-only", action="store_true",
                        help="train and score the extra students, but write no report")
    parser.add_argument("--epochs", type=int,
                        help="cap every extra student's epochs, for a quick trial run "
                             "(default: the student's own budget); the report then says "
                             "the numbers are not the benchmark's")
    parser.add_argument("--out", default=str(RESULTS),
                        help="Markdown file whose sections are replaced; the trade-off "
                             "chart is written beside it (default: benchmarks/RESULTS.md)")
    args = parser.parse_args(argv)
    if not args.data:
        parser.error("pass --data or set METAREC_DATA_DIR to a MovieLens-100K folder")
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    logging.basicConfig(level=logging.WARNING)
    command = "python benchmarks/run_tradeoffs.py " + " ".join(
        a if a != args.data else "path/to/ml-100k" for a in (argv or sys.argv[1:]))

    dataset = load_movielens_100k(args.data)
    models = Path(args.models)
    frames = []
    for seed in args.seeds if args.parts else []:
        # One file per seed and set of parts, so an interrupted run resumes and parts
        # trained by separate runs are reported together.
        saved = models / f"ablation-seed-{seed}-{'-'.join(args.parts)}.csv"
        earlier = sorted(models.glob(f"ablation-seed-{seed}-*.csv"))
        if args.reuse and earlier:
            frames += [pd.read_csv(path, dtype={"shots": str}) for path in earlier]
            continue
        frame = run_seed(dataset, models / f"seed-{seed}", args.parts, args.epochs)
        frame.to_csv(saved, index=False)
        frames.append(frame)
    if args.train_only:
        return
    if frames:
        results = pd.concat(frames, ignore_index=True)
        results["shots"] = results["shots"].astype(str)
        # The reference rows (default student, teacher) appear once per file.
        results = results.drop_duplicates(["seed", "variant", "shots"])

    out = Path(args.out)
    provenance = header(command, [dataset])
    if args.epochs:
        provenance += (f"\n**Epochs of the extra students capped at {args.epochs} "
                       f"(`--epochs`): a trial run, not the benchmark's configuration.**\n")
    if "distill" in args.parts:
        update_section("distillation", distillation_section(results, provenance), out)
    if {"algorithm", "steps"} & set(args.parts):
        update_section("meta-gradients", meta_gradient_section(results, provenance), out)
    main_results = pd.read_csv(models / "results.csv", dtype={"shots": str})
    efficiency = pd.read_csv(models / "efficiency.csv")
    update_section("like-task", like_section(main_results, provenance), out)
    update_section("trade-off", tradeoff_section(main_results, efficiency, provenance,
                                                 out.parent), out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
