"""Meta-training: the outer loop around the inner loop, with optional distillation."""

from __future__ import annotations

import copy
import logging
import math
import numbers
import time
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from ..tasks import ALL, TaskSize, group_ratings, make_tasks, task_size_for
from .batching import EpisodeSampler, collate
from .distributed import SINGLE_PROCESS, current_group
from .inner_loop import TASK_LOSSES, masked_mse

logger = logging.getLogger("metarec")


def check_epochs(epochs):
    """Raise ValueError unless ``epochs`` is None or a whole number of 1 or more.

    Called before any work, so that a bad value stops training at once instead of after
    the split and the baselines, with an error from deep inside it.
    """
    if epochs is None:
        return
    if isinstance(epochs, (bool, np.bool_)) or not isinstance(epochs, numbers.Integral):
        raise ValueError(f"epochs must be a whole number such as 10, got {epochs!r}; pass "
                         f"None to train each variant for its default number of epochs")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}; pass None to train "
                         f"each variant for its default number of epochs")


# An epoch whose mean training loss exceeds the lowest so far by this factor is logged
# as a warning: a few tasks' inner steps produced huge predictions.
LOSS_SPIKE = 100


class TrainingError(RuntimeError):
    """Meta-training cannot go on: the loss became NaN or stopped changing."""


@dataclass
class TrainConfig:
    """Settings of the outer loop.

    Three distillation terms pull an adapted student toward the adapted teacher, each
    with its own weight (0 turns it off):

    - ``distill_weight`` (rating level): squared error between the two models'
      predictions on the query ratings.
    - ``distill_catalogue_weight`` (catalogue level): the same on ``distill_items``
      random catalogue items per task, which the user mostly has not rated; the teacher
      gives the student dense targets that the real ratings lack.
    - ``distill_ranking_weight`` (ranking level): a listwise loss on those catalogue
      items, the KL divergence from the teacher's softmax distribution over them to the
      student's, both at ``distill_temperature``. It asks the student to order the items
      as the teacher does rather than to match its rating values.
    """

    epochs: int = 30
    meta_batch: int = 32
    meta_lr: float = 3e-3
    weight_decay: float = 0.0
    clip_norm: float = 5.0
    max_support: int = 64
    query_size: int = 10
    train_query_size: int = 80
    patience: int = 6
    validation_shots: tuple = (1, 5, ALL)
    distill_weight: float = 0.0
    distill_catalogue_weight: float = 0.0
    distill_ranking_weight: float = 0.0
    distill_temperature: float = 1.0
    distill_items: int = 32
    stall_epochs: int = 3
    serve_step_candidates: tuple = (1, 2, 3, 5, 8, 12)
    seed: int = 0
    # The lowest rating that is a like, for the like task; train_models sets it from the
    # data's rating scale (metarec.data.like_threshold).
    like_threshold: float = 4.0


@dataclass
class History:
    train_loss: list
    validation_mae: list
    best_epoch: int
    seconds: float
    serve_step_errors: dict = None


def listwise_distillation(student_scores, teacher_scores, temperature=1.0):
    """KL divergence from the teacher's to the student's softmax over each row's items.

    Both arguments are ``(tasks, items)``; the result is averaged over tasks and scaled
    by ``temperature ** 2`` so that its gradient size does not depend on the temperature.
    """
    target = torch.softmax(teacher_scores / temperature, dim=-1)
    log_student = torch.log_softmax(student_scores / temperature, dim=-1)
    kl = (target * (torch.log(target.clamp_min(1e-12)) - log_student)).sum(-1)
    return kl.mean() * temperature ** 2


def _query_loss(learner, scores, batch):
    return TASK_LOSSES[learner.task](scores, batch["query_targets"], batch["query_mask"])


def validation_metric(learner) -> str:
    """Name what :func:`validation_error` measures for ``learner``."""
    # Item-side learners have no task attribute: they regress ratings only.
    return "MAE" if getattr(learner, "task", "rating") == "rating" else "log loss"


def validation_error(learner, batches, workers=SINGLE_PROCESS) -> float:
    """Mean query error over validation batches: MAE for ratings, log loss for likes.

    With several ``workers`` each scores every ``world_size``-th batch and the errors are
    summed, so every worker returns the single-process value.
    """
    errors = torch.zeros(len(batches), dtype=torch.float64)
    for index in range(workers.rank, len(batches), workers.world_size):
        batch = batches[index]
        with torch.no_grad():
            scores, _, _ = learner.adapt_and_predict(batch, steps=learner.serve_steps,
                                                     first_order=True)
        if learner.task == "rating":
            error = ((scores - batch["query_targets"]).abs() * batch["query_mask"]).sum()
            errors[index] = (error / batch["query_mask"].sum()).item()
        else:
            errors[index] = _query_loss(learner, scores, batch).item()
    workers.sum(errors, what="validation errors")
    return float(np.mean(errors.numpy()))


def validation_episodes(learner, validation_ratings, encoder, user_features, prior,
                        config: TrainConfig) -> list:
    """Collated validation tasks at ``config.validation_shots``, fixed by ``config.seed``.

    The same episodes score every epoch and every serving-step count, so differences
    come from the model and not from the draw.
    """
    batches = []
    users = validation_ratings["user_id"].unique()
    size = task_size_for(validation_ratings, users, TaskSize(query_size=config.query_size))
    for shots in config.validation_shots:
        tasks = make_tasks(validation_ratings, users, shots, query_size=size.query_size,
                           min_ratings=size.min_ratings, seed=config.seed)
        for start in range(0, len(tasks), 256):
            batches.append(collate(tasks[start:start + 256], encoder, user_features, prior,
                                   target=learner.task,
                                   like_threshold=config.like_threshold))
    if not batches:
        raise ValueError("no validation user has enough ratings for a validation task")
    return batches


def choose_serve_steps(learner, batches, candidates=(1, 2, 3, 5, 8, 12), tolerance=1e-3,
                       workers=SINGLE_PROCESS, name="model"):
    """Choose how many inner steps to serve with, by support size, on validation users.

    A person with one rating needs fewer steps than one with fifty: more steps fit one
    rating too closely, and too few leave fifty ratings unused. The validation
    ``batches`` are grouped by their median support size (each contains tasks of one
    ``validation_shots`` setting). In each group every candidate count is scored, and
    the smallest count within ``tolerance`` of the group's lowest error wins, since each
    step costs every person served some latency. ``learner.serve_schedule`` then switches
    from one group's count to the next at the geometric mean of their median support
    sizes, and ``learner.serve_steps`` gets the count chosen over all groups together.

    Returns
    -------
    dict of int to dict of int to float
        Validation error by group (its median support size) and candidate count.
    """
    groups = {}
    for batch in batches:
        size = int(np.median(batch["support_mask"].sum(1).numpy()))
        groups.setdefault(size, []).append(batch)
    counts = sorted(set(candidates) | {learner.serve_steps})

    def cheapest(errors):
        best = min(errors.values())
        return min(s for s, e in errors.items() if e <= best + tolerance)

    table, schedule, previous = {}, [], None
    for size in sorted(groups):
        table[size] = {}
        for steps in counts:
            learner.serve_steps = steps
            table[size][steps] = validation_error(learner, groups[size], workers)
        lower = 0 if previous is None else int(np.ceil(np.sqrt(previous * size)))
        schedule.append([lower, cheapest(table[size])])
        previous = size
    weights = {size: len(groups[size]) / len(batches) for size in groups}
    overall = {steps: sum(weights[size] * table[size][steps] for size in table)
               for steps in counts}
    learner.serve_steps = cheapest(overall)
    learner.serve_schedule = schedule
    if workers.is_main:
        logger.info("%s serving steps by support size: %s", name,
                    ", ".join(f"{lower}+ ratings: {steps}" for lower, steps in schedule))
    return table


def meta_train(learner, train_ratings, validation_ratings, encoder, user_features, prior,
               config: TrainConfig, teacher=None, name="model", show_progress=False,
               callback=None, workers=None) -> History:
    """Meta-train ``learner`` in place and keep the weights with the best validation error.

    Parameters
    ----------
    learner : MetaLearner
        Trained in place.
    train_ratings : pandas.DataFrame
        Ratings of the meta-train users only.
    validation_ratings : pandas.DataFrame
        Ratings of the validation users, used for early stopping only.
    encoder : FeatureEncoder
    user_features : dict
        ``{user_id: feature vector}``.
    prior : ItemPrior
        Item means and user-bias shrinkage, fitted on ``train_ratings``.
    teacher : MetaLearner, optional
        A trained teacher to distil from; required when a distillation weight is set.
    callback : callable, optional
        Called after each epoch with ``(epoch, epochs, train_loss, validation_error)``,
        on rank 0 only.
    workers : WorkerGroup, optional
        Data-parallel workers that share each meta-batch of ``config.meta_batch`` tasks
        (see :mod:`metarec.meta.distributed`). Defaults to the process group this
        process joined, else a single process. Every worker must call this with the
        same arguments and ends with the same weights and history.

    When the meta-loss, the validation error or a weight becomes NaN or infinite,
    training stops there and keeps the weights of the best epoch so far, with a warning.

    Raises
    ------
    TrainingError
        If the meta-loss, the validation error or a weight becomes NaN or infinite in
        the first epoch, so no weights are worth keeping, or if the meta-loss stays
        exactly the same for ``config.stall_epochs`` epochs.
    WorkerError
        If another worker failed or did not answer within the timeout.
    """
    on_catalogue = config.distill_catalogue_weight > 0 or config.distill_ranking_weight > 0
    distilling = config.distill_weight > 0 or on_catalogue
    if distilling and teacher is None:
        raise ValueError("distillation weights are set but no teacher was given")
    workers = workers or current_group()
    show_progress = show_progress and workers.is_main
    workers.broadcast_module(learner)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)

    validation_batches = validation_episodes(learner, validation_ratings, encoder,
                                             user_features, prior, config)

    sampler = EpisodeSampler(group_ratings(train_ratings), config.train_query_size,
                             config.max_support, seed=config.seed)
    trainable = [p for p in learner.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=config.meta_lr,
                                 weight_decay=config.weight_decay)

    best_error, best_state, best_epoch = math.inf, None, -1
    history = History([], [], -1, 0.0)
    started = time.perf_counter()
    epochs = range(config.epochs)
    bar = tqdm(epochs, desc=f"train {name}", disable=not show_progress, leave=False)
    for epoch in bar:
        learner.train()
        losses = []
        diverged = None
        for tasks in sampler.epoch(config.meta_batch, workers.rank, workers.world_size):
            optimizer.zero_grad()
            batch = collate(tasks, encoder, user_features, prior, target=learner.task,
                            like_threshold=config.like_threshold) if tasks else None
            shares, global_tasks = _meta_batch_shares(workers, batch, len(tasks))
            extra_rows = None
            if on_catalogue:
                # Drawn for the whole meta-batch on every worker, so each task gets the
                # catalogue items it would get in a single process.
                extra_rows = torch.as_tensor(workers.share(
                    rng.integers(1, encoder.n_items + 1,
                                 size=(global_tasks, config.distill_items))))
            if batch is None:
                # An empty share of a short last meta-batch: nothing to compute, but this
                # worker still takes part in summing the gradients.
                loss_value = workers.sum_gradients(trainable, None)
            else:
                loss = _batch_loss(learner, batch, extra_rows, config, teacher, shares)
                loss.backward()
                loss_value = workers.sum_gradients(trainable, loss)
            if not math.isfinite(loss_value):
                diverged = f"meta-loss became {loss_value}"
                break
            torch.nn.utils.clip_grad_norm_(trainable, config.clip_norm)
            optimizer.step()
            losses.append(loss_value)

        learner.eval()
        if diverged is None:
            error = validation_error(learner, validation_batches, workers)
            diverged = divergence(learner, error)
        if diverged is not None:
            stop_diverging(name, diverged, epoch, best_epoch, best_error, learner, config,
                           workers)
            break
        train_loss = float(np.mean(losses))
        lowest = min(history.train_loss, default=math.inf)
        if train_loss > LOSS_SPIKE * lowest and workers.is_main:
            logger.warning(
                "%s: training loss %.4g in epoch %d is over %d times the lowest so far "
                "(%.4g), so some tasks' predictions blew up; training goes on because the "
                "validation error (%.4f) is finite, and the best epoch by validation is "
                "kept", name, train_loss, epoch + 1, LOSS_SPIKE, lowest, error)
        history.train_loss.append(train_loss)
        history.validation_mae.append(error)
        improved = error < best_error - 1e-5
        if improved:
            best_error, best_epoch = error, epoch
            best_state = copy.deepcopy(learner.state_dict())
        if workers.is_main:
            logger.debug("%s epoch %d/%d: train loss %.4f, validation %s %.4f%s", name,
                         epoch + 1, config.epochs, train_loss, validation_metric(learner),
                         error, " (best)" if improved else "")
        bar.set_postfix(loss=f"{train_loss:.4f}", val=f"{error:.4f}")
        if callback is not None and workers.is_main:
            callback(epoch + 1, config.epochs, train_loss, error)

        recent = history.train_loss[-config.stall_epochs:]
        if len(recent) == config.stall_epochs and max(recent) - min(recent) == 0.0:
            raise TrainingError(
                f"{name}: meta-loss stayed at {train_loss:.6f} for {config.stall_epochs} "
                f"epochs, so the parameters are not moving; check meta_lr "
                f"(now {config.meta_lr}) and that some parameters require grad"
            )
        if epoch - best_epoch >= config.patience:
            if workers.is_main:
                logger.info("%s: no validation gain for %d epochs, stopping", name,
                            config.patience)
            break

    learner.load_state_dict(best_state)
    workers.check_same(learner, name)
    if config.serve_step_candidates:
        history.serve_step_errors = choose_serve_steps(
            learner, validation_batches, config.serve_step_candidates, workers=workers,
            name=name)
    history.best_epoch = best_epoch
    history.seconds = time.perf_counter() - started
    return history


def divergence(learner, error) -> str | None:
    """Say how training diverged after an epoch that ended with validation ``error``.

    Returns None when the error and every weight are finite. A weight can become NaN or
    infinite while the validation error stays finite, for example in the embedding of an
    item that no validation user rated, and such weights must not be kept as the best.
    """
    if not math.isfinite(error):
        return f"validation {validation_metric(learner)} became {error}"
    for parameter_name, value in learner.named_parameters():
        if not torch.isfinite(value).all():
            return f"weight {parameter_name} became NaN or infinite"
    return None


def stop_diverging(name, diverged, epoch, best_epoch, best_error, learner, config,
                   workers=SINGLE_PROCESS):
    """Log that training of ``name`` stops at ``epoch``, or raise if no epoch was good.

    The caller then loads the weights of ``best_epoch``, as after early stopping.

    Raises
    ------
    TrainingError
        If no epoch before ``epoch`` ended with finite weights and validation error,
        so there are no weights to keep.
    """
    if best_epoch < 0:
        raise TrainingError(
            f"{name}: {diverged} in epoch {epoch + 1}, before any epoch ended with a "
            f"finite validation error, so there are no weights to keep. Train again "
            f"with another seed (train --seed N) or on more ratings; from Python, a "
            f"lower meta_lr in the variant's TrainConfig (now {config.meta_lr}) may help"
        )
    # The kept weights were finite on the validation users, but a network that diverged
    # once can still adapt unstably to some other users' ratings; _bounded_targets keeps
    # a student distilled from it from diverging too.
    if workers.is_main:
        logger.warning(
            "%s: %s in epoch %d, so training stopped there and kept the weights of "
            "epoch %d (validation %s %.4f); another seed (train --seed N) may train "
            "for longer", name, diverged, epoch + 1, best_epoch + 1,
            validation_metric(learner), best_error)


def _meta_batch_shares(workers, batch, n_tasks):
    """This worker's fractions of the meta-batch's query ratings, support ratings and tasks.

    Each loss term is a mean over one of these, so weighting a worker's term by its
    fraction makes the terms of all workers add up to the single-process mean. Returns
    the fractions and the number of tasks in the whole meta-batch.
    """
    local = torch.zeros(3, dtype=torch.float64)
    if batch is not None:
        local[0] = batch["query_mask"].sum().item()
        local[1] = batch["support_mask"].sum().item()
        local[2] = n_tasks
    if not workers.distributed:
        return (1.0, 1.0, 1.0), n_tasks
    total = workers.sum(local.clone(), what="meta-batch sizes")
    shares = tuple(float(part / whole) if whole > 0 else 0.0
                   for part, whole in zip(local, total))
    return shares, int(total[2])


def _bounded_targets(teacher, *scores):
    """Hold a teacher's predictions within one rating span of its item means.

    A teacher that diverged once and was rolled back to its best epoch can still adapt
    unstably to a few users' ratings and predict ratings of 1e21 for them, and a student
    distilled from those targets diverges at once. A sound teacher stays well within
    these bounds, so they change nothing for it. NaN predictions get the middle rating.
    """
    means = teacher.net.item_prior
    low, high = means.min(), means.max()
    span = (high - low).clamp_min(1.0)
    middle = float((low + high) / 2)
    return tuple(None if score is None else
                 torch.nan_to_num(score, nan=middle).clamp(low - span, high + span)
                 for score in scores)


def _batch_loss(learner, batch, extra_rows, config, teacher, shares):
    """Meta-loss of one worker's share of a meta-batch, weighted by ``shares``.

    ``shares`` are this worker's fractions of the meta-batch's query ratings, support
    ratings and tasks (all 1.0 in a single process), see :func:`_meta_batch_shares`.
    """
    query_share, support_share, task_share = shares
    if learner.inner_steps == 0:
        # Plain supervised training (the pretrain baseline): with no inner loop,
        # the support ratings are training targets as well as the query.
        scores, _, support_scores = learner.adapt_and_predict(
            batch, extra_rows=batch["support_rows"])
        loss = query_share * _query_loss(learner, scores, batch) + support_share * (
            TASK_LOSSES[learner.task](
                support_scores, batch["support_targets"], batch["support_mask"]))
    else:
        scores, _, extra = learner.adapt_and_predict(batch, extra_rows=extra_rows)
        loss = query_share * _query_loss(learner, scores, batch)

    if teacher is not None and (config.distill_weight > 0 or extra_rows is not None):
        with torch.no_grad():
            teacher_scores, _, teacher_extra = teacher.adapt_and_predict(
                batch, extra_rows=extra_rows, first_order=True)
            teacher_scores, teacher_extra = _bounded_targets(teacher, teacher_scores,
                                                             teacher_extra)
        if config.distill_weight > 0:
            loss = loss + query_share * config.distill_weight * masked_mse(
                scores, teacher_scores, batch["query_mask"])
        if config.distill_catalogue_weight > 0:
            loss = loss + task_share * config.distill_catalogue_weight * masked_mse(
                extra, teacher_extra, torch.ones_like(extra))
        if config.distill_ranking_weight > 0:
            loss = loss + task_share * config.distill_ranking_weight * listwise_distillation(
                extra, teacher_extra, config.distill_temperature)
    return loss
