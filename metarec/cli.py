"""Command-line interface: ``python -m metarec COMMAND``."""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import math
import os
import shlex
import sys
import time
import urllib.parse
from dataclasses import replace
from pathlib import Path

from tqdm.contrib.logging import logging_redirect_tqdm

from .data import DATA_DIR_ENV, DATASET_NAMES, SAMPLE_DIR, DataFormatError, load_dataset
from .data.download import (
    DEFAULT_TIMEOUT_S,
    MOVIELENS_ARCHIVES,
    DownloadError,
    download_dataset,
)
from .tasks.scenarios import SCENARIOS
from .tasks.split import MAX_SEED

MODELS_DIR_ENV = "METAREC_MODELS_DIR"
# Files that mark a dataset folder, which train must not fill with model files.
DATA_FILE_NAMES = ("u.data", "ratings.dat", "ratings.csv")
# Suffixes of the files that train writes into a models folder.
MODEL_FILE_SUFFIXES = (".pt", ".npz", ".npy")
# The subfolder of a models folder for the item models that go with its user models: train
# --scenario new-item writes them there by default, and the dashboard reads them there.
ITEMS_SUBDIR = "items"
# The metrics that rank the whole catalogue, which evaluate computes only with --catalogue.
CATALOGUE_METRICS = ("catalogue_ndcg@10", "precision@10", "recall@10")
logger = logging.getLogger("metarec")


def resolve_models_dir(value, dataset_name) -> Path:
    """Return the ``--models``/``--out`` folder, else ``METAREC_MODELS_DIR``, else
    ``models/NAME`` relative to the working directory."""
    if value:
        return Path(value).expanduser()
    if os.environ.get(MODELS_DIR_ENV):
        return Path(os.environ[MODELS_DIR_ENV]).expanduser()
    return Path("models") / dataset_name


def item_models_dir(models_dir: Path) -> Path:
    """Return the folder of the item models that go with the models folder ``models_dir``.

    That is its ``items`` subfolder, where the dashboard looks for item models, unless
    ``models_dir`` itself, or one of its ``seed-N`` folders, contains item models, as an
    earlier ``train --scenario new-item`` without ``--out`` left it. The dashboard reads
    item models in the folder itself too, so those are the ones to retrain and evaluate.
    """
    from .serving.item_store import ITEM_MANIFEST

    folders = [models_dir, *(models_dir / f"seed-{seed}" for seed in _seed_folders(models_dir))]
    if any((folder / ITEM_MANIFEST).is_file() for folder in folders):
        return models_dir
    return models_dir / ITEMS_SUBDIR


def _train_out(args, dataset_name) -> Path:
    """Return the folder ``train`` writes to: ``--out``, else the default for its scenario.

    Without ``--out``, item models (``--scenario new-item``) go to
    :func:`item_models_dir` of the default models folder, so that they never share a
    folder with the user models.
    """
    out = resolve_models_dir(args.out, dataset_name)
    if args.scenario == "new-item" and not args.out:
        return item_models_dir(out)
    return out


def _load(args):
    """Load ``--data`` (a name or path), else ``METAREC_DATA_DIR``, else the sample."""
    if args.rating_scale:
        low, high = args.rating_scale
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"--rating-scale needs a finite LOW below HIGH, got {low:g} "
                             f"{high:g}; for ratings from 1 to 5 pass --rating-scale 1 5")
    if args.max_rejected is not None and not 0.0 <= args.max_rejected < 1.0:
        raise ValueError(f"--max-rejected must be at least 0 and below 1, got "
                         f"{args.max_rejected:g}; 0.1 rejects a file when more than 10% of "
                         f"its rows are invalid")
    options = {"items": args.items_csv, "users": args.users_csv,
               "max_rejected_share": args.max_rejected,
               "rating_scale": tuple(args.rating_scale) if args.rating_scale else None}
    options = {key: value for key, value in options.items() if value is not None}
    try:
        return load_dataset(args.data, **options)
    except (FileNotFoundError, NotADirectoryError, DataFormatError) as error:
        from_env = os.environ.get(DATA_DIR_ENV)
        if args.data or not from_env:
            raise
        raise ValueError(_data_dir_env_message(Path(from_env).expanduser(), error)) from None


def _data_dir_env_message(path: Path, error) -> str:
    """Reword ``error`` from reading ``METAREC_DATA_DIR`` so that it names the variable.

    The library's advice ("pass --data or set the variable") does not fit a variable
    that is set already.
    """
    from .data.registry import DataPathError

    if isinstance(error, DataPathError) and error.path == path:
        # The reason starts with the quoted path, which the message names already.
        reason = "which " + error.reason.removeprefix(f"'{error.path}' ")
    elif not path.exists() and str(path) not in DATASET_NAMES:
        reason = "which does not exist"
    else:
        reason = f"which cannot be read: {error}"
    return (f"{DATA_DIR_ENV} is set to {str(path)!r}, {reason.rstrip('.')}; set "
            f"{DATA_DIR_ENV} to a dataset folder or file, unset it to use the bundled "
            f"sample, or pass --data")


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

    if not args.timeout > 0:
        raise ValueError(f"--timeout must be above 0 seconds, got {args.timeout:g}")
    archive = MOVIELENS_ARCHIVES[args.name]
    if args.url:
        scheme = urllib.parse.urlsplit(args.url).scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError(f"--url {args.url!r} is not an http:// or https:// address; "
                             f"pass the whole address of the zip file, such as "
                             f"http://127.0.0.1:8000/{args.name}.zip")
        archive = replace(archive, url=args.url)
    # Log lines go above the progress bar instead of through it.
    with logging_redirect_tqdm():
        try:
            folder = download_dataset(args.name, args.dir, timeout=args.timeout,
                                      progress=progress, archive=archive)
        finally:
            for bar in bars:
                bar.close()
    print(f"{args.name} is in {folder}")


def cmd_generate_sample(args):
    from .data.sample import MAX_ITEMS, MAX_USERS, MIN_ITEMS, MIN_USERS, generate_sample

    for flag, value, low, high in (("--users", args.users, MIN_USERS, MAX_USERS),
                                   ("--items", args.items, MIN_ITEMS, MAX_ITEMS)):
        if not low <= value <= high:
            raise ValueError(f"{flag} must be from {low:,} to {high:,}, got {value}")
    _check_seed_flags(args)
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {args.out!r} is a file; pass a folder (it is created if "
                         f"missing)")
    _check_parent_folders(out, "--out")
    # A folder of ratings is refused by generate_sample itself, unless an earlier sample
    # wrote it: regenerating the bundled sample in place is what the command is for.
    path = generate_sample(out, seed=args.seed, n_users=args.users, n_items=args.items)
    print(f"wrote a synthetic catalogue to {path}")


def cmd_train(args):
    from tqdm.contrib.logging import logging_redirect_tqdm

    from .meta.distributed import close_workers, init_workers
    from .pipeline import train_models

    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    if args.seed is not None and args.seeds:
        raise ValueError(f"--seed {args.seed} and --seeds {' '.join(map(str, args.seeds))} "
                         f"cannot be combined: --seeds trains once per seed into "
                         f"OUT/seed-N, --seed once into OUT; pass only one of them")
    if args.epochs is not None and args.epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {args.epochs}; leave it out to "
                         f"train each variant for its default number of epochs")
    _check_seed_flags(args)
    if args.seeds:
        # torchrun workers run this command again, after the launcher printed the note.
        args.seeds = _unique("--seeds", args.seeds, "trained",
                             note="WORLD_SIZE" not in os.environ)
    if args.out:
        # Checked before any worker starts, instead of after training.
        _check_models_folder(Path(args.out).expanduser(), "--out")
    if args.workers > 1 and "WORLD_SIZE" not in os.environ:
        # Bad data or a bad models folder is reported once, here, rather than by every
        # worker and then by torchrun.
        dataset = _load(args)
        _check_cut_year(args, dataset)
        out = _train_out(args, dataset.name)
        _check_models_folder(out, _models_dir_source(args))
        _check_models_kind(out, args)
        _check_other_data(out, args, dataset)
        _check_other_scenario(out, args)
        _launch_workers(args.workers, args.argv)
        return
    workers = init_workers()
    try:
        dataset = _load(args)
        _check_cut_year(args, dataset)
        out = _train_out(args, dataset.name)
        _check_models_folder(out, _models_dir_source(args))
        # Every worker checks, so that none is left waiting for one that stopped.
        _check_models_kind(out, args)
        _check_other_data(out, args, dataset, note=workers.is_main)
        _check_other_scenario(out, args, note=workers.is_main)
        if workers.is_main:
            print(dataset.summary())
        seeds = args.seeds or [0 if args.seed is None else args.seed]
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
            _print_new_items(summary)
            _print_table(summary["validation"], "validation items"
                         if args.scenario == "new-item" else "validation users")
    finally:
        close_workers()


def _print_new_items(manifest):
    """Print which items the split held out as new, when it held out any."""
    split = manifest.get("scenario") or {}
    new_items, cut_year = split.get("new_items") or [], split.get("cut_year")
    if not new_items:
        return
    chosen = ("drawn at random, because the data has no release years" if cut_year is None
              else f"released in {cut_year:g} or later (--cut-year)")
    print(f"new items: {len(new_items):,}, {chosen}; their ratings never reached training")


def _check_cut_year(args, dataset):
    """Raise ValueError when ``--cut-year`` leaves no new item, before any training."""
    from .tasks.scenarios import check_cut_year

    if args.scenario != "new-user":
        check_cut_year(dataset.items, args.cut_year)
    elif args.cut_year is not None:
        raise ValueError(
            f"--cut-year {args.cut_year:g} has no effect with --scenario new-user, which "
            f"holds out users only; leave --cut-year out, or pass --scenario new-item or "
            f"new-user-new-item to hold out the items released from that year on")


def _models_dir_source(args):
    """Return what set ``train``'s models folder (a flag or a variable), for messages."""
    if args.out:
        return "--out"
    if args.scenario == "new-item":
        return "the default item models folder"
    return MODELS_DIR_ENV if os.environ.get(MODELS_DIR_ENV) else "the default models folder"


def _check_output_folder(folder: Path, source):
    """Raise ValueError when ``folder`` is a file or a dataset folder, before any work.

    ``source`` names where the folder came from (a flag or an environment variable).
    """
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{source} {str(folder)!r} is a file; pass a folder (it is created "
                         f"if missing)")
    _check_parent_folders(folder, source)
    data_files = [name for name in DATA_FILE_NAMES if (folder / name).is_file()]
    if data_files:
        raise ValueError(f"{source} {str(folder)!r} contains a dataset "
                         f"({', '.join(data_files)}); pass another folder, so that model "
                         f"files are not mixed with the data")


def _check_models_folder(folder: Path, source):
    """Raise ValueError when train must not write models into ``folder``.

    That is when :func:`_check_output_folder` rejects it, or when it is a folder that
    contains other files and no models, such as a source checkout. A folder with a metarec
    manifest is a models folder, and retraining keeps its other files.
    """
    _check_output_folder(folder, source)
    if not folder.is_dir() or _has_models_manifest(folder):
        return
    others = sorted(entry.name for entry in folder.iterdir() if not _is_model_entry(entry))
    if not others:
        return
    listed = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5
                                      else "")
    suggestion = folder.absolute().parent / f"{folder.absolute().name}-models"
    raise ValueError(f"{source} {str(folder)!r} contains other files ({listed}) and no "
                     f"metarec models; pass a new or empty folder, such as "
                     f"{str(suggestion)!r}, so that model files are not mixed with other "
                     f"files")


def _check_models_kind(out: Path, args):
    """Raise ValueError when train would put user and item models in one folder.

    evaluate reads a folder's item models first, so user models beside them could not
    be evaluated. The dashboard keeps item models in the ``items`` subfolder instead. A
    folder that already contains both kinds, as an earlier metarec could leave it, may be
    retrained, as the dashboard and the library retrain it.
    """
    from .serving.item_store import ITEM_MANIFEST
    from .serving.store import MANIFEST

    items = args.scenario == "new-item"
    own, other = (ITEM_MANIFEST, MANIFEST) if items else (MANIFEST, ITEM_MANIFEST)
    folders = [out / f"seed-{seed}" for seed in args.seeds] if args.seeds else [out]
    for folder in folders:
        if not (folder / other).is_file() or (folder / own).is_file():
            continue
        if items:
            raise ValueError(
                f"{_models_dir_source(args)} {str(out)!r} contains user models ({MANIFEST}), "
                f"and item models beside them would hide them from evaluate; pass --out "
                f"{str(out / 'items')!r}, where the dashboard looks for item models, or "
                f"another folder")
        raise ValueError(
            f"{_models_dir_source(args)} {str(out)!r} contains item models "
            f"({ITEM_MANIFEST}), and evaluate would read them instead of user models "
            f"trained beside them; pass another --out for the user models (the dashboard "
            f"looks for item models in the items subfolder of the user models' folder)")


def _check_other_data(out: Path, args, dataset, note=True):
    """Raise ValueError when training would replace models of other data, unless --replace.

    Models count as other data's when their manifest names another fingerprint and
    another source. Data read from the same place with another fingerprint is the same
    file edited, and retraining it replaces its models as expected. With --replace,
    ``note`` prints which models are replaced.
    """
    from .serving.item_store import ITEM_MANIFEST
    from .serving.store import MANIFEST

    folders = [out / f"seed-{seed}" for seed in args.seeds] if args.seeds else [out]
    for folder in folders:
        for name in (MANIFEST, ITEM_MANIFEST):
            try:
                manifest = json.loads((folder / name).read_text())
                trained = manifest["dataset"]
                fingerprint, source = trained["fingerprint"], trained.get("source") or None
            except (OSError, ValueError, TypeError, KeyError):
                continue
            if fingerprint == dataset.fingerprint() or source == (dataset.source or None):
                continue
            described = (f"{trained.get('name')!r} ({trained.get('ratings', 0):,} ratings"
                         f"{f', from {source}' if source else ''})")
            if args.replace:
                if not note:
                    continue
                print(f"note: replacing the models of {described} in {str(folder)!r} "
                      f"(--replace)", file=sys.stderr)
                continue
            # Without --out, item models are in a subfolder of the models folder, and
            # the suggestion keeps that layout.
            default_items = (args.scenario == "new-item" and not args.out
                             and out.name == ITEMS_SUBDIR)
            models = out.parent if default_items else out
            suggestion = models.parent / dataset.name
            if suggestion.resolve() == models.resolve():
                suggestion = models.parent / f"{dataset.name}-models"
            if default_items:
                suggestion = suggestion / ITEMS_SUBDIR
            raise ValueError(
                f"{_models_dir_source(args)} {str(out)!r} contains models trained on "
                f"{described}, not on {dataset.name!r} ({dataset.n_ratings:,} ratings), and "
                f"training would replace them; pass another folder, such as "
                f"--out {str(suggestion)!r}, or add --replace to replace them")


def _check_other_scenario(out: Path, args, note=True):
    """Raise ValueError when training would replace user models of another scenario.

    The split of another scenario holds out other users or items, so evaluate --seeds
    could not average the new models with the ones left in the other seed folders.
    Without --replace, train stops; with it, ``note`` prints which models are replaced.
    Item models are left to :func:`_check_models_kind`.
    """
    if args.scenario == "new-item":
        return
    folders = [out / f"seed-{seed}" for seed in args.seeds] if args.seeds else [out]
    for folder in folders:
        split = _saved_split(folder)
        if split is None or split["scenario"] == args.scenario:
            continue
        trained = split["scenario"]
        if args.replace:
            if note:
                print(f"note: replacing the models for scenario {trained!r} in "
                      f"{str(folder)!r} (--replace)", file=sys.stderr)
            continue
        place = "" if folder == out else f" in {str(folder)!r}"
        raise ValueError(
            f"{_models_dir_source(args)} {str(out)!r} contains models trained for scenario "
            f"{trained!r}{place}, and training for {args.scenario!r} would replace them; "
            f"pass --scenario {trained} to retrain them, another --out, or add --replace "
            f"to replace them")


def _has_models_manifest(folder: Path) -> bool:
    """Return whether ``folder`` contains a manifest that metarec wrote."""
    from .serving.item_store import ITEM_MANIFEST
    from .serving.store import MANIFEST

    for name in (MANIFEST, ITEM_MANIFEST):
        try:
            manifest = json.loads((folder / name).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict) and "metarec" in manifest.get("versions", {}):
            return True
    return False


def _is_model_entry(entry: Path) -> bool:
    """Return whether ``entry`` is a file or folder that train writes into a models folder.

    That is a weights or array file, a staged file or lock left by a stopped run, a
    ``seed-N`` folder of ``train --seeds``, or the ``items`` folder of the item models
    that ``train --scenario new-item`` writes beside the user models.
    """
    from .serving.staging import LOCK_NAME, PARTIAL

    if entry.is_dir():
        if entry.name == ITEMS_SUBDIR:
            return _has_models_manifest(entry) or all(
                _is_model_entry(child) for child in entry.iterdir())
        prefix, _, number = entry.name.partition("-")
        return prefix == "seed" and number.isdigit()
    return (entry.suffix in MODEL_FILE_SUFFIXES or entry.name == LOCK_NAME
            or PARTIAL in entry.name)


def _check_parent_folders(path: Path, source):
    """Raise ValueError when a file sits where a parent folder of ``path`` must be created."""
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{source} {str(path)!r} cannot be created because "
                                 f"{str(parent)!r} is a file; pass a path inside a folder")
            return


def _check_writable(path: Path, source):
    """Raise ValueError when no file can be created where ``path`` is, before any work.

    A temporary file in the nearest existing folder above ``path`` tests it, because
    permission bits alone miss read-only file systems, and root passes them anyway.
    """
    import tempfile

    folder = next(parent for parent in path.absolute().parents if parent.exists())
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".metarec-write-test-"):
            pass
    except OSError as error:
        raise ValueError(f"{source} {str(path)!r} cannot be written: creating a file in "
                         f"{str(folder)!r} failed ({error.strerror or error}); pass a path "
                         f"in a folder that you can write to") from None


def _check_replaceable(path: Path, suffixes, source):
    """Raise ValueError when ``path`` with one of ``suffixes`` exists and cannot be replaced.

    Called before any work. :func:`_check_writable` tests the folder, but a file of that
    name can be a folder or read-only. Opening it for update writes nothing.
    """
    for target in (path.with_suffix(suffix) for suffix in suffixes):
        if target.is_dir():
            raise ValueError(f"{source} {str(path)!r} would write {str(target)!r}, which is "
                             f"a folder; pass another name")
        if not target.exists():
            continue
        try:
            with open(target, "r+b"):
                pass
        except OSError as error:
            raise ValueError(f"{source} {str(path)!r} would replace {str(target)!r}, which "
                             f"cannot be written ({error.strerror or error}); make it "
                             f"writable or pass another name") from None


def _missing_models_message(folder: Path, args, dataset) -> str | None:
    """Return why ``folder`` has no models and the command that trains them, or None."""
    from .serving.item_store import ITEM_MANIFEST
    from .serving.store import MANIFEST

    if (folder / MANIFEST).is_file() or (folder / ITEM_MANIFEST).is_file():
        return None
    if folder.exists() and not folder.is_dir():
        return (f"--models {str(folder)!r} is a file; pass the folder that "
                f"'python -m metarec train --out' wrote")
    root = _evaluate_root(args, dataset.name)
    data_files = [name for name in DATA_FILE_NAMES if (root / name).is_file()]
    if data_files:
        return _data_folder_message(root, data_files, args)
    items = _expects_item_models(root, args)
    manifest = ITEM_MANIFEST if items else MANIFEST
    seeds = _seed_folders(folder)
    if not args.seeds and seeds:
        listed = " ".join(map(str, seeds))
        return (f"{str(folder)!r} contains one models folder per seed "
                f"({', '.join(f'seed-{seed}' for seed in seeds)}, written by 'train "
                f"--seeds'), and no {manifest} of its own; add --seeds {listed} to "
                f"evaluate them")
    words = ["python", "-m", "metarec", "train", *_data_flags(args)]
    if items:
        words += ["--scenario", "new-item"]
    else:
        words += _scenario_flags(root, args, dataset)
    requested = list(dict.fromkeys(args.seeds or []))
    trained = [seed for seed in requested if _has_manifest(root / f"seed-{seed}")]
    if trained:
        return _missing_seeds_message(root, requested, trained, manifest, words)
    if args.seeds:
        words += ["--seeds", *map(str, requested)]
    command = shlex.join([*words, "--out", str(root)])
    message = f"no trained models in {str(folder)!r} ({manifest} not found)."
    default = Path("models") / dataset.name
    if items:
        default = item_models_dir(default)
    if default.resolve() != root.resolve() and (default / manifest).is_file():
        kind = "Item models" if items else "Models"
        message += f" {kind} trained on {dataset.name} are in {str(default)!r}: pass " \
                   f"--models {default}."
    # No quotes around the command, because shlex quotes paths with spaces in it.
    return f"{message} To train models there, run: {command}"


def _has_manifest(folder: Path) -> bool:
    """Return whether ``folder`` contains user or item models (their manifest)."""
    from .serving.item_store import ITEM_MANIFEST
    from .serving.store import MANIFEST

    return (folder / MANIFEST).is_file() or (folder / ITEM_MANIFEST).is_file()


def _missing_seeds_message(root: Path, requested, trained, manifest, words) -> str:
    """Say which ``--seeds`` folders of ``root`` lack models, and how to go on.

    Some of the ``requested`` seeds (the ``trained`` ones) have models. ``train --seeds``
    writes only the seed-N folders of the seeds it is given, so ``words``, the start of
    a train command, trains the missing seeds and leaves the others as they are.
    """
    missing = [seed for seed in requested if seed not in trained]
    folders = " and ".join(repr(str(root / f"seed-{seed}")) for seed in missing)
    plural = "s" if len(missing) > 1 else ""
    command = shlex.join([*words, "--seeds", *map(str, missing), "--out", str(root)])
    return (f"no trained models in {folders} ({manifest} not found); seed"
            f"{'s' if len(trained) > 1 else ''} {' '.join(map(str, trained))} "
            f"{'have' if len(trained) > 1 else 'has'} models. To evaluate those, pass "
            f"--seeds {' '.join(map(str, trained))}. To train only the missing seed{plural}, "
            f"leaving the other seed folders as they are, run: {command}")


def _scenario_flags(root: Path, args, dataset) -> list[str]:
    """Return the train flags that repeat the scenario of the user models in ``root``.

    ``--scenario`` decides when given. Otherwise the models already in ``root`` and its
    seed folders do, when they share one scenario and cut year, so that a suggested
    train command adds seeds of the same kind. A cut year is repeated only when it is
    not the one train picks by default.
    """
    from .tasks.scenarios import default_cut_year

    scenario, cut_year = args.scenario, None
    if scenario is None:
        folders = [root, *(root / f"seed-{seed}" for seed in _seed_folders(root))]
        splits = [split for split in map(_saved_split, folders) if split is not None]
        kinds = {(split["scenario"], split["cut_year"]) for split in splits}
        if len(kinds) == 1:
            scenario, cut_year = kinds.pop()
    flags = [] if scenario in (None, "new-user") else ["--scenario", scenario]
    if flags and cut_year is not None and cut_year != default_cut_year(dataset.items):
        flags += ["--cut-year", f"{cut_year:g}"]
    return flags


def _data_folder_message(folder: Path, data_files, args) -> str:
    """Return why the data folder ``folder``, given as ``--models``, contains no models."""
    models = Path("models") / folder.absolute().name
    shaping = _data_flags(args)
    if args.data:
        # Another --data is replaced by the folder; the flags that shape it are kept.
        shaping = shaping[2:]
    options = ["--data", str(folder), *shaping]
    if args.scenario:
        options += ["--scenario", args.scenario]
    if args.seeds:
        options += ["--seeds", *map(str, args.seeds)]
    evaluate = ["python", "-m", "metarec", "evaluate", *options, "--models", str(models)]
    train = ["python", "-m", "metarec", "train", *options, "--out", str(models)]
    return (f"--models {str(folder)!r} is a data folder (it contains "
            f"{', '.join(data_files)}), not a models folder; pass it with --data, and the "
            f"folder that 'train --out' wrote with --models: {shlex.join(evaluate)}. To "
            f"train models there first, run: {shlex.join(train)}")


def _evaluate_root(args, dataset_name) -> Path:
    """Return the folder ``evaluate`` reads: ``--models``, else the default for its scenario.

    Without ``--models``, ``--scenario new-item`` reads :func:`item_models_dir` of the
    default models folder, where ``train --scenario new-item`` writes item models.
    """
    root = resolve_models_dir(args.models, dataset_name)
    if args.scenario == "new-item" and not args.models:
        return item_models_dir(root)
    return root


def _expects_item_models(root: Path, args) -> bool:
    """Return whether ``evaluate`` looks for item models in ``root`` (or its seed folders).

    It does with ``--scenario new-item``, and without ``--scenario`` when ``root`` or one
    of its ``seed-N`` folders contains item models and no user models.
    """
    from .serving.item_store import ITEM_MANIFEST
    from .serving.store import MANIFEST

    if args.scenario is not None:
        return args.scenario == "new-item"
    folders = [root, *(root / f"seed-{seed}" for seed in _seed_folders(root))]
    kinds = {name for folder in folders for name in (MANIFEST, ITEM_MANIFEST)
             if (folder / name).is_file()}
    return kinds == {ITEM_MANIFEST}


def _data_flags(args) -> list[str]:
    """Return the flags that chose and shaped the data, for a command to suggest.

    A suggested command without them would read other data: another rating scale
    rejects other rows, and another items file gives other genres and years.
    """
    flags = []
    if args.data:
        flags += ["--data", args.data]
    if args.items_csv:
        flags += ["--items-csv", args.items_csv]
    if args.users_csv:
        flags += ["--users-csv", args.users_csv]
    if args.rating_scale:
        flags += ["--rating-scale", *(f"{value:g}" for value in args.rating_scale)]
    if args.max_rejected is not None:
        flags += ["--max-rejected", f"{args.max_rejected:g}"]
    return flags


def _seed_folders(folder: Path) -> list[int]:
    """Return the seeds N, in order, of the ``seed-N`` model folders in ``folder``."""
    from .serving.item_store import ITEM_MANIFEST
    from .serving.store import MANIFEST

    if not folder.is_dir():
        return []
    seeds = []
    for child in folder.iterdir():
        prefix, _, number = child.name.partition("-")
        if prefix != "seed" or not number.isdigit():
            continue
        if (child / MANIFEST).is_file() or (child / ITEM_MANIFEST).is_file():
            seeds.append(int(number))
    return sorted(seeds)


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
    from tqdm import tqdm

    from .evaluation.evaluate import METRIC_NAMES, METRICS
    from .evaluation.metrics import mean_confidence_interval
    from .serving.item_store import ITEM_MANIFEST
    from .serving.store import MANIFEST

    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    if args.out and Path(args.out).expanduser().is_dir():
        raise ValueError(f"--out {args.out!r} is a folder, but evaluate writes OUT.csv and "
                         f"OUT.json; pass a file name without extension, such as "
                         f"{str(Path(args.out) / 'results')!r}")
    if args.out:
        _check_parent_folders(Path(args.out).expanduser(), "--out")
        _check_writable(Path(args.out).expanduser(), "--out")
        _check_replaceable(Path(args.out).expanduser(), (".csv", ".json"), "--out")
    _check_task_flags(args)
    if args.scenario == "new-item" and args.users == "train":
        raise ValueError(_no_train_items_message("--scenario new-item"))
    # Metric names are matched in any case, as --shots takes ALL for all.
    printed = _unique("--metrics", [metric.lower() for metric in args.metrics or []])
    unknown = [name for name in args.metrics or [] if name.lower() not in METRICS]
    if unknown:
        # One spelling per name, because names match in any case.
        spellings = {}
        for name in unknown:
            spellings.setdefault(name.lower(), name)
        unknown = list(spellings.values())
        verb = "is not a metric" if len(unknown) == 1 else "are not metrics"
        raise ValueError(f"--metrics {', '.join(map(repr, unknown))} {verb}; choose from "
                         f"{' '.join(METRICS)} (in any case)")
    uncomputed = [metric for metric in printed if metric in CATALOGUE_METRICS]
    if uncomputed and not args.catalogue:
        single = len(uncomputed) == 1
        raise ValueError(
            f"--metrics {' '.join(uncomputed)} {'needs' if single else 'need'} "
            f"--catalogue, which ranks the whole catalogue; add --catalogue "
            f"(slower), or leave {'it' if single else 'them'} out of --metrics")
    shots = _unique("--shots", [_parse_shots_flag(value) for value in args.shots])
    _check_seed_flags(args)
    started = time.perf_counter()
    dataset = _load(args)
    logger.debug("loaded %s (%s ratings) in %.1f s", dataset.name, f"{dataset.n_ratings:,}",
                 time.perf_counter() - started)
    root = _evaluate_root(args, dataset.name)
    seeds = _unique("--seeds", args.seeds or [])
    folders = [root / f"seed-{seed}" for seed in seeds] if seeds else [root]
    missing = [folder for folder in folders if not folder.is_dir()]
    single = (root / MANIFEST).is_file() or (root / ITEM_MANIFEST).is_file()
    if args.seeds and missing and single:
        raise ValueError(
            f"--seeds reads one folder per seed (seed-N, written by 'train --seeds'), but "
            f"{str(missing[0])!r} does not exist and {str(root)!r} holds a single set of "
            f"models; leave out --seeds to evaluate it")
    for folder in folders:
        message = _missing_models_message(folder, args, dataset)
        if message:
            raise ValueError(message)
    # The kind of models in each folder is settled before any model is loaded.
    kinds = [_reads_item_models(folder, root, args) for folder in folders]
    for folder, has_items in zip(folders, kinds):
        _check_implicit_models(folder, has_items, dataset, args)
    if args.users == "train":
        # Item models of new-user-new-item do have train users, whose new-item ratings
        # form the tasks; only new-item splits the new items into validation and test.
        for folder, has_items in zip(folders, kinds):
            if has_items and _item_scenario(folder) == "new-item":
                raise ValueError(_no_train_items_message(f"the models in {str(folder)!r}"))
    if seeds:
        _check_seed_scenarios(root, seeds, kinds, args)

    tables, scenarios, task_seeds, notes = [], [], [], []
    # One step per models folder and K, so that a long run shows how far it got.
    bar = tqdm(total=len(folders) * len(shots), desc="scoring", unit="K", leave=False,
               disable=args.quiet)
    try:
        for folder, has_items in zip(folders, kinds):
            table, saved, query_seed = _score_folder(folder, has_items, dataset, shots,
                                                     args, bar, notes)
            task_seeds.append(query_seed)
            table.insert(0, "split_seed", saved.users.seed)
            tables.append(table)
            scenarios.append(saved.to_dict())
    finally:
        bar.close()
        # The notes follow the bar, which would otherwise be drawn through them, and
        # those of earlier folders are printed even when a later folder fails.
        for note in notes:
            print(note, file=sys.stderr)
    table = pd.concat(tables, ignore_index=True)
    entities = "items" if args.scenario == "new-item" else "users"
    query_seeds = "each split's seed" if args.query_seed is None else args.query_seed
    print(f"{dataset.name}, scenario {args.scenario}, {args.users} {entities} with "
          f"{_rating_range_text(args, shots)}, query {args.query_size} ratings "
          f"(query seed: {query_seeds}), models: {', '.join(map(str, folders))}")
    records = table.to_dict(orient="records")
    for metric in printed or _default_printed(table, args.catalogue):
        if metric in table:
            _print_table(records, f"{args.users} {entities}", metric)
        else:
            print(f"\nnote: {METRIC_NAMES[metric]} was not computed; add --catalogue to "
                  f"rank the whole catalogue", file=sys.stderr)

    if args.out:
        out = Path(args.out).expanduser()
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
             "settings": _evaluation_settings(args, seeds, shots, task_seeds),
             "summary": summary, "results": _records(table)}, indent=1))
        print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.json')}")


def _score_folder(folder: Path, has_items, dataset, shots, args, bar, notes):
    """Score the models in ``folder`` at each K of ``shots``, one step of ``bar`` each.

    Returns the table of scores, the models' saved split and the seed that drew the
    tasks. A K that no task could be built for adds a line to ``notes``. When no K could
    be scored at all, it raises ValueError.
    """
    import pandas as pd

    from .evaluation.evaluate import evaluate_scenario, saved_scenario
    from .serving.items import ItemRecommender
    from .serving.recommender import Recommender

    started = time.perf_counter()
    if has_items:
        recommender = ItemRecommender.load(folder, dataset=dataset)
    else:
        recommender = Recommender.load(folder, dataset=dataset)
    logger.debug("loaded the models in %s in %.2f s", folder, time.perf_counter() - started)
    saved = saved_scenario(recommender.manifest)
    scenario = saved.scenario
    if args.scenario is None:
        # Without --scenario, the first folder's scenario is the one every seed's
        # models must share.
        args.scenario = scenario
    if scenario != args.scenario:
        advice = f"train for {args.scenario}"
        if args.scenario == "new-item":
            # Item models go beside user models, in their own subfolder.
            advice = (f"train item models with 'train --scenario new-item --out "
                      f"{shlex.quote(str(folder / ITEMS_SUBDIR))}' and pass that folder "
                      f"to --models")
        raise ValueError(
            f"the models in {str(folder)!r} were trained for scenario {scenario!r}, not "
            f"{args.scenario!r}; pass --scenario {scenario} or {advice}")
    query_seed = saved.users.seed if args.query_seed is None else args.query_seed
    started = time.perf_counter()
    parts = []
    for shot in shots:
        # Each K draws its tasks on its own, so scoring one K at a time changes nothing.
        parts.append(evaluate_scenario(recommender, dataset, [shot], part=args.users,
                                       variants=args.variants, seed=query_seed,
                                       min_ratings=args.min_ratings,
                                       max_ratings=args.max_ratings or None,
                                       catalogue=args.catalogue,
                                       query_size=args.query_size))
        bar.update()
    parts = [part for part in parts if not part.empty]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    scored_variants = table["variant"].nunique() if not table.empty else 0
    logger.debug("scored %d variant(s) at K=%s in %.2f s", scored_variants,
                 ", ".join(map(str, shots)), time.perf_counter() - started)
    entity = "item" if scenario == "new-item" else "user"
    scored = set(table["shots"]) if not table.empty else set()
    unscored = [shot for shot in shots if str(shot) not in scored]
    counts = _rating_counts(saved, dataset, args.users, entity) if unscored else None
    if table.empty:
        raise ValueError(f"no {args.users} {entity} of the models in {str(folder)!r} "
                         f"could be scored at K={unscored[0]}: "
                         f"{_why_unscored(unscored[0], args, entity, counts)}")
    for shot in unscored:
        notes.append(f"note: K={shot} is left out: "
                     f"{_why_unscored(shot, args, entity, counts)}")
    return table, saved, query_seed


def _check_implicit_models(folder: Path, has_items, dataset, args):
    """Raise ValueError when ``folder`` has models of implicit-feedback data, before loading.

    :func:`metarec.data.implicit.implicit_to_like` converts data in Python only, so
    evaluate cannot read the data such models were trained on. The message gives the
    Python commands that evaluate them, with the conversion's settings that the saved
    source records.
    """
    import re

    from .serving.item_store import ITEM_MANIFEST
    from .serving.store import MANIFEST

    try:
        manifest = json.loads((folder / (ITEM_MANIFEST if has_items else MANIFEST)).read_text())
        trained = manifest["dataset"]
        name, fingerprint = str(trained["name"]), trained["fingerprint"]
    except (OSError, ValueError, TypeError, KeyError):
        return
    source = str(trained.get("source") or "")
    marker = re.search(r" \(implicit feedback, ([^ ]+) sampled dislikes per interaction, "
                       r"seed (\d+)\)$", source)
    converted_name = name == f"{dataset.name}-implicit"
    if fingerprint == dataset.fingerprint() or not (marker or converted_name):
        return
    original = source[:marker.start()] if marker else ""
    if original in ("", "None"):
        # Data without a source gives none to the converted data either.
        original = args.data or ""
    # JSON strings are Python strings too, and their double quotes need no shell escape.
    data = f"load_dataset({json.dumps(original)})" if original else "load_dataset()"
    settings = f", negatives={marker[1]}, seed={marker[2]}" if marker else ""
    model_class = ("from metarec.serving.items import ItemRecommender as Models" if has_items
                   else "from metarec.serving import Recommender as Models")
    code = (f"from metarec.data import load_dataset; "
            f"from metarec.data.implicit import implicit_to_like; {model_class}; "
            f"from metarec.evaluation.evaluate import evaluate_scenario; "
            f"converted = implicit_to_like({data}{settings}); "
            f"models = Models.load({json.dumps(str(folder))}, converted); "
            f"print(evaluate_scenario(models, converted, [1, 5]))")
    raise ValueError(
        f"the models in {str(folder)!r} were trained on {name!r}, implicit-feedback data "
        f"that metarec.data.implicit.implicit_to_like converted in Python; the command line "
        f"reads no converted data, so it cannot evaluate them. Evaluate them from Python "
        f"(README.md, Implicit feedback), for example with: "
        f"{shlex.join(['python', '-c', code])}")


def _evaluation_settings(args, seeds, shots, query_seeds) -> dict:
    """Return the settings of an evaluate run, for its results file.

    ``query_seed`` is the --query-seed given (None: each split's own seed), and
    ``query_seeds`` the seed that drew the tasks of each models folder, in order.
    """
    return {"users": args.users, "seeds": seeds or None, "shots": shots,
            "variants": args.variants, "query_seed": args.query_seed,
            "query_seeds": query_seeds, "query_size": args.query_size,
            "min_ratings": args.min_ratings, "max_ratings": args.max_ratings,
            "catalogue": args.catalogue}


def _check_seed_scenarios(root: Path, seeds, kinds, args):
    """Raise ValueError when the seed folders of ``root`` contain models of other scenarios.

    evaluate --seeds averages one scenario over the seeds, and --scenario cannot make
    the folders agree, so the message names the seeds of each scenario. The scenario to
    keep is --scenario, else the first seed's.
    """
    found = {}
    for seed, has_items in zip(seeds, kinds):
        split = _saved_split(root / f"seed-{seed}", items=has_items)
        if split is not None:
            found.setdefault(split["scenario"], []).append(seed)
    if len(found) < 2:
        return
    keep = args.scenario if args.scenario in found else next(iter(found))

    def listed(numbers):
        return f"seed{'s' if len(numbers) > 1 else ''} {' '.join(map(str, numbers))}"

    groups = ", ".join(f"{listed(numbers)} {scenario}" for scenario, numbers in found.items())
    others = [seed for scenario, numbers in found.items() if scenario != keep
              for seed in numbers]
    train = ["python", "-m", "metarec", "train", *_data_flags(args), "--scenario", keep,
             "--seeds", *map(str, others), "--out", str(root), "--replace"]
    raise ValueError(
        f"the seed folders of {str(root)!r} contain models of different scenarios: "
        f"{groups}; evaluate --seeds averages one scenario, so pass --seeds "
        f"{' '.join(map(str, found[keep]))} to evaluate {keep}, or retrain "
        f"{listed(others)} with: {shlex.join(train)}")


def _reads_item_models(folder: Path, root: Path, args) -> bool:
    """Return whether ``evaluate`` reads item models (rather than user models) in ``folder``.

    ``root`` is the ``--models`` folder, which contains ``folder`` with ``--seeds``.
    Raises ValueError for a folder with both kinds and no ``--scenario`` to choose, and
    for user models with ``--scenario new-item`` when item models are in the ``items``
    subfolder beside them.
    """
    from .serving.item_store import ITEM_MANIFEST
    from .serving.store import MANIFEST

    has_items = (folder / ITEM_MANIFEST).is_file()
    if has_items and (folder / MANIFEST).is_file():
        # A folder that an older train filled with both kinds.
        if args.scenario is None:
            raise ValueError(
                f"{str(folder)!r} contains both user models ({MANIFEST}) and item "
                f"models ({ITEM_MANIFEST}); pass --scenario new-item for the item "
                f"models, or the user models' scenario (new-user or new-user-new-item)")
        return args.scenario == "new-item"
    items = root / ITEMS_SUBDIR / folder.relative_to(root)
    if not has_items and args.scenario == "new-item" and (items / ITEM_MANIFEST).is_file():
        raise ValueError(
            f"{str(folder)!r} contains user models ({MANIFEST}), and --scenario new-item "
            f"evaluates item models; {str(items)!r} contains item models: pass --models "
            f"{shlex.quote(str(root / ITEMS_SUBDIR))}")
    return has_items


def _item_scenario(folder: Path) -> str:
    """Return the scenario the item models in ``folder`` were trained for."""
    return (_saved_split(folder, items=True) or {}).get("scenario", "new-item")


def _saved_split(folder: Path, items=False) -> dict | None:
    """Return the scenario split that the manifest in ``folder`` records, as saved.

    That is a dict with the keys ``scenario`` and ``cut_year`` at least. A manifest
    written before scenarios were saved counts as ``new-user`` (user models) or
    ``new-item`` (item models). Returns None when the manifest is missing or unreadable,
    because loading reports that with its own message.
    """
    from .serving.item_store import ITEM_MANIFEST
    from .serving.store import MANIFEST

    try:
        manifest = json.loads((folder / (ITEM_MANIFEST if items else MANIFEST)).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    split = manifest.get("scenario")
    if not isinstance(split, dict) or "scenario" not in split:
        split = {"scenario": "new-item" if items else "new-user"}
    return {"cut_year": None, **split}


def _no_train_items_message(source) -> str:
    """Return why ``--users train`` cannot score item models; ``source`` names the models."""
    return (f"--users train cannot be scored with {source}: new-item models have no "
            f"train items to score, because the known items' ratings train them and the "
            f"held-out new items are split into validation and test; pass --users test or "
            f"--users validation")


def _check_task_flags(args):
    """Raise ValueError for --query-size, --min-ratings or --max-ratings out of range.

    The library checks the same limits, but its messages name Python parameters. The
    messages name items instead of users when ``--scenario new-item`` or the ``--models``
    folder shows that the models are item models.
    """
    entity = "item" if _scores_items(args) else "user"
    if args.query_size < 1:
        raise ValueError(f"--query-size must be at least 1, got {args.query_size}; it is "
                         f"the number of held-out ratings each {entity} is scored on "
                         f"(default 10)")
    if args.min_ratings < 0:
        raise ValueError(f"--min-ratings must be 0 or more, got {args.min_ratings}")
    if args.max_ratings < 0:
        raise ValueError(f"--max-ratings must be 0 (no limit) or more, got "
                         f"{args.max_ratings}")
    if args.max_ratings and args.min_ratings > args.max_ratings:
        raise ValueError(f"--min-ratings {args.min_ratings} is above --max-ratings "
                         f"{args.max_ratings}, so no {entity} could be scored; pass a "
                         f"--min-ratings of {args.max_ratings} or less, or a --max-ratings of "
                         f"{args.min_ratings} or more (0 for no limit)")


def _scores_items(args) -> bool:
    """Return whether ``evaluate`` scores items, as far as is known before loading data.

    ``--scenario`` decides when given. Otherwise the ``--models`` folder (or
    ``METAREC_MODELS_DIR``) decides: item models and no user models there mean items.
    Without either, it returns False, because the default folder depends on the
    data's name, which is not known before the data is loaded.
    """
    if args.scenario is not None or not (args.models or os.environ.get(MODELS_DIR_ENV)):
        return args.scenario == "new-item"
    return _expects_item_models(resolve_models_dir(args.models, ""), args)


def _rating_range_text(args, shots) -> str:
    """Return the range of ratings a scored user (or item) has, for the evaluate header.

    A task needs the query plus K support ratings (one at least for K=all), so a
    --query-size above --min-ratings raises the minimum. The smallest K sets it, and
    larger K need more ratings still, which their user counts show.
    """
    cap = f"to {args.max_ratings}" if args.max_ratings else "or more"
    supports = [1 if shot == "all" else shot for shot in shots if shot != 0]
    needed = args.query_size + min(supports) if supports and 0 not in shots else 0
    if needed <= args.min_ratings:
        return f"{args.min_ratings} {cap} ratings (--min-ratings, --max-ratings)"
    smallest = min(shots, key=lambda shot: float("inf") if shot == "all" else shot)
    return (f"{needed} {cap} ratings (K={smallest} needs {args.query_size} query + "
            f"{needed - args.query_size} support ratings, more than --min-ratings "
            f"{args.min_ratings})")


def _parse_shots_flag(value):
    """Return the support size of one --shots value, raising ValueError in the flag's name."""
    from .tasks import parse_shots

    try:
        return parse_shots(value)
    except ValueError:
        raise ValueError(f"--shots {value} is not a support size; pass whole numbers of 0 "
                         f"or more, or 'all', such as --shots 1 5 all") from None


def _unique(option, values, done="scored", note=True):
    """Return ``values`` without repeats, saying on stderr which were given twice.

    ``done`` completes the note "each is ... once"; ``note=False`` leaves it out.
    """
    unique = list(dict.fromkeys(values))
    if note and len(unique) < len(values):
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        print(f"note: {option} {' '.join(repeated)} given more than once; each is "
              f"{done} once", file=sys.stderr)
    return unique


def _check_seed_flags(args):
    """Raise ValueError for a --seed, --seeds or --query-seed out of range, before any work.

    numpy's generators take only seeds of 0 or more, training only seeds up to
    :data:`~metarec.tasks.split.MAX_SEED`, and neither message names a flag. The query
    seed only draws tasks, so it may be larger.
    """
    flags = [("--seed", getattr(args, "seed", None)), ("--query-seed",
                                                       getattr(args, "query_seed", None))]
    flags += [("--seeds", seed) for seed in getattr(args, "seeds", None) or []]
    for flag, seed in flags:
        if seed is not None and seed < 0:
            raise ValueError(f"{flag} must be a whole number of 0 or more, got {seed}; "
                             f"pass, for example, {flag} {abs(seed)}")
        if seed is not None and seed > MAX_SEED and flag != "--query-seed":
            raise ValueError(f"{flag} must be at most {MAX_SEED} (2**32 - 1), got {seed}; "
                             f"pass a smaller seed, for example {flag} {seed % 2**32}")


def _rating_counts(split, dataset, part, entity):
    """Return how many held-out ratings each ``part`` user (or item) of ``split`` has."""
    ratings = split.held_out_ratings(dataset.ratings, part)
    return ratings.groupby("item_id" if entity == "item" else "user_id").size().to_numpy()


def _why_unscored(shot, args, entity, counts) -> str:
    """Say why no task could be built with ``shot`` support ratings, and what to change.

    ``counts`` contains the number of ratings of each ``args.users`` user (or item), so
    that the message states which limit left them out and names values that would
    build a task.
    """
    if shot != "all" and args.max_ratings and args.query_size + shot > args.max_ratings:
        return (f"it needs {entity}s with {args.query_size + shot} ratings "
                f"({args.query_size} query + {shot} support), more than --max-ratings "
                f"{args.max_ratings}. Pass a smaller --shots, or a larger --max-ratings "
                f"(0 for no limit)")
    if len(counts) == 0:
        return f"no {args.users} {entity} has a held-out rating"
    # K=0 needs no support rating and no full query. K=all needs one support rating.
    support = 1 if shot == "all" else shot
    needed = 0 if shot == 0 else args.query_size + support
    fewest_allowed = max(args.min_ratings, needed)
    if needed > args.min_ratings:
        floor = (f"the {needed} ratings that K={shot} needs ({args.query_size} query + "
                 f"{support} support)")
    else:
        floor = f"the {args.min_ratings} ratings of --min-ratings"
    above = counts[counts > args.max_ratings] if args.max_ratings else counts[:0]
    below = counts[counts < fewest_allowed]
    group = f"{args.users} {entity}"
    widen = (f"Pass --max-ratings 0 (no limit), or --max-ratings {int(above.min())} or "
             f"more" if len(above) else "")
    if len(above) == len(counts):
        return (f"every {group} has more than --max-ratings {args.max_ratings} ratings "
                f"(the one with the fewest has {int(above.min())}). {widen}")
    if len(below) == len(counts):
        return (f"every {group} has fewer than {floor}. "
                f"{_fewer_advice(shot, args, entity, int(below.max()))}")
    if len(above) + len(below) == len(counts):
        return (f"{len(below):,} {group}s have fewer than {floor} (the one with the "
                f"most has {int(below.max())}), and {len(above):,} more than --max-ratings "
                f"{args.max_ratings} (the one with the fewest has {int(above.min())}). "
                f"{widen}")
    # NOTE: not expected, because a count within every limit builds a task. This text
    # covers a task builder whose rules differ from the ones above.
    return (f"no {group} had room for a {args.query_size}-rating query and K={shot} "
            f"support ratings within --min-ratings {args.min_ratings} and --max-ratings "
            f"{args.max_ratings}")


def _fewer_advice(shot, args, entity, largest) -> str:
    """Return the flags that let the ``args.users`` entity with ``largest`` ratings fit.

    Every entity has too few ratings for --min-ratings or for the query and K support
    ratings, and ``largest`` is the most that one has.
    """
    if shot == "all":
        support = 1
    else:
        support = shot
    has = f"The {args.users} {entity} with the most ratings has {largest}"
    # K=0 takes a query of fewer ratings as it is, so only --min-ratings can stop it.
    query = args.query_size if shot == 0 else min(args.query_size, largest - support)
    if query >= 1:
        flags = [f"--query-size {query}"] if query < args.query_size else []
        if args.min_ratings > largest:
            flags.append(f"--min-ratings {largest}")
        return f"{has}: pass {' '.join(flags)}"
    if shot != "all" and largest > args.query_size:
        return f"{has}: pass --shots {largest - args.query_size} or fewer"
    if shot != "all" and largest > 1:
        return f"{has}: pass --shots {largest - 1} or fewer with --query-size 1"
    return f"{has}, too few for a query and a support rating"


def _default_printed(table, catalogue) -> list[str]:
    """Return the metrics to print without --metrics.

    MAE, plus AUC when a variant predicts no ratings (a ranker or a like/dislike
    classifier, which MAE leaves blank), plus catalogue nDCG and recall with
    --catalogue. With no variant that predicts ratings, MAE is left out.
    """
    blank = table.groupby("variant")["mae"].apply(lambda v: v.isna().all())
    metrics = [] if blank.all() else ["mae"]
    if blank.any():
        metrics.append("auc")
    if catalogue:
        metrics += ["catalogue_ndcg@10", "recall@10"]
    return metrics


def _records(frame):
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def _print_table(records, title, metric="mae"):
    """Print ``metric`` by variant and K, as mean ± 95% interval when seeds repeat."""
    import pandas as pd

    from .evaluation.evaluate import METRIC_NAMES
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

    label = METRIC_NAMES.get(metric, metric)
    order = list(dict.fromkeys(frame["variant"]))
    columns = list(dict.fromkeys(frame["shots"]))
    wide = frame.groupby(["variant", "shots"])[metric].apply(cell).unstack("shots")
    wide = wide.reindex(index=order, columns=columns)
    wide.columns = [f"{label} K={c}" for c in wide.columns]
    entity = "items" if "items" in frame and "users" not in frame else "users"
    description = "query MAE" if metric == "mae" else label
    print(f"\n{title}: {description} by support size K ({_counts_text(frame, entity)})")
    print(wide.to_string())
    runs = frame.groupby(["variant", "shots"])[metric].count()
    if (runs > 1).any():
        print(_interval_text(sorted(set(runs[runs > 1]))))
    if metric in ("mae", "rmse"):
        rankers = [variant for variant in order if frame.loc[frame["variant"] == variant,
                                                             metric].isna().all()]
        if rankers:
            single = len(rankers) == 1
            print(f"- : {', '.join(rankers)} {'predicts' if single else 'predict'} no ratings "
                  f"({'it only ranks' if single else 'they only rank'} items), so "
                  f"{'it has' if single else 'they have'} no {label}")


def _interval_text(sizes) -> str:
    """Say what "±" means in a table whose cells average ``sizes`` seeds (sorted, above 1).

    :func:`~metarec.evaluation.metrics.mean_confidence_interval` gives the half-width of
    Student's t interval, whose t value is large with few seeds.
    """
    from scipy import stats

    if len(sizes) > 1:
        return (f"± : 95% confidence half-width of the mean over the N seeds that scored "
                f"each cell (N from {sizes[0]} to {sizes[-1]}; Student's t, N - 1 degrees "
                f"of freedom)")
    seeds = sizes[0]
    t_value = stats.t.ppf(0.975, df=seeds - 1)
    freedom = "1 degree" if seeds == 2 else f"{seeds - 1} degrees"
    wide = ""
    if seeds == 2:
        wide = (f", so the interval is wide; with 3 seeds t = "
                f"{stats.t.ppf(0.975, df=2):.2f}")
    return (f"± : 95% confidence half-width of the mean over {seeds} seeds (Student's t, "
            f"{freedom} of freedom: t = {t_value:.2f}{wide})")


def _counts_text(frame, entity) -> str:
    """Say how many users (or items) each K column scores, as a range over seeds.

    A user needs the query plus K ratings, so larger K columns can average fewer users,
    and models folders of other split seeds hold other test users.
    """
    per_run = ["split_seed", "shots"] if "split_seed" in frame else ["shots"]
    counts = frame.groupby(per_run, sort=False)[entity].max().groupby("shots", sort=False)

    def span(values):
        low, high = int(values.min()), int(values.max())
        return f"{low}" if low == high else f"{low} to {high}"

    texts = {shots: span(values) for shots, values in counts}
    if len(set(texts.values())) == 1:
        text = next(iter(texts.values()))
        return f"{text} {entity.removesuffix('s') if text == '1' else entity}"
    return f"{entity} per K: " + ", ".join(f"K={k}: {t}" for k, t in texts.items())


class _Parser(argparse.ArgumentParser):
    """An argument parser that reports unknown arguments with their command's usage.

    argparse reports arguments that no parser recognised with the top-level usage, which
    lists the commands but none of their flags. This parser names the command's usage
    instead, and the closest flag of that command when one is close.
    """

    # {name: parser} of the commands, set by build_parser.
    commands = None

    def __init__(self, *args, **kwargs):
        # No abbreviations: --epoch for --epochs would keep working only until another
        # flag starting with --epoch is added.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_args(self, args=None, namespace=None):
        parsed, unknown = self.parse_known_args(args, namespace)
        if unknown:
            command = (self.commands or {}).get(getattr(parsed, "command", None), self)
            command.error(_unknown_arguments_message(command, unknown))
        return parsed


def _unknown_arguments_message(parser, unknown) -> str:
    """Say which arguments ``parser`` did not recognise and which flag each may mean."""
    flags = [option for action in parser._actions for option in action.option_strings
             if option.startswith("--")]
    guesses = {}
    for argument in unknown:
        name = argument.split("=", 1)[0]
        close = difflib.get_close_matches(name, flags, n=1, cutoff=0.6)
        if name.startswith("-") and close:
            guesses[name] = close[0]
    message = f"unrecognized arguments: {' '.join(unknown)}"
    if len(guesses) == 1:
        message += f"; did you mean {next(iter(guesses.values()))}?"
    elif guesses:
        pairs = ", ".join(f"{flag} for {name}" for name, flag in guesses.items())
        message += f"; did you mean {pairs}?"
    return message


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m metarec",
        description="Meta-learned recommenders for new users with few ratings.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log in more detail (each command's --help lists what it adds)")
    commands = parser.add_subparsers(dest="command", required=True)

    data_help = (f"dataset name ({', '.join(DATASET_NAMES)}), a folder in the "
                 f"MovieLens-100K or -1M layout, a folder with ratings.csv, or a ratings "
                 f"CSV file (default: ${DATA_DIR_ENV}, else the bundled sample)")

    # generate-sample logs nothing more with -v, so its help leaves -v out.
    sample = commands.add_parser("generate-sample", help="write the synthetic sample catalogue",
                                 parents=[_verbose_parent(argparse.SUPPRESS)])
    sample.add_argument("--out", default=str(SAMPLE_DIR),
                        help="output folder (default: the bundled sample_data, replaced in "
                             "place); a folder of other ratings is refused")
    sample.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sample.add_argument("--users", type=int, default=500, help="number of users (default 500)")
    sample.add_argument("--items", type=int, default=400, help="number of items (default 400)")
    sample.set_defaults(func=cmd_generate_sample)

    fetch = commands.add_parser(
        "download", help="download and verify a MovieLens dataset",
        parents=[_verbose_parent("log each step (download, MD5 check, unzip) even with "
                                 "--quiet")],
        description="Download a MovieLens archive from GroupLens, check its MD5 and unzip "
                    "it. A folder that already contains the files is used as is.")
    fetch.add_argument("name", choices=list(MOVIELENS_ARCHIVES), help="dataset to download")
    fetch.add_argument("--dir", help=f"folder to unzip into (default: ${DATA_DIR_ENV} or "
                                     f"its subfolder NAME, else NAME in the user cache "
                                     f"directory)")
    fetch.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                       help=f"seconds to wait for the server before giving up "
                            f"(default {DEFAULT_TIMEOUT_S:g})")
    fetch.add_argument("--url", help="address of the same zip archive on a mirror (default: "
                                     "GroupLens); the MD5 check still applies")
    fetch.add_argument("--quiet", action="store_true", help="hide the progress bar")
    fetch.set_defaults(func=cmd_download)

    train = commands.add_parser(
        "train", help="meta-train every variant and save them",
        parents=[_verbose_parent("also log each epoch's training loss and validation "
                                 "error")])
    _add_data_arguments(train, data_help)
    train.add_argument("--out", help=f"models folder (default: ${MODELS_DIR_ENV}, else "
                                     f"models/DATASET_NAME; with --scenario new-item, its "
                                     f"{ITEMS_SUBDIR} subfolder, where the dashboard "
                                     f"looks for item models)")
    train.add_argument("--seed", type=int,
                       help="seed of the split and of training (default 0)")
    train.add_argument("--replace", action="store_true",
                       help="replace models of other data or of another scenario in "
                            "the folder (without it, train stops instead of overwriting "
                            "them)")
    train.add_argument("--seeds", type=int, nargs="+",
                       help="train once per seed into OUT/seed-N (for evaluate --seeds), "
                            "in place of --seed")
    train.add_argument("--scenario", choices=SCENARIOS, default="new-user",
                       help="cold-start scenario (default: new-user); new-item trains the "
                            "item-side models")
    train.add_argument("--cut-year", type=float,
                       help="new-item and new-user-new-item: items released in this year "
                            "or later are new (default: the year that makes about 20%% of "
                            "items new)")
    train.add_argument("--epochs", type=int, help="maximum epochs per variant (default: each "
                                                  "variant's own)")
    train.add_argument("--quiet", action="store_true",
                       help="hide progress bars and every log line but warnings")
    train.add_argument("--workers", type=int, default=1,
                       help="worker processes on this machine that share each meta-batch, "
                            "started with torchrun (default 1: no torchrun); see also "
                            "'torchrun --nproc-per-node N -m metarec train'")
    train.set_defaults(func=cmd_train)

    evaluate = commands.add_parser(
        "evaluate", help="score trained variants on held-out users",
        parents=[_verbose_parent("log how CSV data was read (rows kept, rating scale) "
                                 "and timings of loading the data, loading each models "
                                 "folder and scoring it")])
    _add_data_arguments(evaluate, data_help)
    evaluate.add_argument("--models", help=f"models folder written by train (default: "
                                           f"${MODELS_DIR_ENV}, else models/DATASET_NAME, "
                                           f"such as models/sample_data for the sample; "
                                           f"with --scenario new-item, its "
                                           f"{ITEMS_SUBDIR} subfolder)")
    evaluate.add_argument("--scenario", choices=SCENARIOS,
                          help="cold-start scenario the models were trained for (default: "
                               "the one their manifest records)")
    evaluate.add_argument("--seeds", type=int, nargs="+",
                          help="evaluate MODELS/seed-N for each seed and report mean ± 95%% "
                               "interval (train with --seeds)")
    evaluate.add_argument("--shots", nargs="+", default=["1", "5", "all"],
                          help="support sizes K, integers or 'all' (default: 1 5 all)")
    evaluate.add_argument("--users", choices=("test", "validation", "train"), default="test",
                          help="which users of the saved split to score (default: test); "
                               "for new-item models, which new items: test or validation")
    evaluate.add_argument("--variants", nargs="+", help="variants to score (default: all)")
    evaluate.add_argument("--query-seed", type=int,
                          help="seed of the query and support draw (default: the models' "
                               "split seed, as the benchmark uses)")
    evaluate.add_argument("--catalogue", action="store_true",
                          help="also rank the whole catalogue (nDCG, precision and recall "
                               "at 10); slower")
    evaluate.add_argument("--min-ratings", type=int, default=13,
                          help="leave out users (items in the new-item scenario) with "
                               "fewer ratings (default 13)")
    evaluate.add_argument("--query-size", type=int, default=10,
                          help="ratings in each query set (default 10)")
    evaluate.add_argument("--max-ratings", type=int, default=100,
                          help="leave out users (items in the new-item scenario) with "
                               "more ratings (default 100; 0 for no limit)")
    evaluate.add_argument("--metrics", nargs="+", metavar="METRIC",
                          help="metrics to print, in any case, from mae rmse ndcg@1 ndcg@3 "
                               "auc catalogue_ndcg@10 precision@10 recall@10; the last three "
                               "need --catalogue (default: mae, auc where a variant "
                               "predicts no ratings, and with --catalogue "
                               "catalogue_ndcg@10 and recall@10); --out writes them all")
    evaluate.add_argument("--threads", type=int,
                          help="torch threads (default: torch's own choice, which follows "
                               "OMP_NUM_THREADS when set)")
    evaluate.add_argument("--out", help="write results to OUT.csv and OUT.json")
    evaluate.add_argument("--quiet", action="store_true",
                          help="hide the progress bar of the scoring (as train --quiet "
                               "hides its bars); results, notes and warnings are still "
                               "printed")
    evaluate.set_defaults(func=cmd_evaluate)
    parser.commands = dict(commands.choices)
    return parser


def _verbose_parent(help_text):
    """Return a parent parser that gives a command -v/--verbose with ``help_text``.

    SUPPRESS as the default keeps the command's parser from resetting a -v given before
    the command name to False.
    """
    verbose = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    verbose.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                         help=help_text)
    return verbose


def _add_data_arguments(parser, data_help):
    parser.add_argument("--data", help=data_help)
    parser.add_argument("--items-csv", help="items CSV for a ratings CSV file: item_id and "
                                            "optionally title, genres (separated by |, ; "
                                            "or ,), year")
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
    from .meta.training import TrainingError
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
    if args.verbose and level == logging.INFO:
        logging.getLogger("metarec").setLevel(logging.DEBUG)
    try:
        # Log lines are written above the progress bars instead of through them.
        with logging_redirect_tqdm():
            args.func(args)
    except (FileNotFoundError, FileExistsError, NotADirectoryError, DataFormatError,
            DownloadError, ModelsDirectoryError, TrainingError, ValueError,
            WorkerError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Downloads delete their partial file and training replaces models only once
        # it is done, so nothing half-written is left to mention.
        print(f"\nstopped: {args.command} was interrupted", file=sys.stderr)
        return 130
    return 0
