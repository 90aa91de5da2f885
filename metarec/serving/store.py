"""Save and load a models directory: a JSON manifest plus tensor and array files.

Nothing in a models directory is unpickled on load: network weights are read with
``torch.load(weights_only=True)``, baseline state with ``numpy.load(allow_pickle=False)``
and everything else is JSON.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..data.features import FeatureEncoder
from ..meta.ensemble import SupportSizeEnsemble
from ..models import baselines
from ..models.prior import ItemPrior
from ..models.variants import VariantSpec, build_learner
from .staging import StagedFiles

MANIFEST = "manifest.json"
# The manifest of item-side models (see :mod:`metarec.serving.item_store`), which a
# folder of user models must not contain next to its own.
ITEM_MANIFEST = "item_manifest.json"
# Advice for models trained on other data, with ``{kind}`` such as "item models". Only
# the command line and the library can pick another folder, so the dashboard replaces it.
PICK_FOLDER_ADVICE = "Train {kind} for this dataset or pick its models folder."
FORMAT_VERSION = 1
# Files that mark a folder of ratings, passed where a models folder belongs.
DATA_FILES = ("u.data", "ratings.dat", "ratings.csv")


class ModelsDirectoryError(ValueError):
    """A models directory is missing, incomplete or was written by an incompatible version.

    ``reason`` is what is wrong and ``advice`` what to do, which the message joins. The
    dashboard replaces the command-line ``advice`` with its own.
    """

    def __init__(self, reason: str, advice: str = ""):
        super().__init__(f"{reason} {advice}" if advice else reason)
        self.reason = reason
        self.advice = advice


def read_model_file(path: Path, retrain="retrain the models"):
    """Return the network state dict or the arrays in ``path``, a ``.pt`` or ``.npz`` file.

    A damaged file (cut short, overwritten, or not written by metarec) raises
    :class:`ModelsDirectoryError` naming it, instead of torch's or numpy's own error,
    which names no file. ``retrain`` is the advice that ends the message.
    """
    try:
        if path.suffix == ".pt":
            return torch.load(path, weights_only=True)
        with np.load(path, allow_pickle=False) as arrays:
            return dict(arrays)
    except Exception as error:
        cause = type(error).__name__
        lines = str(error).strip().splitlines()
        if lines:
            cause += f": {lines[0]}"
        raise ModelsDirectoryError(
            f"{path} cannot be read ({cause}): the file is damaged or was not written by "
            f"metarec; {retrain}.") from None


def other_data_error(models_kind, directory, trained_on: dict,
                     dataset) -> ModelsDirectoryError:
    """Return the error for models in ``directory`` trained on other data than ``dataset``.

    Two files can share a name and a rating count and still differ (an edited CSV), so
    the message then adds where each came from and the start of both fingerprints.
    """
    def describe(name, ratings, source):
        return f"{name!r} ({ratings:,} ratings{f', from {source}' if source else ''})"

    trained = describe(trained_on["name"], trained_on["ratings"], trained_on.get("source"))
    loaded = describe(dataset.name, dataset.n_ratings, dataset.source)
    if (trained_on["name"], trained_on["ratings"]) == (dataset.name, dataset.n_ratings):
        trained += f", fingerprint {trained_on['fingerprint'][:12]}"
        loaded += f", fingerprint {dataset.fingerprint()[:12]}"
    if (trained_on.get("source") or None) == (dataset.source or None) and (
            trained_on["ratings"] == dataset.n_ratings):
        # Same file, same count: what differs is a rating or the item table.
        return ModelsDirectoryError(
            f"The {models_kind} in {str(Path(directory))!r} were trained on "
            f"{trained_on['name']!r} from the same place with the same number of ratings "
            f"({dataset.n_ratings:,}), but the data differs now (fingerprint "
            f"{trained_on['fingerprint'][:12]} then, {dataset.fingerprint()[:12]} now): a "
            f"rating or an item title changed, or an items file (--items-csv) was given at "
            f"training and not now, or the other way round.",
            f"Load the data as it was at training, or train {models_kind} for it as it is.")
    return ModelsDirectoryError(
        f"The {models_kind} in {str(Path(directory))!r} were trained on {trained}, not on "
        f"{loaded}.", PICK_FOLDER_ADVICE.format(kind=models_kind))


def save_models(directory, *, dataset, split, encoder, prior, item_features, learners, specs,
                text_features=None,
                histories, classical, ensemble, validation, extra=None) -> Path:
    """Write every trained part of a run into ``directory`` and return its manifest path.

    The files replace those of an earlier run together (see :class:`StagedFiles`), so a
    page loading the folder meanwhile reads one complete set.
    """
    directory = Path(directory)
    with StagedFiles(directory) as staged:
        _write_models(staged, dataset=dataset, split=split, encoder=encoder, prior=prior,
                      item_features=item_features, learners=learners, specs=specs,
                      text_features=text_features, histories=histories, classical=classical,
                      ensemble=ensemble, validation=validation, extra=extra)
    return directory / MANIFEST


def _write_models(staged, *, dataset, split, encoder, prior, item_features, learners, specs,
                  text_features, histories, classical, ensemble, validation, extra):
    variants = {}
    for name, learner in learners.items():
        torch.save(learner.state_dict(), staged.path(f"{name}.pt"))
        history = histories[name]
        variants[name] = {
            "kind": "meta",
            "file": f"{name}.pt",
            "spec": specs[name].to_dict(),
            "parameters": sum(p.numel() for p in learner.net.parameters()),
            "train_seconds": round(history.seconds, 2),
            "best_epoch": history.best_epoch + 1,
            "train_loss": history.train_loss,
            "validation_error": history.validation_mae,
            "serve_step_errors": {
                str(size): {str(steps): error for steps, error in errors.items()}
                for size, errors in (history.serve_step_errors or {}).items()},
        }
    for name, model in classical.items():
        np.savez(staged.path(f"{name}.npz"), **model.get_state())
        variants[name] = {"kind": "classical", "file": f"{name}.npz",
                          "class": type(model).__name__}
    variants["ensemble"] = {"kind": "ensemble", **ensemble.to_dict()}
    np.save(staged.path("item_features.npy"), item_features)
    if text_features is not None:
        np.save(staged.path("item_text.npy"), text_features)

    manifest = {
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": {"metarec": __version__, "torch": torch.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
        "dataset": {"name": dataset.name, "source": dataset.source,
                    "fingerprint": dataset.fingerprint(), "ratings": dataset.n_ratings,
                    "users": len(dataset.users), "items": len(dataset.items),
                    "rating_scale": list(dataset.rating_scale)},
        "split": split.to_dict(),
        "encoder": encoder.to_dict(),
        "prior": prior.to_dict(),
        "variants": variants,
        "validation": validation,
        **(extra or {}),
    }
    staged.path(MANIFEST).write_text(json.dumps(manifest, indent=1))


def data_folder_error(directory: Path, kind: str) -> ModelsDirectoryError | None:
    """Return the error for a data folder passed in place of a ``kind`` folder, or None.

    ``kind`` is "models" or "item models".
    """
    data_files = [name for name in DATA_FILES if (directory / name).is_file()]
    if not data_files:
        return None
    items = kind == "item models"
    scenario = " --scenario new-item" if items else ""
    out = Path("models", directory.name or "data", *(["items"] if items else []))
    return ModelsDirectoryError(
        f"{str(directory)!r} is a data folder (it contains {data_files[0]}), not a folder "
        f"of {kind}.",
        f"Pass the folder that 'python -m metarec train{scenario}' wrote, or train one "
        f"with 'python -m metarec train{scenario} --data {directory} --out {out}'.")


def check_models_kind(directory, kind: str):
    """Raise ValueError when training ``kind`` into ``directory`` would mix two kinds.

    ``kind`` is "models" (user models) or "item models". A folder that contains
    only the other kind is rejected: ``python -m metarec evaluate`` reads a folder's item
    models first, so user models beside them could not be evaluated without
    ``--scenario``. A folder that already contains both kinds, written by an older metarec,
    may be retrained.

    Raises
    ------
    ValueError
        Naming the folder, the models it contains and where to train instead.
    """
    directory = Path(directory)
    items = kind == "item models"
    own, other = (ITEM_MANIFEST, MANIFEST) if items else (MANIFEST, ITEM_MANIFEST)
    if (directory / own).is_file() or not (directory / other).is_file():
        return
    if items:
        raise ValueError(
            f"{str(directory)!r} contains user models ({MANIFEST}), and item models "
            f"beside them would hide them from 'python -m metarec evaluate'; train the "
            f"item models into another folder, such as {str(directory / 'items')!r}, "
            f"where the dashboard looks for them")
    raise ValueError(
        f"{str(directory)!r} contains item models ({ITEM_MANIFEST}), and 'python -m metarec "
        f"evaluate' would read them instead of user models trained beside them; train the "
        f"user models into another folder (the dashboard looks for item models in the "
        f"items subfolder of the user models' folder)")


def seed_subfolders(directory) -> list[str]:
    """Return the names of the ``seed-N`` folders of user models in ``directory``, by N."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    numbered = []
    for child in directory.iterdir():
        prefix, _, number = child.name.partition("-")
        if prefix == "seed" and number.isdigit() and (child / MANIFEST).is_file():
            numbered.append((int(number), child.name))
    return [name for _, name in sorted(numbered)]


def read_manifest(directory) -> dict:
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.is_file() and data_folder_error(directory, "models"):
        raise data_folder_error(directory, "models")
    if not path.is_file() and (directory / ITEM_MANIFEST).is_file():
        raise ModelsDirectoryError(
            f"{str(directory)!r} contains item models ({ITEM_MANIFEST}), not the user models "
            f"that Recommender.load reads ({MANIFEST} is missing).",
            "Load item models with ItemRecommender.load from metarec.serving.items, or "
            "train user models into another folder with 'python -m metarec train --data "
            "DATA_DIR --out OTHER_DIR'.")
    seeds = seed_subfolders(directory) if not path.is_file() else []
    if seeds:
        raise ModelsDirectoryError(
            f"{str(directory)!r} contains one models folder per seed "
            f"({', '.join(seeds)}) and no {MANIFEST} of its own; load one of them, such as "
            f"Recommender.load({str(directory / seeds[0])!r}).")
    if not path.is_file():
        raise ModelsDirectoryError(
            f"No trained models in {str(directory)!r}: {MANIFEST} is missing. Train with "
            f"'python -m metarec train --data DATA_DIR --out {directory}'."
        )
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ModelsDirectoryError(f"{path} is not valid JSON ({error}); retrain the models.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ModelsDirectoryError(
            f"{path} has format version {manifest.get('format_version')!r}, this metarec "
            f"({__version__}) reads version {FORMAT_VERSION}; retrain the models."
        )
    return manifest


def load_models(directory):
    """Load a models directory written by :func:`save_models`.

    Returns
    -------
    manifest : dict
    encoder : FeatureEncoder
    prior : ItemPrior
    learners : dict of str to MetaLearner
        Neural variants in evaluation mode, with gradients switched off.
    classical : dict of str to baseline
        Classical baselines by variant name, as in :mod:`metarec.models.baselines`.
    ensemble : SupportSizeEnsemble
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    encoder = FeatureEncoder.from_dict(manifest["encoder"])
    prior = ItemPrior.from_dict(manifest["prior"])
    try:
        item_features = np.load(directory / "item_features.npy", allow_pickle=False)
    except FileNotFoundError as error:
        raise ModelsDirectoryError(f"{error.filename} is missing; retrain the models.") from None
    text_path = directory / "item_text.npy"
    text_features = np.load(text_path, allow_pickle=False) if text_path.is_file() else None

    learners, classical, ensemble = {}, {}, None
    for name, entry in manifest["variants"].items():
        if entry["kind"] == "meta":
            learner = build_learner(VariantSpec.from_dict(entry["spec"]), encoder,
                                    item_features, prior, text_features)
            path = directory / entry["file"]
            if not path.is_file():
                raise ModelsDirectoryError(f"{path} is missing; retrain the models.")
            learner.load_state_dict(read_model_file(path))
            learner.eval()
            learner.requires_grad_(False)
            learners[name] = learner
        elif entry["kind"] == "classical":
            cls = getattr(baselines, entry["class"], None)
            if cls is None or not isinstance(cls, type):
                raise ModelsDirectoryError(
                    f"{directory / MANIFEST} names an unknown baseline class "
                    f"{entry['class']!r}; retrain the models.")
            path = directory / entry["file"]
            if not path.is_file():
                raise ModelsDirectoryError(f"{path} is missing; retrain the models.")
            classical[name] = cls.from_state(read_model_file(path))
        elif entry["kind"] == "ensemble":
            ensemble = SupportSizeEnsemble.from_dict(entry)
    if not classical or ensemble is None or not learners:
        raise ModelsDirectoryError(
            f"{directory / MANIFEST} lists no complete set of variants; retrain the models."
        )
    return manifest, encoder, prior, learners, classical, ensemble
