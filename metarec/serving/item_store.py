"""Save and load item-side models: a JSON manifest plus tensor and array files.

Every file name starts with ``item``, so item-side models can share a folder with the
user-side ones. As there, nothing is unpickled on load: networks are read with
``torch.load(weights_only=True)``, arrays with ``numpy.load(allow_pickle=False)``.
"""

from __future__ import annotations

import json
import platform
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..data.features import FeatureEncoder
from ..data.text import ENCODER_PACKAGE
from ..models.item_baselines import ITEM_BASELINES
from ..models.item_encoding import ItemTaskEncoder
from ..models.item_ensemble import ItemSupportEnsemble
from ..models.item_learner import ItemVariantSpec, build_item_learner
from ..models.item_side import UserTable
from .staging import StagedFiles
from .store import (ITEM_MANIFEST, MANIFEST, ModelsDirectoryError, data_folder_error,
                    read_model_file)

ITEM_FORMAT_VERSION = 1
TABLES = "item-tables.npz"
USERS = "item-users.npz"


def _package_version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def save_item_models(directory, *, dataset, scenario, task_encoder, user_features, users,
                     learners, specs, histories, classical, ensemble, validation,
                     extra=None) -> Path:
    """Write every trained item-side part into ``directory``; return the manifest path.

    ``user_features`` are the demographic vectors by user row and ``users`` the users
    frame, whose age, gender and occupation the serving API groups predictions by.
    """
    directory = Path(directory)
    with StagedFiles(directory) as staged:
        _write_item_models(staged, dataset=dataset, scenario=scenario,
                           task_encoder=task_encoder, user_features=user_features,
                           users=users, learners=learners, specs=specs,
                           histories=histories, classical=classical, ensemble=ensemble,
                           validation=validation, extra=extra)
    return directory / ITEM_MANIFEST


def _write_item_models(staged, *, dataset, scenario, task_encoder, user_features, users,
                       learners, specs, histories, classical, ensemble, validation, extra):
    variants = {}
    for name, learner in learners.items():
        torch.save(learner.state_dict(), staged.path(f"item-{name}.pt"))
        history = histories[name]
        variants[name] = {
            "kind": "meta", "file": f"item-{name}.pt", "spec": specs[name].to_dict(),
            "parameters": sum(p.numel() for p in learner.net.parameters()),
            "train_seconds": round(history.seconds, 2), "best_epoch": history.best_epoch + 1,
            "train_loss": history.train_loss, "validation_error": history.validation_mae,
        }
    for name, model in classical.items():
        np.savez(staged.path(f"item-{name}.npz"), **model.get_state())
        variants[name] = {"kind": "classical", "file": f"item-{name}.npz",
                          "class": type(model).__name__}
    variants["ensemble"] = {"kind": "ensemble", **ensemble.to_dict()}
    np.savez(staged.path(TABLES), content=task_encoder.content_table,
             text=task_encoder.text_table, user_prior=task_encoder.user_prior,
             user_features=user_features)
    np.savez(staged.path(USERS), user_id=users["user_id"].to_numpy(dtype=np.int64),
             age=users["age"].to_numpy(dtype=float),
             gender=users["gender"].astype(str).to_numpy(dtype=str),
             occupation=users["occupation"].astype(str).to_numpy(dtype=str))

    manifest = {
        "format_version": ITEM_FORMAT_VERSION,
        "entity": "item",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": {"metarec": __version__, "torch": torch.__version__,
                     "numpy": np.__version__, "python": platform.python_version(),
                     "sentence-transformers": _package_version("sentence-transformers"),
                     ENCODER_PACKAGE: _package_version(ENCODER_PACKAGE)},
        "dataset": {"name": dataset.name, "source": dataset.source,
                    "fingerprint": dataset.fingerprint(), "ratings": dataset.n_ratings,
                    "users": len(dataset.users), "items": len(dataset.items),
                    "rating_scale": list(dataset.rating_scale)},
        "scenario": scenario.to_dict(),
        "encoder": task_encoder.encoder.to_dict(),
        "users": task_encoder.user_table.to_dict(),
        "global_mean": task_encoder.global_mean,
        "item_shrinkage": task_encoder.item_shrinkage,
        "variants": variants,
        "validation": validation,
        **(extra or {}),
    }
    staged.path(ITEM_MANIFEST).write_text(json.dumps(manifest, indent=1))


def read_item_manifest(directory) -> dict:
    """Read ``item_manifest.json`` of ``directory``.

    Raises
    ------
    ModelsDirectoryError
        If it is missing, not JSON, or of another format version.
    """
    directory = Path(directory)
    path = directory / ITEM_MANIFEST
    if not path.is_file() and data_folder_error(directory, "item models"):
        raise data_folder_error(directory, "item models")
    if not path.is_file() and (directory / MANIFEST).is_file():
        raise ModelsDirectoryError(
            f"{str(directory)!r} contains user models ({MANIFEST}), not the item models that "
            f"ItemRecommender.load reads ({ITEM_MANIFEST} is missing).",
            "Load user models with Recommender.load from metarec.serving, or train item "
            f"models into another folder with 'python -m metarec train --scenario new-item "
            f"--data DATA_DIR --out {directory / 'items'}'.")
    if not path.is_file():
        raise ModelsDirectoryError(
            f"No item-side models in {str(directory)!r}: {ITEM_MANIFEST} is missing.",
            f"Train them with 'python -m metarec train --scenario new-item --data DATA_DIR "
            f"--out {directory}', with metarec.item_pipeline.train_item_models or on the "
            f"New item page.")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ModelsDirectoryError(f"{path} is not valid JSON ({error}); retrain the item "
                                   f"models.") from None
    if manifest.get("format_version") != ITEM_FORMAT_VERSION:
        raise ModelsDirectoryError(
            f"{path} has format version {manifest.get('format_version')!r}, this metarec "
            f"({__version__}) reads version {ITEM_FORMAT_VERSION}; retrain the item models."
        )
    return manifest


def _load_arrays(path):
    if not path.is_file():
        raise ModelsDirectoryError(f"{path} is missing; retrain the item models.")
    return read_model_file(path, "retrain the item models")


def load_item_models(directory):
    """Load a folder written by :func:`save_item_models`.

    Returns
    -------
    manifest : dict
    task_encoder : ItemTaskEncoder
    learners : dict of str to (ItemMetaLearner, ItemVariantSpec)
        In evaluation mode, gradients switched off.
    classical : dict of str to baseline
    ensemble : ItemSupportEnsemble
    users : dict of str to numpy.ndarray
        ``user_id``, ``age``, ``gender`` and ``occupation`` of every dataset user.
    """
    directory = Path(directory)
    manifest = read_item_manifest(directory)
    tables = _load_arrays(directory / TABLES)
    users = _load_arrays(directory / USERS)
    encoder = FeatureEncoder.from_dict(manifest["encoder"])
    user_table = UserTable.from_dict(manifest["users"])
    task_encoder = ItemTaskEncoder(encoder, tables["content"], tables["text"], user_table,
                                   tables["user_prior"], manifest["global_mean"],
                                   manifest["item_shrinkage"])

    learners, classical, ensemble = {}, {}, None
    for name, entry in manifest["variants"].items():
        path = directory / entry.get("file", "")
        if entry["kind"] == "meta":
            spec = ItemVariantSpec.from_dict(entry["spec"])
            learner = build_item_learner(spec, user_table, tables["user_features"],
                                         tables["user_prior"], manifest["global_mean"],
                                         task_encoder.n_content_features,
                                         task_encoder.n_text_features)
            if not path.is_file():
                raise ModelsDirectoryError(f"{path} is missing; retrain the item models.")
            learner.load_state_dict(read_model_file(path, "retrain the item models"))
            learner.eval()
            learner.requires_grad_(False)
            learners[name] = (learner, spec)
        elif entry["kind"] == "classical":
            cls = ITEM_BASELINES.get(name)
            if cls is None or cls.__name__ != entry["class"]:
                raise ModelsDirectoryError(
                    f"{directory / ITEM_MANIFEST} names an unknown item baseline "
                    f"{name!r} ({entry['class']}); retrain the item models.")
            classical[name] = cls.from_state(_load_arrays(path))
        elif entry["kind"] == "ensemble":
            ensemble = ItemSupportEnsemble.from_dict(entry)
    if not learners or not classical or ensemble is None:
        raise ModelsDirectoryError(
            f"{directory / ITEM_MANIFEST} lists no complete set of item variants; retrain "
            f"the item models."
        )
    return manifest, task_encoder, learners, classical, ensemble, users
