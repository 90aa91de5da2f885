"""Train the item-side variants on a dataset and write an item models folder."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from .data.features import FeatureEncoder
from .item_training import item_tasks, meta_train_items
from .meta.training import check_epochs
from .models.item_baselines import ITEM_BASELINES, fit_rating_biases
from .models.item_encoding import ItemTaskEncoder, text_table
from .models.item_ensemble import ItemSupportEnsemble
from .models.item_learner import build_item_learner, default_item_variants
from .models.item_side import UserTable
from .serving.item_store import save_item_models
from .serving.store import check_models_kind
from .serving.items import ItemRecommender
from .tasks import task_size_for
from .tasks.scenarios import check_cut_year, make_scenario
from .tasks.split import check_seed

logger = logging.getLogger("metarec")

ITEM_SCENARIOS = ("new-item", "new-user-new-item")
# Support sizes of the validation item tasks the ensemble weights are fitted on.
ENSEMBLE_SHOTS = (0, 1, 2, 3, 5, 10, 20)
# Support sizes of the validation MAE recorded in the manifest; a subset of ENSEMBLE_SHOTS.
VALIDATION_SHOTS = (0, 1, 5)
ENSEMBLE_MEMBERS = ("teacher", "student", "content-only", "user-bias")
# Shrinkage of user biases and of a new item's support offset, in pseudo-ratings.
USER_SHRINKAGE = ITEM_SHRINKAGE = 5.0


def build_task_encoder(dataset, train_ratings, show_progress=False):
    """Encode the catalogue's content and text and the users of ``dataset``.

    Returns the :class:`ItemTaskEncoder` and the demographic vectors by user row.
    """
    encoder = FeatureEncoder.from_dataset(dataset)
    content = encoder.item_feature_table(dataset.items)
    text = text_table(encoder, dataset.items, show_progress=show_progress)

    mean, user_bias, _ = fit_rating_biases(train_ratings, USER_SHRINKAGE, ITEM_SHRINKAGE)
    user_table = UserTable(dataset.users["user_id"], train_ratings["user_id"].unique())
    user_prior = user_table.row_values(user_bias.to_dict())
    user_features = user_table.row_features(encoder.encode_users(dataset.users),
                                            encoder.encode_user())
    task_encoder = ItemTaskEncoder(encoder, content, text, user_table, user_prior, mean,
                                   ITEM_SHRINKAGE)
    return task_encoder, user_features


def train_item_models(dataset, out_dir, seed=0, variants=None, epochs=None,
                      show_progress=False, callback=None, scenario="new-item",
                      cut_year=None) -> Path:
    """Meta-train the item-side networks, fit the baselines and the ensemble, save them.

    Items released from ``cut_year`` on (by default the year that makes about a fifth
    of the catalogue new) are new: their ratings never reach training. Half of them are
    validation items, which pick the best epoch and fit the ensemble weights; the other
    half is left for :func:`metarec.evaluation.items.evaluate_item_scenario`. With
    ``scenario="new-user-new-item"`` users are split at random (70/10/20) as well, and
    only meta-train users' ratings of known items train the models.

    Parameters
    ----------
    dataset : Dataset
    out_dir : str or path-like
        Folder to write; created if missing. Files named ``item*`` in it are replaced.
        A folder that contains user models (``manifest.json``) and no item models
        is rejected; the dashboard looks for item models in its ``items`` subfolder.
    seed : int
        Seed of the split and of training.
    variants : dict of str to ItemVariantSpec, optional
        Neural variants in training order; defaults to :func:`default_item_variants`.
    epochs : int, optional
        Overrides every variant's epoch budget; 1 or more.
    callback : callable, optional
        Called as ``callback(message, fraction_done)`` as training goes on.
    scenario : {"new-item", "new-user-new-item"}

    Returns
    -------
    pathlib.Path
        The written manifest.

    Raises
    ------
    ValueError
        If ``scenario``, ``seed`` or ``epochs`` is not valid, or ``out_dir`` contains
        user models and no item models.
    """
    if scenario not in ITEM_SCENARIOS:
        raise ValueError(f"item-side models train for {' or '.join(ITEM_SCENARIOS)}, got "
                         f"scenario {scenario!r}")
    check_seed(seed)
    check_epochs(epochs)
    check_models_kind(out_dir, "item models")
    with _one_torch_thread():
        return _train(dataset, out_dir, seed, variants, epochs, show_progress, callback,
                      scenario, cut_year)


@contextmanager
def _one_torch_thread():
    """Compute with one torch thread, then restore the previous number.

    The item networks are too small for intra-op parallelism to pay. On a 2-core machine
    busy with other jobs, a teacher epoch on MovieLens-100K took about 3.5 s with one
    thread and 80 s or more with two, because every parallel region waited for a free
    core.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _train(dataset, out_dir, seed, variants, epochs, show_progress, callback, scenario,
           cut_year):
    started = time.perf_counter()
    specs = variants or default_item_variants(epochs)
    if epochs is not None and variants is not None:
        for spec in specs.values():
            spec.train.epochs = int(epochs)
    report = callback or (lambda message, fraction: None)
    torch.manual_seed(seed)

    # Split items (and users). Everything learned below reads training ratings only.
    report("splitting items and embedding item text", 0.0)
    check_cut_year(dataset.items, cut_year)
    split = make_scenario(dataset, scenario, seed=seed, cut_year=cut_year)
    train_ratings = split.training_ratings(dataset.ratings)
    validation_ratings = split.held_out_ratings(dataset.ratings, "validation")
    validation_items = split.held_out_items("validation")
    # Small data (a person's own file) may have no item with 13 ratings, so the query shrinks.
    size = task_size_for(validation_ratings, validation_items, by="item_id")
    cut = ("random new items" if split.cut_year is None
           else f"cut year {split.cut_year:g}")
    logger.info("%s; %s split seed %d, %s: %s new items, %s training ratings",
                dataset.summary(), scenario, seed, cut, f"{len(split.new_items):,}",
                f"{len(train_ratings):,}")
    task_encoder, user_features = build_task_encoder(dataset, train_ratings, show_progress)
    contents = {int(item): task_encoder.catalogue_content(item)
                for item in task_encoder.encoder.item_ids}

    report("fitting the classical baselines", 0.05)
    classical = {name: cls().fit(train_ratings, contents) for name, cls in ITEM_BASELINES.items()}

    # Meta-train the networks in order, so a student can distil from a trained teacher.
    learners, histories = {}, {}
    total_epochs = sum(spec.train.epochs for spec in specs.values())
    done_epochs = 0
    for name, spec in specs.items():
        teacher = None
        if spec.distill_from:
            if spec.distill_from not in learners:
                raise ValueError(f"variant {name!r} distils from {spec.distill_from!r}, "
                                 f"which must be trained before it; list it earlier")
            teacher = (learners[spec.distill_from], specs[spec.distill_from])
        spec.train.seed = seed
        learner = build_item_learner(spec, task_encoder.user_table, user_features,
                                     task_encoder.user_prior, task_encoder.global_mean,
                                     task_encoder.n_content_features,
                                     task_encoder.n_text_features)
        offset = done_epochs
        # Early stopping reads validation items with any number of ratings.
        validation = [task for shots in spec.train.validation_shots
                      for task in item_tasks(validation_ratings, validation_items, shots,
                                             seed=seed, query_size=size.query_size,
                                             min_ratings=size.min_ratings, max_ratings=None)]

        def on_epoch(epoch, epochs, loss, error, name=name, offset=offset):
            report(f"{name}: epoch {epoch}/{epochs}, validation MAE {error:.3f}",
                   0.05 + min(0.9, (offset + epoch) / total_epochs * 0.9))

        histories[name] = meta_train_items(learner, spec, train_ratings, validation,
                                           task_encoder, contents, teacher=teacher, name=name,
                                           show_progress=show_progress, callback=on_epoch)
        learner.requires_grad_(False)
        learner.eval()
        learners[name] = learner
        done_epochs += spec.train.epochs

    # Fit the ensemble weights on validation items, by support size.
    report("fitting the ensemble on validation items", 0.96)
    manifest = {"dataset": {"rating_scale": list(dataset.rating_scale)}}
    users = {column: dataset.users[column].to_numpy() for column in
             ("user_id", "age", "gender", "occupation")}
    recommender = ItemRecommender(manifest, task_encoder,
                                  {n: (learners[n], specs[n]) for n in learners}, classical,
                                  None, users)
    members = [m for m in ENSEMBLE_MEMBERS if m in recommender.variants]
    tasks = [task for shots in ENSEMBLE_SHOTS
             for task in item_tasks(validation_ratings, validation_items, shots, seed=seed,
                                    query_size=size.query_size, min_ratings=size.min_ratings,
                                    max_ratings=None)]
    predictions = {m: np.concatenate(recommender.score_tasks(m, tasks)) for m in members}
    shots = np.array([task.shots for task in tasks for _ in task.query_items], dtype=float)
    targets = np.array([r for task in tasks for r in task.query_ratings], dtype=float)
    recommender.ensemble = ItemSupportEnsemble(members).fit(predictions, shots, targets)

    # Validation MAE goes into the manifest; test items stay untouched.
    records = []
    for variant in recommender.variants:
        for k in VALIDATION_SHOTS:
            k_tasks = [t for t in tasks if t.shots == k]
            if not k_tasks:
                continue
            scores = recommender.score_tasks(variant, k_tasks)
            errors = [np.mean(np.abs(s - t.query_ratings)) for s, t in zip(scores, k_tasks)]
            records.append({"variant": variant, "shots": str(k), "items": len(k_tasks),
                            "mae": float(np.mean(errors))})
    logger.info("validation MAE: %s", ", ".join(
        f"{r['variant']} K={r['shots']} {r['mae']:.4f}" for r in records))

    path = save_item_models(
        out_dir, dataset=dataset, scenario=split, task_encoder=task_encoder,
        user_features=user_features, users=dataset.users, learners=learners, specs=specs,
        histories=histories, classical=classical, ensemble=recommender.ensemble,
        validation=records, extra={"train_seconds": round(time.perf_counter() - started, 1)})
    report("done", 1.0)
    logger.info("wrote %s in %.0f s", path, time.perf_counter() - started)
    return path
