"""Train every variant on a dataset and write a models directory."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .data.features import FeatureEncoder
from .evaluation.evaluate import evaluate_users, score_tasks
from .meta.distributed import current_group
from .meta.ensemble import SupportSizeEnsemble
from .meta.training import check_epochs, meta_train, validation_metric
from .models.baselines import (ALSMatrixFactorization, GlobalMean, ItemMean, PopularityRanker,
                               RandomRanker, UserBiasBaseline)
from .models.prior import ItemPrior, like_log_odds
from .models.variants import build_learner, default_variants
from .serving.recommender import Recommender
from .serving.store import check_models_kind, save_models
from .tasks import ALL, TaskSize, make_tasks, task_size_for
from .tasks.scenarios import make_scenario
from .tasks.split import check_seed

logger = logging.getLogger("metarec")

# Support sizes of the validation tasks the ensemble weights are fitted on.
ENSEMBLE_SHOTS = (1, 2, 3, 4, 5, 7, 10, 15, 20, 30, ALL)
ENSEMBLE_DRAWS = 3
VALIDATION_SHOTS = (1, 5, ALL)
ENSEMBLE_MEMBERS = ("teacher", "student", "user-bias", "mf-als")


def fit_classical(train_ratings, seed=0) -> dict:
    """Fit the classical baselines on the meta-train users' ratings."""
    return {
        "user-bias": UserBiasBaseline().fit(train_ratings),
        "mf-als": ALSMatrixFactorization(random_state=seed).fit(train_ratings),
        "item-mean": ItemMean().fit(train_ratings),
        "global-mean": GlobalMean().fit(train_ratings),
        "popularity": PopularityRanker().fit(train_ratings),
        "random": RandomRanker(random_state=seed).fit(train_ratings),
    }


def train_models(dataset, out_dir, seed=0, variants=None, epochs=None, show_progress=False,
                 callback=None, scenario="new-user", cut_year=None) -> Path:
    """Meta-train the networks, fit the classical baselines and the ensemble, save them.

    Users are split at random with ``seed`` into meta-train (70%), validation (10%) and
    test (20%). Only meta-train users' ratings train the networks and the baselines.
    Validation users pick the best epoch and fit the ensemble weights, and test users
    are left for :func:`metarec.evaluation.evaluate.evaluate_users`.

    Parameters
    ----------
    dataset : Dataset
    out_dir : str or path-like
        Models directory to write; created if missing, files in it are replaced. A
        folder that contains item models (``item_manifest.json``) and no user models
        is rejected.
    seed : int
        Seed of the user split and of training.
    variants : dict of str to VariantSpec, optional
        Neural variants in training order; defaults to :func:`default_variants`.
    epochs : int, optional
        Overrides every variant's epoch budget; 1 or more.
    callback : callable, optional
        Called as ``callback(message, fraction_done)`` as training goes on.
    scenario : {"new-user", "new-user-new-item", "new-item"}
        Cold-start scenario, see :mod:`metarec.tasks.scenarios`. With
        ``new-user-new-item`` the items released from ``cut_year`` on are held out of
        training too, and validation tasks are validation users' ratings of them.
        ``new-item`` trains the item-side models instead, with
        :func:`metarec.item_pipeline.train_item_models`, and returns its manifest.

    Under ``torchrun`` (see :mod:`metarec.meta.distributed`) every worker calls this with
    the same arguments and the workers share each meta-batch. Only rank 0 goes on to fit
    the ensemble, score validation users and write files.

    Returns
    -------
    pathlib.Path or None
        The written manifest; None on the other workers.
    """
    check_seed(seed)
    check_epochs(epochs)
    if scenario != "new-item":
        check_models_kind(out_dir, "models")
    started = time.perf_counter()
    workers = current_group()
    specs = dict(variants or default_variants(epochs))
    if epochs is not None and variants is not None:
        for spec in specs.values():
            spec.train.epochs = epochs
    report = callback or (lambda message, fraction: None)
    report("splitting users and fitting the classical baselines", 0.0)
    torch.manual_seed(seed)

    # Split users (and items). Everything learned below reads meta-train ratings only.
    if scenario == "new-item":
        # New-item tasks adapt per item, so the item-side models train for them; the
        # user-side ``variants`` do not apply.
        from .item_pipeline import train_item_models

        return train_item_models(dataset, out_dir, seed=seed, epochs=epochs,
                                 show_progress=show_progress, callback=callback,
                                 scenario=scenario, cut_year=cut_year)
    scenario_split = make_scenario(dataset, scenario, seed=seed, cut_year=cut_year)
    split = scenario_split.users
    train_ratings = scenario_split.training_ratings(dataset.ratings)
    validation_ratings = scenario_split.held_out_ratings(dataset.ratings, "validation")
    logger.info("%s; split seed %d: %s meta-train, %s validation, %s test users",
                dataset.summary(), seed, f"{len(split.train):,}",
                f"{len(split.validation):,}", f"{len(split.test):,}")

    encoder = FeatureEncoder.from_dataset(dataset)
    user_features = encoder.encode_users(dataset.users)
    item_features = encoder.item_feature_table(dataset.items)
    classical = fit_classical(train_ratings, seed)
    prior = ItemPrior.from_baseline(classical["user-bias"], encoder).with_factors(
        classical["mf-als"], encoder)
    like_prior = None
    if any(spec.learner.get("task") == "like" for spec in specs.values()):
        like_prior = like_log_odds(train_ratings, encoder, dataset.like_threshold)
    text_features = None
    if any(spec.network.get("text") for spec in specs.values()):
        report("embedding item text with the sentence encoder", 0.0)
        text_features = item_text_table(encoder, dataset.items)

    # Meta-train the networks in order, so a student can distil from a trained teacher.
    learners, histories = {}, {}
    total_epochs = sum(spec.train.epochs for spec in specs.values())
    done_epochs = 0
    for name, spec in specs.items():
        teacher = learners.get(spec.distill_from) if spec.distill_from else None
        if spec.distill_from and teacher is None:
            raise ValueError(
                f"variant {name!r} distils from {spec.distill_from!r}, which must be "
                f"trained before it; list it earlier"
            )
        learner = build_learner(spec, encoder, item_features, prior, text_features,
                                like_prior)
        offset = done_epochs

        def on_epoch(epoch, epochs, loss, error, name=name, offset=offset,
                     metric=validation_metric(learner)):
            report(f"{name}: epoch {epoch}/{epochs}, validation {metric} {error:.3f}",
                   min(0.95, (offset + epoch) / total_epochs * 0.95))

        # The like task's labels follow the data's scale: 4 stars of 5, 8 of 10.
        config = replace(spec.train, like_threshold=dataset.like_threshold)
        histories[name] = meta_train(
            learner, train_ratings, validation_ratings, encoder, user_features, prior,
            config, teacher=teacher, name=name, show_progress=show_progress,
            callback=on_epoch)
        learner.requires_grad_(False)
        learners[name] = learner
        # Saved with the spec, so a reloaded model serves with the chosen step count.
        specs[name] = replace(spec, train=config,
                              learner={**spec.learner, "serve_steps": learner.serve_steps,
                                       "serve_schedule": learner.serve_schedule})
        done_epochs += spec.train.epochs

    if not workers.is_main:
        return None

    # Fit the ensemble weights on validation users, by support size.
    report("fitting the ensemble on validation users", 0.96)
    manifest = {"dataset": {"rating_scale": list(dataset.rating_scale)}}
    recommender = Recommender(manifest, encoder, prior, learners, classical, None,
                              dataset.item_titles())
    members = [m for m in ENSEMBLE_MEMBERS if m in recommender.variants]
    size = task_size_for(validation_ratings, split.validation)
    if size != TaskSize():
        logger.warning("no validation user has %d ratings, so validation tasks use a query "
                       "of %d ratings from users with %d or more", TaskSize().min_ratings,
                       size.query_size, size.min_ratings)
    # Several draws of support and query per user and size give the weights more data.
    tasks = [task for draw in range(ENSEMBLE_DRAWS) for shots in ENSEMBLE_SHOTS
             for task in make_tasks(validation_ratings, split.validation, shots,
                                    query_size=size.query_size, min_ratings=size.min_ratings,
                                    seed=seed + 1000 * draw, max_ratings=None)]
    predictions = {m: score_tasks(recommender, m, tasks, user_features) for m in members}
    shots = [task.shots for task in tasks for _ in task.query_items]
    targets = [r for task in tasks for r in task.query_ratings]
    people = [task.user_id for task in tasks for _ in task.query_items]
    recommender.ensemble = SupportSizeEnsemble(members).fit(
        {m: _flatten(p) for m, p in predictions.items()}, np.asarray(shots, dtype=float),
        np.asarray(targets, dtype=float), groups=np.asarray(people))

    # Validation metrics go into the manifest; test users stay untouched.
    report("scoring validation users", 0.98)
    validation = evaluate_users(recommender, validation_ratings, split.validation,
                                user_features, VALIDATION_SHOTS, seed=seed,
                                query_size=size.query_size, min_ratings=size.min_ratings)
    logger.info("validation metrics:\n%s", validation.to_string(index=False))

    path = save_models(
        out_dir, dataset=dataset, split=split, encoder=encoder, prior=prior,
        item_features=item_features, text_features=text_features, learners=learners,
        specs=specs, histories=histories,
        classical=classical, ensemble=recommender.ensemble,
        validation=_records(validation),
        extra={"train_seconds": round(time.perf_counter() - started, 1),
               "workers": workers.world_size,
               "scenario": scenario_split.to_dict()})
    report("done", 1.0)
    logger.info("wrote %s in %.0f s", path, time.perf_counter() - started)
    return path


def item_text_table(encoder, items) -> np.ndarray:
    """Sentence embedding of each item's title, genres and year, by item table row.

    Row 0, the unknown item, is all zeros. Computed once at training time and saved with
    the models, so serving never runs the language model for catalogue items.
    """
    from .data.text import EMBEDDING_DIM, encode_texts, item_text

    table = np.zeros((encoder.n_items + 1, EMBEDDING_DIM), dtype=np.float32)
    by_id = items.set_index("item_id")
    ids = [i for i in encoder.item_ids if i in by_id.index]
    texts = [item_text(by_id.at[i, "title"], by_id.at[i, "genres"], _year(by_id.at[i, "year"]))
             for i in ids]
    table[encoder.item_rows(ids)] = encode_texts(texts)
    return table


def _year(value):
    return None if value is None or pd.isna(value) else int(value)


def _records(frame):
    """Rows of ``frame`` as dicts, NaN written as None so the manifest stays strict JSON."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def _flatten(arrays):
    return np.concatenate(arrays) if arrays else np.zeros(0)
