"""Item-side meta-training: each training item is a task whose support is K users' ratings.

The outer loop mirrors :func:`metarec.meta.training.meta_train` for item tasks. Second-
order meta-gradients flow through the inner steps (unless the variant is first-order),
and a student can distil from an adapted teacher.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from .meta.inner_loop import masked_mse
from .meta.training import TrainingError, divergence, stop_diverging
from .tasks import Task, group_ratings, make_tasks

logger = logging.getLogger("metarec")


@dataclass
class ItemHistory:
    train_loss: list
    validation_mae: list
    best_epoch: int
    seconds: float


class ItemEpisodeSampler:
    """Draw random training tasks from the training ratings, one per item and epoch.

    Each item's query is up to ``query_size`` of its ratings (at most half of them). A
    share ``zero_shot_share`` of tasks has no support; the others draw K log-uniformly
    between 1 and ``max_support`` (or what the item has left).
    """

    def __init__(self, grouped_ratings: dict, query_size=64, max_support=32,
                 zero_shot_share=0.2, seed=0):
        self.items = [i for i, (users, _) in grouped_ratings.items() if len(users) >= 2]
        if not self.items:
            raise ValueError("no training item has the 2 ratings a task needs")
        if not 0.0 <= zero_shot_share <= 1.0:
            raise ValueError(f"zero_shot_share must be between 0 and 1, got {zero_shot_share}")
        self.grouped = grouped_ratings
        self.query_size = query_size
        self.max_support = max_support
        self.zero_shot_share = zero_shot_share
        self.rng = np.random.default_rng(seed)

    def epoch(self, batch_size):
        """Yield lists of tasks covering every training item once, in random order."""
        order = self.rng.permutation(len(self.items))
        for start in range(0, len(order), batch_size):
            yield [self.task(self.items[i]) for i in order[start:start + batch_size]]

    def task(self, item) -> Task:
        users, ratings = self.grouped[item]
        order = self.rng.permutation(len(users))
        query_len = min(self.query_size, len(users) // 2)
        query, rest = order[:query_len], order[query_len:]
        most = min(self.max_support, len(rest))
        if most == 0 or self.rng.random() < self.zero_shot_share:
            shots = 0
        else:
            shots = int(np.clip(np.round(np.exp(self.rng.uniform(0, np.log(most + 0.5)))),
                                1, most))
        support = rest[:shots]
        return Task(item, users[support], ratings[support], users[query], ratings[query],
                    entity="item")


def item_tasks(ratings, item_ids, shots, seed=0, query_size=10, min_ratings=13,
               max_ratings=100) -> list[Task]:
    """Build one evaluation task per eligible item with ``shots`` support ratings.

    ``shots`` is an integer from 0 or "all". ``shots=0`` gives the 1-shot tasks with
    their support emptied: the same items and query users, scored from content alone.
    """
    if str(shots).strip() == "0":
        tasks = make_tasks(ratings, item_ids, 1, query_size, seed, min_ratings, max_ratings,
                           entity="item")
        empty = np.zeros(0, dtype=np.int64)
        return [Task(t.user_id, empty, np.zeros(0, dtype=np.float32), t.query_items,
                     t.query_ratings, "item") for t in tasks]
    return make_tasks(ratings, item_ids, shots, query_size, seed, min_ratings, max_ratings,
                      entity="item")


def validation_error(learner, batches) -> float:
    """Mean absolute query error over collated validation batches."""
    errors = []
    for batch in batches:
        with torch.no_grad():
            scores, _, _ = learner.adapt_and_predict(batch, first_order=True)
        error = ((scores - batch["query_targets"]).abs() * batch["query_mask"]).sum()
        errors.append((error / batch["query_mask"].sum()).item())
    return float(np.mean(errors))


def _new_user_masks(tasks, share, rng):
    if share <= 0:
        return None
    return [(rng.random(t.shots) < share, rng.random(len(t.query_items)) < share)
            for t in tasks]


def meta_train_items(learner, spec, train_ratings, validation_tasks, task_encoder, contents,
                     teacher=None, name="model", show_progress=False,
                     callback=None) -> ItemHistory:
    """Meta-train an item-side ``learner`` in place; keep the best validation weights.

    Parameters
    ----------
    learner : ItemMetaLearner
    spec : ItemVariantSpec
        The variant's settings; ``spec.train`` drives the outer loop.
    train_ratings : pandas.DataFrame
        Ratings that may train the model (known items, training users).
    validation_tasks : list of Task
        Item tasks of validation items, for early stopping.
    task_encoder : ItemTaskEncoder
    contents : dict of int to ItemContent
        Content of every item that appears in a task.
    teacher : tuple of (ItemMetaLearner, ItemVariantSpec), optional
        A trained teacher to distil from; required when a distillation weight is set.
    callback : callable, optional
        Called after each epoch with ``(epoch, epochs, train_loss, validation_error)``.

    Raises
    ------
    TrainingError
        If the meta-loss, the validation error or a weight becomes NaN or infinite before
        any epoch ended with finite ones, or the meta-loss stays exactly the same for
        ``stall_epochs`` epochs. After a good epoch, such a divergence stops training
        and keeps the best epoch's weights instead, with a warning.
    """
    config = spec.train
    distilling = config.distill_weight > 0 or config.distill_users_weight > 0
    if distilling and teacher is None:
        raise ValueError(f"{name}: distillation weights are set but no teacher was given")
    if not validation_tasks:
        raise ValueError(f"{name}: no validation item has enough ratings for a task")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)

    def collate(tasks, use_text, masks=None):
        return task_encoder.collate(tasks, [contents[t.user_id] for t in tasks], use_text,
                                    masks)

    validation_batches = [collate(validation_tasks[start:start + 256], spec.use_text)
                          for start in range(0, len(validation_tasks), 256)]
    sampler = ItemEpisodeSampler(group_ratings(train_ratings, by="item_id"),
                                 config.train_query_size, config.max_support,
                                 config.zero_shot_share, seed=config.seed)
    trained_rows = task_encoder.user_table.rows(task_encoder.user_table.trained_ids)
    trainable = [p for p in learner.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=config.meta_lr, weight_decay=config.weight_decay)

    best_error, best_state, best_epoch = math.inf, None, -1
    history = ItemHistory([], [], -1, 0.0)
    started = time.perf_counter()
    bar = tqdm(range(config.epochs), desc=f"train {name}", disable=not show_progress,
               leave=False)
    for epoch in bar:
        learner.train()
        losses = []
        diverged = None
        for tasks in sampler.epoch(config.meta_batch):
            masks = _new_user_masks(tasks, config.new_user_share, rng)
            batch = collate(tasks, spec.use_text, masks)
            extra_rows = None
            if config.distill_users_weight > 0:
                extra_rows = torch.as_tensor(
                    rng.choice(trained_rows, size=(len(tasks), config.distill_users)))
            scores, _, extra = learner.adapt_and_predict(batch, extra_rows=extra_rows)
            loss = masked_mse(scores, batch["query_targets"], batch["query_mask"])

            if distilling:
                teacher_learner, teacher_spec = teacher
                teacher_batch = collate(tasks, teacher_spec.use_text, masks)
                with torch.no_grad():
                    teacher_scores, _, teacher_extra = teacher_learner.adapt_and_predict(
                        teacher_batch, extra_rows=extra_rows, first_order=True)
                if config.distill_weight > 0:
                    loss = loss + config.distill_weight * masked_mse(
                        scores, teacher_scores, batch["query_mask"])
                if config.distill_users_weight > 0:
                    loss = loss + config.distill_users_weight * masked_mse(
                        extra, teacher_extra, torch.ones_like(extra))

            if not torch.isfinite(loss):
                diverged = f"meta-loss became {loss.item()}"
                break
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, config.clip_norm)
            optimizer.step()
            losses.append(loss.item())

        learner.eval()
        if diverged is None:
            error = validation_error(learner, validation_batches)
            diverged = divergence(learner, error)
        if diverged is not None:
            # Keeps the best epoch's weights, loaded below, or raises if there is none.
            stop_diverging(name, diverged, epoch, best_epoch, best_error, learner, config)
            break
        train_loss = float(np.mean(losses))
        history.train_loss.append(train_loss)
        history.validation_mae.append(error)
        improved = error < best_error - 1e-5
        if improved:
            best_error, best_epoch = error, epoch
            best_state = copy.deepcopy(learner.state_dict())
        logger.debug("%s epoch %d/%d: train loss %.4f, validation MAE %.4f%s", name,
                     epoch + 1, config.epochs, train_loss, error, " (best)" if improved else "")
        bar.set_postfix(loss=f"{train_loss:.4f}", val=f"{error:.4f}")
        if callback is not None:
            callback(epoch + 1, config.epochs, train_loss, error)

        recent = history.train_loss[-config.stall_epochs:]
        if len(recent) == config.stall_epochs and max(recent) - min(recent) == 0.0:
            raise TrainingError(
                f"{name}: meta-loss stayed at {train_loss:.6f} for {config.stall_epochs} "
                f"epochs, so the parameters are not moving; check meta_lr "
                f"(now {config.meta_lr}) and that some parameters require grad"
            )
        if epoch - best_epoch >= config.patience:
            logger.info("%s: no validation gain for %d epochs, stopping", name, config.patience)
            break

    learner.load_state_dict(best_state)
    history.best_epoch = best_epoch
    history.seconds = time.perf_counter() - started
    return history
