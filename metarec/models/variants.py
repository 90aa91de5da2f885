"""Named model variants: network sizes, how each adapts and how each is trained."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch

from ..meta.learner import MetaLearner
from ..meta.training import TrainConfig
from .networks import RatingNet


@dataclass
class VariantSpec:
    """Everything needed to build and meta-train one neural variant.

    ``network`` contains :class:`RatingNet` arguments (``dim``, ``hidden``) and
    optionally ``text: True``, which appends each item's sentence embedding (see
    :mod:`metarec.data.text`) to its content features. ``learner`` contains
    :class:`MetaLearner` arguments and ``train`` the outer-loop settings.
    ``distill_from`` names the variant whose adapted predictions this one imitates.
    """

    network: dict
    learner: dict
    train: TrainConfig = field(default_factory=TrainConfig)
    distill_from: str | None = None

    def to_dict(self) -> dict:
        return {"network": {**self.network, "hidden": list(self.network["hidden"])},
                "learner": dict(self.learner), "train": asdict(self.train),
                "distill_from": self.distill_from}

    @classmethod
    def from_dict(cls, state) -> "VariantSpec":
        train = dict(state["train"])
        train["validation_shots"] = tuple(train["validation_shots"])
        return cls(network={**state["network"], "hidden": tuple(state["network"]["hidden"])},
                   learner=dict(state["learner"]), train=TrainConfig(**train),
                   distill_from=state.get("distill_from"))


def default_variants(epochs=None) -> dict[str, VariantSpec]:
    """Return the neural variants that ``train`` builds, in training order.

    ``teacher`` and the distilled ``student`` are the meta-learned models.
    ``finetune`` is the student's network trained without meta-learning and fine-tuned
    on the support at serving time. ``melu-1`` and ``melu-5`` follow MeLU (Lee et al.,
    KDD 2019): MAML that adapts only the decision layers, with 1 and 5 local steps.
    ``student-like`` is the student's network meta-trained for like/dislike
    classification (a rating in the top quarter of the scale is a like): the same
    meta-learner on a second task type, scored by AUC and ranking metrics.
    ``epochs`` overrides every variant's epoch budget.
    """
    variants = {
        "teacher": VariantSpec(
            # Leaky ReLU: with ReLU the last of the three layers went silent for every
            # input within one epoch, leaving a bias model.
            network={"dim": 64, "hidden": (192, 96, 48), "text": True,
                     "negative_slope": 0.1},
            learner={"adapt": "personal+decision", "algorithm": "metasgd",
                     "inner_steps": 3, "inner_lr": 0.1},
            train=TrainConfig(epochs=40, patience=8, max_support=48),
        ),
        "student": VariantSpec(
            network={"dim": 4, "hidden": (16,)},
            # 5 inner steps at training: validation users hardly separate 1, 3 and 5.
            # With one torch thread, 5 had the lowest validation MAE (0.7766, 0.7766
            # and 0.7764). With two, as in the meta-gradient section of
            # benchmarks/RESULTS.md, 1 and 3 tie at 0.7766 and 5 gets 0.7788. Every
            # difference is under 0.003, so the default stays.
            learner={"adapt": "personal+decision", "algorithm": "metasgd",
                     "inner_steps": 5, "inner_lr": 0.1},
            train=TrainConfig(epochs=40, patience=8, max_support=48, distill_weight=0.5,
                              distill_catalogue_weight=0.5),
            distill_from="teacher",
        ),
        "finetune": VariantSpec(
            network={"dim": 4, "hidden": (16,)},
            learner={"adapt": "personal+decision", "algorithm": "maml",
                     "inner_steps": 0, "serve_steps": 5, "inner_lr": 0.1},
            train=TrainConfig(epochs=40, patience=8, max_support=48),
        ),
        "student-like": VariantSpec(
            network={"dim": 4, "hidden": (16,)},
            learner={"adapt": "personal+decision", "algorithm": "metasgd",
                     "inner_steps": 5, "inner_lr": 0.1, "task": "like"},
            train=TrainConfig(epochs=30, patience=8, max_support=48),
        ),
        "melu-1": VariantSpec(
            network={"dim": 16, "hidden": (64, 32)},
            learner={"adapt": "decision", "algorithm": "maml", "inner_steps": 1,
                     "inner_lr": 0.1},
            train=TrainConfig(epochs=30, patience=8, max_support=48),
        ),
        "melu-5": VariantSpec(
            network={"dim": 16, "hidden": (64, 32)},
            learner={"adapt": "decision", "algorithm": "maml", "inner_steps": 5,
                     "inner_lr": 0.1},
            train=TrainConfig(epochs=30, patience=8, max_support=48),
        ),
    }
    if epochs is not None:
        for spec in variants.values():
            spec.train = replace(spec.train, epochs=epochs)
    return variants


def like_variants(epochs=None) -> dict[str, VariantSpec]:
    """Return the variants that learn like/dislike classification only.

    For implicit feedback (see :func:`metarec.data.implicit.implicit_to_like`), where
    the values are labels rather than ratings and a rating regression means nothing.
    """
    return {"student-like": default_variants(epochs)["student-like"]}


def build_learner(spec: VariantSpec, encoder, item_features, prior,
                  text_features=None, like_prior=None) -> MetaLearner:
    """Build an untrained variant; ``prior`` is the :class:`ItemPrior` it builds on.

    ``text_features`` (one sentence embedding per item table row) is required by a
    variant whose network sets ``text``, and ignored by the others. ``like_prior`` (see
    :func:`metarec.models.prior.like_log_odds`) replaces the item means as the starting
    score of a ``like`` variant; loading a saved one restores it from the weights. When ``prior`` has
    matrix-factorisation factors (:meth:`ItemPrior.with_factors`), each item's factors
    are appended to its content features as well.
    """
    if spec.network.get("text"):
        if text_features is None:
            raise ValueError("this variant reads item text embeddings, but none were given; "
                             "train with the text encoder installed")
        item_features = np.concatenate([item_features, text_features], axis=1)
    if prior.fold_in is not None:
        item_features = np.concatenate([item_features, prior.fold_in["factors"]], axis=1)
    item_prior = prior.row_means
    if spec.learner.get("task") == "like" and like_prior is not None:
        item_prior = like_prior
    net = RatingNet(encoder.n_items, torch.as_tensor(item_features),
                    torch.as_tensor(item_prior),
                    encoder.n_user_features + prior.n_context,
                    dim=spec.network["dim"], hidden=tuple(spec.network["hidden"]),
                    negative_slope=spec.network.get("negative_slope", 0.0))
    return MetaLearner(net, **spec.learner)
