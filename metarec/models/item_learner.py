"""Item-side meta-learners: an item network, how it adapts, and the named variants.

Adaptation reuses the user side's functional inner loop
(:func:`metarec.meta.inner_loop.adapt`): the network's ``forward(item_vector, user_rows)``
has the same shape as a user network's ``forward(user_vector, item_rows)``, so the same
``torch.func`` code takes the inner steps, and the meta-gradient flows back through them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.func import vmap

from ..meta.inner_loop import adapt, masked_mse, predict
from .item_side import ItemRatingNet, N_ITEM_CONTEXT, item_adapted_names

ALGORITHMS = ("maml", "fomaml", "metasgd")


def _key(name: str) -> str:
    # ParameterDict keys may not contain dots.
    return name.replace(".", "__")


class ItemMetaLearner(nn.Module):
    """An :class:`ItemRatingNet` with its inner loop: what item-side meta-training trains.

    Parameters
    ----------
    net : ItemRatingNet
    adapt : str
        Parameter group adapted per item, see :func:`item_adapted_names`.
    algorithm : {"maml", "fomaml", "metasgd"}
        Second-order MAML, first-order MAML, or Meta-SGD (second order with a learned
        step size per adapted parameter element).
    inner_steps : int
        Gradient steps on a support set, in training and at serving time.
    inner_lr : float
        Inner step size (the starting value for Meta-SGD).
    support_shrinkage : float
        Pseudo-count that damps inner steps on small support sets, see
        :func:`metarec.meta.inner_loop.adapt`.
    """

    def __init__(self, net, adapt="item+decision", algorithm="metasgd", inner_steps=3,
                 inner_lr=0.1, support_shrinkage=0.0):
        super().__init__()
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
        if inner_steps < 0:
            raise ValueError(f"inner_steps must be 0 or more, got {inner_steps}")
        if not inner_lr > 0:
            raise ValueError(f"inner_lr must be positive, got {inner_lr}")
        if support_shrinkage < 0:
            raise ValueError(f"support_shrinkage must be 0 or more, got {support_shrinkage}")
        self.net = net
        self.adapt_group = adapt
        self.algorithm = algorithm
        self.inner_steps = int(inner_steps)
        self.support_shrinkage = float(support_shrinkage)
        self.adapted_names = item_adapted_names(net, adapt)

        # Meta-SGD learns log step sizes, which keeps every step size positive.
        self.log_inner_lrs = nn.ParameterDict()
        named = dict(net.named_parameters())
        for name in self.adapted_names:
            value = torch.full_like(named[name], math.log(inner_lr))
            self.log_inner_lrs[_key(name)] = nn.Parameter(
                value, requires_grad=(algorithm == "metasgd"))

    def inner_lrs(self) -> dict:
        return {name: self.log_inner_lrs[_key(name)].exp() for name in self.adapted_names}

    def initial_params(self) -> dict:
        return dict(self.net.named_parameters())

    def adapt_one(self, item_vector, support_rows, support_ratings, steps=None,
                  first_order=True):
        """Adapt to one item's support set; return ``(params, support_losses)``.

        The returned parameters are new tensors, so the module's own weights stay as
        they were.
        """
        steps = self.inner_steps if steps is None else int(steps)
        return adapt(self.net, self.initial_params(), self.adapted_names, self.inner_lrs(),
                     item_vector, support_rows, support_ratings,
                     torch.ones_like(support_ratings), steps, first_order=first_order,
                     loss=masked_mse, shrinkage=self.support_shrinkage)

    def adapt_and_predict(self, batch, steps=None, extra_rows=None, first_order=None):
        """Adapt to each item of a collated batch and score its query (and extra) users.

        ``batch`` contains ``item_features (B, C)``, ``support_rows``,
        ``support_targets``, ``support_mask`` ``(B, S)`` and ``query_rows`` ``(B, Q)``.

        Returns
        -------
        query : torch.Tensor
            ``(B, Q)`` predicted ratings.
        losses : torch.Tensor
            ``(B, steps + 1)`` support losses.
        extra : torch.Tensor or None
            ``(B, M)`` predictions for ``extra_rows`` when given.
        """
        steps = self.inner_steps if steps is None else int(steps)
        first_order = self.algorithm == "fomaml" if first_order is None else first_order
        params, lrs = self.initial_params(), self.inner_lrs()

        def one_item(item_vector, s_rows, s_targets, s_mask, q_rows, x_rows):
            adapted, losses = adapt(self.net, params, self.adapted_names, lrs, item_vector,
                                    s_rows, s_targets, s_mask, steps, first_order,
                                    masked_mse, self.support_shrinkage)
            query = predict(self.net, adapted, item_vector, q_rows)
            extra = predict(self.net, adapted, item_vector, x_rows)
            return query, losses, extra

        extra_in = extra_rows if extra_rows is not None else batch["query_rows"]
        query, losses, extra = vmap(one_item)(
            batch["item_features"], batch["support_rows"], batch["support_targets"],
            batch["support_mask"], batch["query_rows"], extra_in)
        return query, losses, (extra if extra_rows is not None else None)


@dataclass
class ItemTrainConfig:
    """Settings of the item-side outer loop.

    ``zero_shot_share`` of the training tasks have no support ratings, so the content
    path learns to predict alone. ``new_user_share`` of the users in a task are shown to
    the network as new users (demographics only), so it can score people it never saw.
    ``distill_weight`` pulls the adapted student's query predictions toward the adapted
    teacher's, and ``distill_users_weight`` does the same on ``distill_users`` random
    users per item. Early stopping scores validation items with each of
    ``validation_shots`` support ratings.
    """

    epochs: int = 30
    meta_batch: int = 32
    meta_lr: float = 3e-3
    weight_decay: float = 0.0
    clip_norm: float = 5.0
    max_support: int = 32
    query_size: int = 10
    train_query_size: int = 64
    patience: int = 6
    validation_shots: tuple = (0, 1, 5)
    zero_shot_share: float = 0.2
    new_user_share: float = 0.1
    distill_weight: float = 0.0
    distill_users_weight: float = 0.0
    distill_users: int = 32
    stall_epochs: int = 3
    seed: int = 0


@dataclass
class ItemVariantSpec:
    """Everything needed to build and meta-train one item-side neural variant.

    ``network`` contains :class:`ItemRatingNet` sizes (``dim``, ``encoder_hidden``,
    ``hidden``), ``learner`` contains :class:`ItemMetaLearner` arguments, ``use_text``
    is whether the item vector includes the sentence embedding, and ``distill_from``
    names the variant whose adapted predictions this one imitates.
    """

    network: dict
    learner: dict
    use_text: bool = True
    train: ItemTrainConfig = field(default_factory=ItemTrainConfig)
    distill_from: str | None = None

    def to_dict(self) -> dict:
        train = asdict(self.train)
        train["validation_shots"] = list(train["validation_shots"])
        return {"network": {**self.network, "hidden": list(self.network["hidden"])},
                "learner": dict(self.learner), "use_text": self.use_text, "train": train,
                "distill_from": self.distill_from}

    @classmethod
    def from_dict(cls, state) -> "ItemVariantSpec":
        train = dict(state["train"])
        train["validation_shots"] = tuple(train["validation_shots"])
        return cls(network={**state["network"], "hidden": tuple(state["network"]["hidden"])},
                   learner=dict(state["learner"]), use_text=bool(state["use_text"]),
                   train=ItemTrainConfig(**train), distill_from=state.get("distill_from"))


def default_item_variants(epochs=None) -> dict[str, ItemVariantSpec]:
    """Return the item-side neural variants in training order.

    ``teacher`` is wide and reads the sentence embedding of the item's text. ``student``
    is small, reads only the hashed content features and distils from the adapted
    teacher. Their validation error plateaus for several epochs before it falls again on
    MovieLens-100K, hence the patience of 10 epochs. Without weight decay the teacher
    stayed on that plateau for one of three seeds. ``epochs`` overrides both epoch budgets.
    """
    variants = {
        "teacher": ItemVariantSpec(
            network={"dim": 32, "encoder_hidden": 128, "hidden": (64, 32)},
            learner={"adapt": "item+decision", "algorithm": "metasgd", "inner_steps": 3,
                     "inner_lr": 0.1, "support_shrinkage": 5.0},
            use_text=True,
            train=ItemTrainConfig(epochs=30, meta_batch=64, patience=10, weight_decay=1e-4),
        ),
        "student": ItemVariantSpec(
            network={"dim": 8, "encoder_hidden": 0, "hidden": (16,)},
            learner={"adapt": "item+decision", "algorithm": "metasgd", "inner_steps": 3,
                     "inner_lr": 0.1, "support_shrinkage": 5.0},
            use_text=False,
            train=ItemTrainConfig(epochs=30, meta_batch=64, patience=10, distill_weight=0.5,
                                  distill_users_weight=0.5),
            distill_from="teacher",
        ),
    }
    if epochs is not None:
        for spec in variants.values():
            spec.train.epochs = int(epochs)
    return variants


def item_vector_size(n_content_features, n_text_features, use_text) -> int:
    return n_content_features + (n_text_features if use_text else 0) + N_ITEM_CONTEXT


def build_item_learner(spec: ItemVariantSpec, user_table, user_features, user_prior,
                       global_mean, n_content_features, n_text_features) -> ItemMetaLearner:
    """Build an untrained item-side variant.

    ``user_features`` and ``user_prior`` are by user row of ``user_table`` (see
    :meth:`UserTable.row_features` and :meth:`UserTable.row_values`).
    """
    net = ItemRatingNet(
        torch.as_tensor(user_features), torch.as_tensor(user_table.embedding_rows()),
        torch.as_tensor(user_prior), global_mean,
        item_vector_size(n_content_features, n_text_features, spec.use_text),
        dim=spec.network["dim"], encoder_hidden=spec.network.get("encoder_hidden", 0),
        hidden=tuple(spec.network["hidden"]))
    return ItemMetaLearner(net, **spec.learner)
