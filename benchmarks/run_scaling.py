"""How meta-training and serving costs grow with data, into benchmarks/RESULTS.md.

Two measurements, written as the section ``scaling``:

- meta-training: seconds per epoch and peak resident memory against the number of users
  (the bundled sample, MovieLens-100K and the MovieLens-1M prefix), for 1 worker and for
  2 torchrun workers on this machine. Each run is a fresh process (two under torchrun)
  that meta-trains the teacher's network for a few epochs, without the item-text
  embeddings, so that the language model does not enter the numbers.
- serving: adaptation plus top-10 latency of the student and the teacher against the
  catalogue size (1k, 10k and 100k synthetic items, random weights), on one thread.

Every process runs with one torch thread and talks to the others over 127.0.0.1 only.

    python benchmarks/run_scaling.py --ml100k path/to/ml-100k --ml1m path/to/ml-1m-part
    python benchmarks/run_scaling.py --quick     # 1 epoch, fewer latency repeats

With ``--compare ONE TWO SEEDS``, the section also compares the test MAE of a model
trained by ``train --workers 2`` with one trained by a single process on the same split,
and with the spread over split seeds. Each argument is a JSON file that ``python -m
metarec evaluate ... --out FILE`` wrote; SEEDS comes from ``evaluate --seeds``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from results import header, update_section  # noqa: E402

CATALOGUE_SIZES = (1_000, 10_000, 100_000)
SUPPORT_SIZE = 10
TOP_K = 10
# Latency goal of the student on the largest catalogue, p50 on one thread.
STUDENT_P50_GOAL_MS = 50.0


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Meta-training -------------------------------------------------------------------------

def measure_training(data, epochs, report):
    """Meta-train the teacher network for ``epochs`` epochs and write what it cost.

    Runs in every worker; with torchrun, each worker joins the process group first and
    writes its own report, ``report`` with ``.rank-N`` before the suffix.
    """
    import torch

    from metarec.data import load_dataset
    from metarec.data.features import FeatureEncoder
    from metarec.meta.distributed import close_workers, init_workers
    from metarec.meta.training import meta_train
    from metarec.models.baselines import UserBiasBaseline
    from metarec.models.prior import ItemPrior
    from metarec.models.variants import build_learner, default_variants
    from metarec.tasks.scenarios import make_scenario

    torch.set_num_threads(1)
    libraries_mb = peak_rss_mb()
    workers = init_workers()
    try:
        started = time.perf_counter()
        dataset = load_dataset(data)
        split = make_scenario(dataset, "new-user", seed=0)
        train = split.training_ratings(dataset.ratings)
        validation = split.held_out_ratings(dataset.ratings, "validation")
        encoder = FeatureEncoder.from_dataset(dataset)
        users = encoder.encode_users(dataset.users)
        items = encoder.item_feature_table(dataset.items)
        prior = ItemPrior.from_baseline(UserBiasBaseline().fit(train), encoder)
        spec = default_variants()["teacher"]
        spec = replace(spec, network={**spec.network, "text": False},
                       train=replace(spec.train, epochs=epochs, patience=epochs,
                                     serve_step_candidates=()))
        torch.manual_seed(0)
        learner = build_learner(spec, encoder, items, prior)
        prepared = time.perf_counter() - started
        history = meta_train(learner, train, validation, encoder, users, prior, spec.train,
                             name="teacher", workers=workers)
        path = Path(report)
        if workers.distributed:
            path = path.with_suffix(f".rank-{workers.rank}{path.suffix}")
        path.write_text(json.dumps({
            "dataset": dataset.name, "users": int(dataset.ratings["user_id"].nunique()),
            "items": int(dataset.ratings["item_id"].nunique()),
            "ratings": int(len(dataset.ratings)),
            "meta_train_users": int(train["user_id"].nunique()),
            "workers": workers.world_size, "rank": workers.rank, "epochs": epochs,
            "seconds_per_epoch": history.seconds / epochs, "prepare_seconds": prepared,
            "libraries_rss_mb": libraries_mb, "peak_rss_mb": peak_rss_mb()}))
    finally:
        close_workers()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_training(data, workers, epochs) -> dict:
    """Measure one (dataset, workers) cell in fresh processes; return the merged report."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo",
                   "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        script = [str(Path(__file__).resolve()), "--measure", str(data), "--epochs",
                  str(epochs), "--report", str(report)]
        if workers == 1:
            command = [sys.executable, *script]
        else:
            command = [sys.executable, "-m", "torch.distributed.run",
                       f"--nproc-per-node={workers}", "--master-addr=127.0.0.1",
                       f"--master-port={free_port()}", *script]
        started = time.perf_counter()
        subprocess.run(command, env=environment, check=True)
        wall = time.perf_counter() - started
        reports = sorted(Path(folder).glob("report*.json"))
        parts = [json.loads(p.read_text()) for p in reports]
    if len(parts) != workers:
        raise RuntimeError(f"expected {workers} worker reports for {data}, got {len(parts)}")
    merged = dict(parts[0])
    merged["seconds_per_epoch"] = max(p["seconds_per_epoch"] for p in parts)
    merged["peak_rss_mb"] = max(p["peak_rss_mb"] for p in parts)
    merged["total_rss_mb"] = sum(p["peak_rss_mb"] for p in parts)
    merged["libraries_rss_mb"] = max(p["libraries_rss_mb"] for p in parts)
    merged["wall_seconds"] = wall
    return merged


# Serving latency -----------------------------------------------------------------------

def synthetic_recommender(n_items, seed=0):
    """A :class:`Recommender` over ``n_items`` synthetic items with random weights.

    It has the default student and teacher (with random item-text embeddings), a
    synthetic :class:`FeatureEncoder` and :class:`ItemPrior`, and no classical models.
    """
    import torch

    from metarec.data.features import FeatureEncoder
    from metarec.data.text import EMBEDDING_DIM
    from metarec.models.prior import ItemPrior
    from metarec.models.variants import build_learner, default_variants
    from metarec.serving.recommender import Recommender

    rng = np.random.default_rng(seed)
    genres = [f"genre-{g}" for g in range(18)]
    encoder = FeatureEncoder(item_ids=list(range(1, n_items + 1)), genres=genres,
                             occupations=[f"job-{j}" for j in range(20)])
    items = rng.random((n_items + 1, encoder.n_item_features)).astype(np.float32)
    items[0] = 0
    text = rng.normal(size=(n_items + 1, EMBEDDING_DIM)).astype(np.float32)
    prior = ItemPrior(rng.uniform(2.5, 4.5, n_items + 1), user_shrinkage=5.0)
    torch.manual_seed(seed)
    learners = {}
    for name in ("student", "teacher"):
        learner = build_learner(default_variants()[name], encoder, items, prior, text)
        with torch.no_grad():
            for parameter in learner.net.decision.parameters():
                parameter.normal_(0, 0.1)
        learner.requires_grad_(False)
        learners[name] = learner
    manifest = {"dataset": {"rating_scale": [1, 5]}}
    return Recommender(manifest, encoder, prior, learners, {}, None)


def measure_latency(n_items, repeats, seed=0) -> list[dict]:
    """p50 and p95 of adapt + top-10 for the student and the teacher, in milliseconds."""
    import torch

    torch.set_num_threads(1)
    recommender = synthetic_recommender(n_items, seed)
    rng = np.random.default_rng(seed)
    rows = []
    for variant in ("student", "teacher"):
        for _ in range(3):  # the first call builds the per-item cache
            recommender.adapt({1: 4.0}, variant).top_k(TOP_K)
        adapt_ms, total_ms = [], []
        for _ in range(repeats):
            rated = rng.choice(n_items, SUPPORT_SIZE, replace=False) + 1
            ratings = {int(i): float(rng.integers(1, 6)) for i in rated}
            started = time.perf_counter()
            result = recommender.adapt(ratings, variant)
            adapted = time.perf_counter()
            result.top_k(TOP_K)
            finished = time.perf_counter()
            adapt_ms.append((adapted - started) * 1000)
            total_ms.append((finished - started) * 1000)
        rows.append({"variant": variant, "items": n_items,
                     "adapt_p50": float(np.percentile(adapt_ms, 50)),
                     "p50": float(np.percentile(total_ms, 50)),
                     "p95": float(np.percentile(total_ms, 95))})
    return rows


# Report --------------------------------------------------------------------------------

COMPARED_VARIANTS = ("teacher", "student", "ensemble")


def comparison_table(one_path, two_path, seeds_path) -> str:
    """Test MAE of the 1-worker and 2-worker models against the seed-to-seed interval."""
    def summary(path):
        report = json.loads(Path(path).read_text())
        rows = {(r["variant"], str(r["shots"])): r["mae"] for r in report["summary"]
                if "mae" in r}
        return report, rows

    one_report, one = summary(one_path)
    _, two = summary(two_path)
    seeds_report, seeds = summary(seeds_path)
    count = max(len(seeds_report["models"]), 1)
    lines = [f"Scored on the {one_report['users']} users of {one_report['dataset']} in each "
             f"model's split. `seeds` is the mean ± 95% interval over {count} split seeds of "
             f"single-process models ({', '.join(seeds_report['models'])}), as the scale "
             f"of seed-to-seed spread. They were trained by another run than the two "
             f"compared here, and its code can be older.", "",
             "| variant | K | 1 worker | 2 workers | difference | seeds |",
             "|---|---|---:|---:|---:|---:|"]
    for variant in COMPARED_VARIANTS:
        for shots in ("1", "5", "all"):
            key = (variant, shots)
            if key not in one or key not in two:
                continue
            spread = seeds.get(key)
            interval = (f"{spread['mean']:.4f} ± {spread['ci95']:.4f}"
                        if spread and spread.get("ci95") is not None else "-")
            lines.append(f"| {variant} | {shots} | {one[key]['mean']:.4f} "
                         f"| {two[key]['mean']:.4f} "
                         f"| {two[key]['mean'] - one[key]['mean']:+.4f} | {interval} |")
    return "\n".join(lines)

def load_average() -> tuple:
    return os.getloadavg()


def load_note(loads) -> str:
    """Return the load averages at start and end, and whether the machine was busy.

    The run itself raises the load, so only the load at the start shows whether other
    jobs shared the cores. A 1-minute load of 1 or more is taken as busy.
    """
    start, end = (", ".join(f"{value:.2f}" for value in load) for load in loads)
    text = (f"Load average (1, 5, 15 min) when the runs started and ended: {start} and "
            f"{end}.")
    if loads[0][0] >= 1.0:
        text += (f" Other jobs were using the {os.cpu_count()} cores at the start, so the "
                 "timings are slower and noisier than on a quiet machine; rerun the "
                 "command there for clean numbers.")
    else:
        text += " The machine was otherwise idle at the start."
    return text


def training_table(rows) -> str:
    lines = ["| data | users | rated items | ratings | workers | s / epoch "
             "| RSS after imports (MiB) | peak RSS per worker (MiB) "
             "| peak RSS all workers (MiB) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['users']:,} | {r['items']:,} | {r['ratings']:,} "
                     f"| {r['workers']} | {r['seconds_per_epoch']:.1f} "
                     f"| {r['libraries_rss_mb']:.0f} | {r['peak_rss_mb']:.0f} "
                     f"| {r['total_rss_mb']:.0f} |")
    return "\n".join(lines)


def latency_table(rows) -> str:
    lines = ["| variant | catalogue items | adapt p50 (ms) | adapt + top-10 p50 (ms) "
             "| adapt + top-10 p95 (ms) |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['items']:,} | {r['adapt_p50']:.1f} "
                     f"| {r['p50']:.1f} | {r['p95']:.1f} |")
    return "\n".join(lines)


def write_section(command, training, latency, loads, epochs, repeats, comparison=None):
    student = [r for r in latency if r["variant"] == "student"
               and r["items"] == max(CATALOGUE_SIZES)]
    teacher = [r for r in latency if r["variant"] == "teacher"
               and r["items"] == max(CATALOGUE_SIZES)]
    verdict = ""
    if student:
        p50 = student[0]["p50"]
        verdict = (f"The student recommends from {max(CATALOGUE_SIZES):,} items at p50 "
                   f"{p50:.1f} ms, {'within' if p50 <= STUDENT_P50_GOAL_MS else 'over'} the "
                   f"{STUDENT_P50_GOAL_MS:.0f} ms goal.")
    if teacher:
        verdict += (f" The teacher needs {teacher[0]['p50']:.0f} ms there, nearly all of it "
                    f"in scoring every item with its wider decision layers (192, 96, 48 "
                    f"against the student's 16).")
    text = f"""## Scaling: meta-training workers and catalogue size

{header(command)}
{load_note(loads)}

### Meta-training against users

The teacher's network (without item-text embeddings) meta-trained for {epochs} epoch(s)
of meta-batches of 32 tasks, with validation after each epoch, in a fresh process per
row; 2 workers are started by torchrun and share every meta-batch. *s / epoch* is the
slowest worker's meta-training time divided by the epochs. *RSS after imports* is a
worker's resident memory once torch and metarec are imported, before any data. *Peak
RSS* is the largest resident memory of one worker, data loading included, so the
difference between the two is what the data and training add. Training keeps ratings as
per-user arrays and pads only each meta-batch, and the ALS baseline uses sparse
matrices, so memory follows the number of ratings rather than users × items.

{training_table(training) if training else "No dataset was measured."}

### Adaptation and top-10 against catalogue size

Synthetic catalogues and random weights, one torch thread, {repeats} people per cell,
each with {SUPPORT_SIZE} random ratings; the serving schedule's inner steps. The time
covers adapting and ranking the whole catalogue for the top {TOP_K}. The fast path
(`metarec.serving.fast_path`) computes every item's representation once per loaded
model, and a new person then costs a few matrix products over the catalogue plus a
partial sort.

{latency_table(latency)}

{verdict}
"""
    if comparison:
        text += f"""
### Two workers against one on MovieLens-100K

Every variant trained by `torchrun --nproc-per-node 2 -m metarec train --data ml-100k`
(what `train --workers 2` runs) and by `python -m metarec train --data ml-100k`, both
with split seed 0. Each models folder was scored by `python -m metarec
evaluate --data ml-100k --models FOLDER --out FILE` (query MAE).
The two runs draw the same tasks, but float rounding differs in each meta-step and
early stopping can then pick another epoch, so the models are close rather than equal.

{comparison}
"""
    update_section("scaling", text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ml100k", default=os.environ.get("METAREC_ML100K_DIR"),
                        help="MovieLens-100K folder (default: $METAREC_ML100K_DIR)")
    parser.add_argument("--ml1m", default=os.environ.get("METAREC_ML1M_DIR"),
                        help="MovieLens-1M folder, whole or a prefix of its users "
                             "(default: $METAREC_ML1M_DIR)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="worker counts to measure (default: 1 2)")
    parser.add_argument("--epochs", type=int, help="meta-training epochs per run "
                                                   "(default 2; 1 with --quick)")
    parser.add_argument("--repeats", type=int, help="people per latency cell (default 50; "
                                                    "15 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="1 epoch, 15 people per latency cell, and no ML-1M")
    parser.add_argument("--skip-training", action="store_true",
                        help="measure serving latency only")
    parser.add_argument("--compare", nargs=3, metavar=("ONE", "TWO", "SEEDS"),
                        help="evaluate --out JSON files of a 1-worker model, a 2-worker "
                             "model and single-process models over several seeds")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the tables instead of writing RESULTS.md")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--report", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    epochs = args.epochs or (1 if args.quick else 2)
    if args.measure:
        measure_training(args.measure, epochs, args.report)
        return

    repeats = args.repeats or (15 if args.quick else 50)
    datasets = ["sample", args.ml100k] + ([] if args.quick else [args.ml1m])
    loads = [load_average()]
    training = []
    if not args.skip_training:
        for data in [d for d in datasets if d]:
            for workers in args.workers:
                row = run_training(data, workers, epochs)
                print(f"{row['dataset']}, {workers} worker(s): "
                      f"{row['seconds_per_epoch']:.1f} s/epoch, "
                      f"{row['peak_rss_mb']:.0f} MiB peak per worker", flush=True)
                training.append(row)
    latency = []
    for n_items in CATALOGUE_SIZES:
        for row in measure_latency(n_items, repeats):
            print(f"{row['variant']}, {n_items:,} items: p50 {row['p50']:.1f} ms, "
                  f"p95 {row['p95']:.1f} ms", flush=True)
            latency.append(row)
    loads.append(load_average())

    # Data folders are local paths, so the report shows placeholders as the docstring does.
    placeholders = {args.ml100k: "path/to/ml-100k", args.ml1m: "path/to/ml-1m-part"}
    command = "python benchmarks/run_scaling.py " + " ".join(
        placeholders.get(a, a) for a in (argv if argv is not None else sys.argv[1:]))
    comparison = comparison_table(*args.compare) if args.compare else None
    if args.dry_run:
        print(training_table(training))
        print(latency_table(latency))
        print(comparison or "")
        return
    write_section(command.strip(), training, latency, loads, epochs, repeats, comparison)
    print("wrote the scaling section of benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
