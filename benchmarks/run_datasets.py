"""Record in benchmarks/RESULTS.md how long each dataset takes to load and to train on.

Every dataset given is loaded once and timed. The one named by ``--train`` is then
trained on by the command line under ``/usr/bin/time -v``, which reports the wall time,
the CPU time and the peak resident memory of the whole process, from start-up to the
saved models. The CPU time depends less than the wall time on other load on the machine,
so the load average is recorded too.

    nice python benchmarks/run_datasets.py --ml100k path/to/ml-100k \\
        --ml1m path/to/ml-1m-users-1-2999 --train ml1m

The models go to ``--out`` (default ``runs/ml1m``), which ``.gitignore`` leaves out.
Afterwards the featured variants are scored on the split's test users, whom training
never saw. (The manifest's validation errors come from the users the ensemble's weights
were fitted on, so they flatter the ensemble.)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from metarec.data import load_dataset  # noqa: E402

from results import RESULTS, header, update_section  # noqa: E402

TIME = "/usr/bin/time"
FEATURED = ("teacher", "student", "user-bias", "mf-als", "ensemble")
TEST_SHOTS = ("1", "5", "all")


def load_row(label, source) -> dict:
    started = time.perf_counter()
    dataset = load_dataset(source)
    seconds = time.perf_counter() - started
    return {"label": label, "name": dataset.name, "ratings": dataset.n_ratings,
            "users": len(dataset.users), "items": len(dataset.items),
            "rated_items": dataset.ratings["item_id"].nunique(), "seconds": seconds,
            "dataset": dataset}


def train_with_time(source, out: Path) -> dict:
    """Train every variant with the CLI under ``/usr/bin/time -v`` and parse its report."""
    command = [TIME, "-v", sys.executable, "-m", "metarec", "train", "--data", str(source),
               "--out", str(out), "--quiet"]
    load_before = os.getloadavg()[0]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    load_after = os.getloadavg()[0]
    if completed.returncode != 0:
        raise SystemExit(
            f"training failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    report = completed.stderr
    (out / "time-report.txt").write_text(report)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", report)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report)
    user = re.search(r"User time \(seconds\): ([\d.]+)", report)
    system = re.search(r"System time \(seconds\): ([\d.]+)", report)
    if not (wall and rss and user and system):
        raise SystemExit(f"could not read the report of {TIME} -v:\n{report[-2000:]}")
    seconds = 0.0
    for part in wall.group(1).split(":"):
        seconds = seconds * 60 + float(part)
    manifest = json.loads((out / "manifest.json").read_text())
    return {"wall_seconds": seconds, "peak_rss_mib": int(rss.group(1)) / 1024,
            "cpu_seconds": float(user.group(1)) + float(system.group(1)),
            "load": (load_before, load_after),
            "train_seconds": manifest["train_seconds"], "validation": manifest["validation"],
            "split": manifest["split"]}


def test_errors(dataset, models_dir: Path):
    """Score the featured variants on the split's test users; return a frame and counts.

    The protocol is the new-user benchmark's: test users with 13 to 100 ratings, 10
    random query ratings, K others as support.
    """
    from metarec.evaluation.evaluate import evaluate_tasks
    from metarec.serving.recommender import Recommender
    from metarec.tasks.episodes import make_tasks, parse_shots

    recommender = Recommender.load(models_dir, dataset)
    split = recommender.manifest["split"]
    features = recommender.encoder.encode_users(dataset.users)
    variants = [v for v in FEATURED if v in recommender.variants]
    frames, users = [], {}
    for shots in TEST_SHOTS:
        tasks = make_tasks(dataset.ratings, split["test"], parse_shots(shots),
                           seed=split["seed"])
        users[shots] = len(tasks)
        frame = evaluate_tasks(recommender, tasks, features, variants=variants,
                               catalogue=False)
        frames.append(frame.assign(shots=shots))
    import pandas as pd

    return pd.concat(frames), users


def test_table(frame, users) -> list[str]:
    """Return Markdown table rows of test users' query MAE by support size."""
    means = frame.groupby(["variant", "shots"])["mae"].mean()
    lines = ["| variant | " + " | ".join(f"MAE K={k} ({users[k]} users)"
                                         for k in TEST_SHOTS) + " |",
             "|---|" + "---|" * len(TEST_SHOTS)]
    for variant in FEATURED:
        if (variant, TEST_SHOTS[0]) in means.index:
            lines.append(f"| {variant} | " + " | ".join(
                f"{means[(variant, k)]:.3f}" for k in TEST_SHOTS) + " |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ml100k", help="folder in the MovieLens-100K layout")
    parser.add_argument("--ml1m", help="folder in the MovieLens-1M layout")
    parser.add_argument("--train", choices=("ml100k", "ml1m"), default="ml1m",
                        help="dataset to train on (default ml1m)")
    parser.add_argument("--out", default="runs/ml1m", help="models folder for the training")
    parser.add_argument("--report", default=str(RESULTS),
                        help="Markdown file whose datasets section is replaced (default: "
                             "benchmarks/RESULTS.md)")
    args = parser.parse_args(argv)

    sources = {"sample": "sample", "ml100k": args.ml100k, "ml1m": args.ml1m}
    if not sources[args.train]:
        parser.error(f"pass --{args.train} to train on it")
    labels = {"sample": "bundled sample", "ml100k": "MovieLens-100K",
              "ml1m": "MovieLens-1M folder"}
    loads = [load_row(labels[key], source) for key, source in sources.items() if source]
    trained = train_with_time(sources[args.train], ROOT / args.out)
    trained_row = next(row for row in loads if row["label"] == labels[args.train])
    errors, users = test_errors(trained_row["dataset"], ROOT / args.out)

    command = ["python benchmarks/run_datasets.py"]
    command += [f"--{key} path/to/{key}" for key in ("ml100k", "ml1m") if sources[key]]
    command.append(f"--train {args.train}")
    split = trained["split"]
    lines = [
        "## Datasets: loading and training",
        "",
        header(" ".join(command), [row["dataset"] for row in loads]),
        ("Loading is timed in one process, the first load of each dataset (files in the "
         "page cache after earlier runs)."),
        "",
        ("`items` counts the catalogue (every movie of `movies.dat`, rated or not); `rated` "
         "counts the items with at least one rating, which the scaling section's item "
         "counts refer to."),
        "",
        "| data | name | ratings | users | items | rated | load seconds |",
        "|---|---|---:|---:|---:|---:|---:|",
        *((f"| {r['label']} | {r['name']} | {r['ratings']:,} | {r['users']:,} | "
           f"{r['items']:,} | {r['rated_items']:,} | {r['seconds']:.2f} |") for r in loads),
        "",
        (f"Training on {trained_row['name']} ({trained_row['ratings']:,} ratings): "
         f"`python -m metarec train --data DIR --out {args.out} --quiet` under "
         f"`{TIME} -v`, every variant with its own epoch budget, split seed "
         f"{split['seed']} ({len(split['train'])} meta-train, {len(split['validation'])} "
         f"validation, {len(split['test'])} test users)."),
        "",
        (f"- wall time: {trained['wall_seconds']:,.0f} s (the pipeline's own count, "
         f"without start-up and loading: {trained['train_seconds']:,.0f} s)"),
        f"- CPU time (user + system): {trained['cpu_seconds']:,.0f} s",
        f"- peak resident memory: {trained['peak_rss_mib']:,.0f} MiB",
        (f"- 1-minute load average at start and end: {trained['load'][0]:.1f} and "
         f"{trained['load'][1]:.1f}, on {os.cpu_count()} cores shared with other jobs"),
        "",
        ("Test users' query MAE, split seed 0 only (one seed, so no intervals): users "
         "with 13 to 100 ratings, 10 random query ratings and K others as support, as in "
         "the new-user section. Training never saw these users; the ensemble's weights "
         "were fitted on the validation users."),
        "",
        *test_table(errors, users),
    ]
    update_section("datasets", "\n".join(lines), Path(args.report))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
