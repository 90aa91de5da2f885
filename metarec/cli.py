"""Command-line interface: ``python -m metarec COMMAND``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from .data import DATA_DIR_ENV, DATASET_NAMES, SAMPLE_DIR, DataFormatError, load_dataset
from .data.download import (
    DEFAULT_TIMEOUT_S,
    MOVIELENS_ARCHIVES,
    DownloadError,
    download_dataset,
)
from .tasks.scenarios import SCENARIOS

MODELS_DIR_ENV = "METAREC_MODELS_DIR"
logger = logging.getLogger("metarec")


def resolve_models_dir(value, dataset_name) -> Path:
    """Return the ``--models``/``--out`` folder, else ``METAREC_MODELS_DIR``, else
    ``models/NAME`` relative to the working directory."""
    if value:
        return Path(value).expanduser()
    if os.environ.get(MODELS_DIR_ENV):
        return Path(os.environ[MODELS_DIR_ENV]).expanduser()
    return Path("models") / dataset_name


def _load(args):
    """Load ``--data`` (a name or path), else ``METAREC_DATA_DIR``, else the sample."""
    options = {"items": args.items_csv, "users": args.users_csv,
               "max_rejected_share": args.max_rejected,
               "rating_scale": tuple(args.rating_scale) if args.rating_scale else None}
    return load_dataset(args.data, **{k: v for k, v in options.items() if v is not None})


def cmd_download(args):
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    bars = []

    def progress(done, total):
        # The bar starts with the first block, so a folder used as is shows none.
        if not bars:
            bars.append(tqdm(desc=args.name, total=total, unit="B", unit_scale=True,
                             unit_divisor=1024, disable=args.quiet))
        bars[0].update(done - bars[0].n)

    # Log lines go above the progress bar instead of through it.
    with logging_redirect_tqdm():
        try:
            folder = download_dataset(args.name, args.dir, timeout=args.timeout,
                                      progress=progress)
        finally:
            for bar in bars:
                bar.close()
    print(f"{args.name} is in {folder}")


def cmd_generate_sample(args):
    from .data.sample import generate_sample

    path = generate_sample(args.out, seed=args.seed, n_users=args.users, n_items=args.items)
    print(f"wrote a synthetic catalogue to {path}")


def cmd_train(args):
    from tqdm.contrib.logging import logging_redirect_tqdm

    from .meta.distributed import close_workers, init_workers
    from .pipeline import train_models

    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    if args.workers > 1 and "WORLD_SIZE" not in os.environ:
        _launch_workers(args.workers, args.argv)
        return
    workers = init_workers()
    try:
        dataset = _load(args)
        out = resolve_models_dir(args.out, dataset.name)
        if workers.is_main:
            print(dataset.summary())
        seeds = args.seeds or [args.seed]
        for seed in seeds:
            target = out / f"seed-{seed}" if args.seeds else out
            # Per-epoch log lines go above the progress bars instead of through them.
            with logging_redirect_tqdm():
                manifest = train_models(dataset, target, seed=seed, epochs=args.epochs,
                                        show_progress=not args.quiet, scenario=args.scenario,
                                        cut_year=args.cut_year)
            if not workers.is_main:
                continue
            summary = json.loads(manifest.read_text())
            print(f"trained in {summary['train_seconds']:.0f} s with {workers.world_size} "
                  f"worker(s); models in {target}")
            _print_table(summary["validation"], "validation items"
                         if args.scenario == "new-item" else "validation users")
    finally:
        close_workers()


def _launch_workers(count, argv):
    """Run this same command as ``count`` torchrun workers on this machine, then exit.

    The workers meet on a free port of 127.0.0.1 and exchange tensors over the loopback
    interface. torchrun stops the other workers as soon as one fails.
    """
    import socket
    import subprocess

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {"GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1", **os.environ}
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={count}",
               "--master-addr=127.0.0.1", f"--master-port={port}", "-m", "metarec",
               *argv]
    logger.info("starting %d workers: %s", count, " ".join(command))
    code = subprocess.run(command, env=environment).returncode
    if code:
        raise SystemExit(code)


def cmd_evaluate(args):
    import pandas as pd
    import torch

    from .evaluation.evaluate import METRICS, evaluate_scenario, saved_scenario
    from .evaluation.metrics import mean_confidence_interval
    from .serving.item_store import ITEM_MANIFEST
    from .serving.items import ItemRecommender
    from .serving.recommender import Recommender
    from .tasks import parse_shots

    if args.threads:
        torch.set_num_threads(args.threads)
    dataset = _load(args)
    root = resolve_models_dir(args.models, dataset.name)
    folders = [root / f"seed-{seed}" for seed in args.seeds] if args.seeds else [root]
    missing = [folder for folder in folders if not folder.is_dir()]
    if args.seeds and missing and (root / "manifest.json").is_file():
        raise ValueError(
            f"--seeds reads one folder per seed (seed-N, written by 'train --seeds'), but "
            f"{str(missing[0])!r} does not exist and {str(root)!r} holds a single set of "
            f"models; leave out --seeds to evaluate it")
    shots = [parse_shots(s) for s in args.shots]

    tables, scenarios = [], []
    for folder in folders:
        if (folder / ITEM_MANIFEST).is_file():
            recommender = ItemRecommender.load(folder, dataset=dataset)
        else:
            recommender = Recommender.load(folder, dataset=dataset)
        saved = saved_scenario(recommender.manifest)
        scenario = saved.scenario
        if scenario != args.scenario:
            raise ValueError(
                f"the models in {str(folder)!r} were trained for scenario {scenario!r}, not "
                f"{args.scenario!r}; pass --scenario {scenario} or train for {args.scenario}"
            )
        query_seed = saved.users.seed if args.query_seed is None else args.query_seed
        table = evaluate_scenario(recommender, dataset, shots, part=args.users,
                                  variants=args.variants, seed=query_seed,
                                  min_ratings=args.min_ratings,
                                  max_ratings=args.max_ratings or None,
                                  catalogue=args.catalogue, query_size=args.query_size)
        if table.empty:
            entity = "item" if scenario == "new-item" else "user"
            most = args.max_ratings or "any number of"
            raise ValueError(
                f"no {args.users} {entity} of the models in {str(folder)!r} has between "
                f"{args.min_ratings} and {most} ratings with room for a "
                f"{args.query_size}-rating query and the support. For small data, pass a "
                f"smaller --query-size and --min-ratings (for example --query-size 2 "
                f"--min-ratings 3)")
        table.insert(0, "split_seed", saved.users.seed)
        tables.append(table)
        scenarios.append(saved.to_dict())
    table = pd.concat(tables, ignore_index=True)
    query_seeds = "each split's seed" if args.query_seed is None else args.query_seed
    print(f"{dataset.name}, scenario {args.scenario}, {args.users} users, query "
          f"{args.query_size} ratings "
          f"(query seed: {query_seeds}), models: {', '.join(map(str, folders))}")
    _print_table(table.to_dict(orient="records"), f"{args.users} users")

    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out.with_suffix(".csv"), index=False)
        summary = []
        for (variant, shot), group in table.groupby(["variant", "shots"], sort=False):
            row = {"variant": variant, "shots": shot, "seeds": len(group)}
            for metric in METRICS:
                values = group[metric].dropna().to_numpy() if metric in group else []
                if len(values):
                    mean, half = mean_confidence_interval(values)
                    row[metric] = {"mean": float(mean),
                                   "ci95": None if half != half else float(half)}
            summary.append(row)
        out.with_suffix(".json").write_text(json.dumps(
            {"dataset": dataset.name, "fingerprint": dataset.fingerprint(),
             "scenario": args.scenario, "users": args.users,
             "models": [str(f) for f in folders], "splits": scenarios,
             "summary": summary, "results": _records(table)}, indent=1))
        print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.json')}")


def _records(frame):
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def _print_table(records, title):
    """Print query MAE by variant and K, as mean ± 95% interval when seeds repeat."""
    import pandas as pd

    from .evaluation.metrics import mean_confidence_interval

    frame = pd.DataFrame(records)
    if frame.empty:
        print(f"no {title} had enough ratings to score")
        return

    def cell(values):
        values = values.dropna().to_numpy()
        if len(values) == 0:
            return "-"
        if len(values) == 1:
            return f"{values[0]:.4f}"
        mean, half = mean_confidence_interval(values)
        return f"{mean:.4f} ± {half:.4f}"

    order = list(dict.fromkeys(frame["variant"]))
    columns = list(dict.fromkeys(frame["shots"]))
    wide = frame.groupby(["variant", "shots"])["mae"].apply(cell).unstack("shots")
    wide = wide.reindex(index=order, columns=columns)
    wide.columns = [f"MAE K={c}" for c in wide.columns]
    entity = "items" if "items" in frame and "users" not in frame else "users"
    print(f"\n{title}: query MAE by support size K ({int(frame[entity].max())} {entity})")
    print(wide.to_string())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m metarec",
        description="Meta-learned recommenders for new users with few ratings.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log per-epoch progress and timings")
    commands = parser.add_subparsers(dest="command", required=True)

    data_help = (f"dataset name ({', '.join(DATASET_NAMES)}), a folder in the "
                 f"MovieLens-100K or -1M layout, a folder with ratings.csv, or a ratings "
                 f"CSV file (default: ${DATA_DIR_ENV}, else the bundled sample)")

    sample = commands.add_parser("generate-sample", help="write the synthetic sample catalogue")
    sample.add_argument("--out", default=str(SAMPLE_DIR), help="output folder")
    sample.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sample.add_argument("--users", type=int, default=500, help="number of users (default 500)")
    sample.add_argument("--items", type=int, default=400, help="number of items (default 400)")
    sample.set_defaults(func=cmd_generate_sample)

    fetch = commands.add_parser(
        "download", help="download and verify a MovieLens dataset",
        description="Download a MovieLens archive from GroupLens, check its MD5 and unzip "
                    "it. A folder that already contains the files is used as is.")
    fetch.add_argument("name", choices=list(MOVIELENS_ARCHIVES), help="dataset to download")
    fetch.add_argument("--dir", help=f"folder to unzip into (default: ${DATA_DIR_ENV} or "
                                     f"its subfolder NAME, else NAME in the user cache "
                                     f"directory)")
    fetch.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                       help=f"seconds to wait for the server before giving up "
                            f"(default {DEFAULT_TIMEOUT_S:g})")
    fetch.add_argument("--quiet", action="store_true", help="hide the progress bar")
    fetch.set_defaults(func=cmd_download)

    train = commands.add_parser("train", help="meta-train every variant and save them")
    _add_data_arguments(train, data_help)
    train.add_argument("--out", help=f"models folder (default: ${MODELS_DIR_ENV}, else "
                                     f"models/DATASET_NAME)")
    train.add_argument("--seed", type=int, default=0, help="seed of the user split and training")
    train.add_argument("--seeds", type=int, nargs="+",
                       help="train once per seed into OUT/seed-N (for evaluate --seeds)")
    train.add_argument("--scenario", choices=SCENARIOS, default="new-user",
                       help="cold-start scenario (default: new-user); new-item trains the "
                            "item-side models")
    train.add_argument("--cut-year", type=float,
                       help="new-user-new-item: items released in this year or later are "
                            "new (default: the year that makes about 20%% of items new)")
    train.add_argument("--epochs", type=int, help="maximum epochs per variant (default: each "
                                                  "variant's own)")
    train.add_argument("--quiet", action="store_true",
                       help="hide progress bars and per-epoch log lines")
    train.add_argument("--workers", type=int, default=1,
                       help="worker processes on this machine that share each meta-batch, "
                            "started with torchrun (default 1: no torchrun); see also "
                            "'torchrun --nproc-per-node N -m metarec train'")
    train.set_defaults(func=cmd_train)

    evaluate = commands.add_parser("evaluate", help="score trained variants on held-out users")
    _add_data_arguments(evaluate, data_help)
    evaluate.add_argument("--models", help="models folder written by train")
    evaluate.add_argument("--scenario", choices=SCENARIOS, default="new-user",
                          help="cold-start scenario the models were trained for "
                               "(default: new-user)")
    evaluate.add_argument("--seeds", type=int, nargs="+",
                          help="evaluate MODELS/seed-N for each seed and report mean ± 95%% "
                               "interval (train with --seeds)")
    evaluate.add_argument("--shots", nargs="+", default=["1", "5", "all"],
                          help="support sizes K, integers or 'all' (default: 1 5 all)")
    evaluate.add_argument("--users", choices=("test", "validation", "train"), default="test",
                          help="which users of the saved split to score (default: test)")
    evaluate.add_argument("--variants", nargs="+", help="variants to score (default: all)")
    evaluate.add_argument("--query-seed", type=int,
                          help="seed of the query and support draw (default: the models' "
                               "split seed, as the benchmark uses)")
    evaluate.add_argument("--catalogue", action="store_true",
                          help="also rank the whole catalogue (nDCG, precision and recall "
                               "at 10); slower")
    evaluate.add_argument("--min-ratings", type=int, default=13,
                          help="leave out users with fewer ratings (default 13)")
    evaluate.add_argument("--query-size", type=int, default=10,
                          help="ratings in each query set (default 10)")
    evaluate.add_argument("--max-ratings", type=int, default=100,
                          help="leave out users with more ratings (default 100; 0 for no "
                               "limit)")
    evaluate.add_argument("--threads", type=int, help="torch threads")
    evaluate.add_argument("--out", help="write results to OUT.csv and OUT.json")
    evaluate.set_defaults(func=cmd_evaluate)
    return parser


def _add_data_arguments(parser, data_help):
    parser.add_argument("--data", help=data_help)
    parser.add_argument("--items-csv", help="items CSV for a ratings CSV file: item_id and "
                                            "optionally title, genres ('|'-separated), year")
    parser.add_argument("--users-csv", help="users CSV for a ratings CSV file: user_id and "
                                            "optionally age, gender, occupation, zip_code")
    parser.add_argument("--rating-scale", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        help="lowest and highest rating of CSV data (default: read from "
                             "the data)")
    parser.add_argument("--max-rejected", type=float,
                        help="share of invalid CSV rows (0 to 1) above which a file is "
                             "rejected as a whole (default 0.1)")


def main(argv=None) -> int:
    from .meta.distributed import WorkerError
    from .serving.store import ModelsDirectoryError

    args = build_parser().parse_args(argv)
    # Kept so that train --workers can start the same command under torchrun.
    args.argv = sys.argv[1:] if argv is None else list(argv)
    progress_lines = args.command in ("train", "download") and not args.quiet
    level = logging.INFO if args.verbose or progress_lines else logging.WARNING
    if int(os.environ.get("RANK", 0)) > 0:
        # torchrun workers other than rank 0 log warnings and errors only.
        level = logging.WARNING
    logging.basicConfig(level=level,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    try:
        args.func(args)
    except (FileNotFoundError, FileExistsError, DataFormatError, DownloadError,
            ModelsDirectoryError, ValueError, WorkerError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
