"""A rating network together with how it adapts: the thing that is meta-trained."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..models.networks import adapted_parameter_names
from .inner_loop import TASK_LOSSES, batched_adapt_and_predict

ALGORITHMS = ("maml", "fomaml", "metasgd")


def _key(name: str) -> str:
    # ParameterDict keys may not contain dots.
    return name.replace(".", "__")


class MetaLearner(nn.Module):
    """A network, the parameters its inner loop adapts, and the inner step sizes.

    Parameters
    ----------
    net : torch.nn.Module
        The rating network; its parameters are the meta-learned initialisation.
    adapt : str
        Parameter group adapted per user, see
        :func:`metarec.models.networks.adapted_parameter_names`.
    algorithm : {"maml", "fomaml", "metasgd"}
        Second-order MAML, first-order MAML, or Meta-SGD (second order with a learned
        step size for every adapted parameter element).
    inner_steps : int
        Gradient steps taken on a support set.
    inner_lr : float
        Inner step size (the starting value for Meta-SGD).
    task : {"rating", "like"}
        Rating regression (squared error) or like/dislike classification (logistic).
    support_shrinkage : float
        Pseudo-count that damps inner steps on small support sets, see
        :func:`metarec.meta.inner_loop.adapt`.
    serve_steps : int, optional
        Inner steps when adapting to a new user after training; defaults to
        ``inner_steps``. With ``inner_steps=0`` the network is trained without an inner
        loop and fine-tuned with ``serve_steps`` plain gradient steps ("pretrain +
        fine-tune").
    serve_schedule : list of [int, int], optional
        Inner steps by support size, ``[[min_ratings, steps], ...]`` in increasing
        ``min_ratings`` starting at 0, as chosen on validation users by
        :func:`metarec.meta.training.choose_serve_steps`. Without it every support size
        gets ``serve_steps``.
    """

    def __init__(self, net, adapt="personal+decision", algorithm="maml", inner_steps=3,
                 inner_lr=0.1, task="rating", support_shrinkage=0.0, serve_steps=None,
                 serve_schedule=None):
        super().__init__()
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
        if task not in TASK_LOSSES:
            raise ValueError(f"task must be one of {tuple(TASK_LOSSES)}, got {task!r}")
        if inner_steps < 0:
            raise ValueError(f"inner_steps must be 0 or more, got {inner_steps}")
        if not inner_lr > 0:
            raise ValueError(f"inner_lr must be positive, got {inner_lr}")
        self.net = net
        self.adapt_group = adapt
        self.algorithm = algorithm
        self.inner_steps = inner_steps
        self.serve_steps = inner_steps if serve_steps is None else int(serve_steps)
        if self.serve_steps < 0:
            raise ValueError(f"serve_steps must be 0 or more, got {serve_steps}")
        self.serve_schedule = ([[int(lower), int(steps)] for lower, steps in serve_schedule]
                               if serve_schedule else None)
        self.task = task
        if support_shrinkage < 0:
            raise ValueError(f"support_shrinkage must be 0 or more, got {support_shrinkage}")
        self.support_shrinkage = float(support_shrinkage)
        self.adapted_names = adapted_parameter_names(net, adapt)

        # Meta-SGD learns log step sizes, which keeps every step size positive.
        self.log_inner_lrs = nn.ParameterDict()
        named = dict(net.named_parameters())
        for name in self.adapted_names:
            value = torch.full_like(named[name], math.log(inner_lr))
            self.log_inner_lrs[_key(name)] = nn.Parameter(
                value, requires_grad=(algorithm == "metasgd"))

    def steps_for(self, support_size) -> int:
        """Inner steps to serve a person who gave ``support_size`` ratings."""
        if not self.serve_schedule:
            return self.serve_steps
        steps = self.serve_schedule[0][1]
        for lower, count in self.serve_schedule:
            if support_size >= lower:
                steps = count
        return steps

    @property
    def first_order(self) -> bool:
        return self.algorithm == "fomaml"

    def inner_lrs(self) -> dict:
        return {name: self.log_inner_lrs[_key(name)].exp() for name in self.adapted_names}

    def initial_params(self) -> dict:
        return dict(self.net.named_parameters())

    def adapt_and_predict(self, batch, steps=None, extra_rows=None, first_order=None):
        """Adapt to each task of a collated batch and score its query (and extra) items.

        ``steps`` defaults to the training setting ``inner_steps``; pass
        ``self.serve_steps`` to adapt as a deployed model does.

        Returns ``(query_scores, support_losses, extra_scores)``; scores are ratings, or
        logits for the ``like`` task.
        """
        steps = self.inner_steps if steps is None else steps
        first_order = self.first_order if first_order is None else first_order
        return batched_adapt_and_predict(
            self.net, self.initial_params(), self.adapted_names, self.inner_lrs(), batch,
            steps, first_order=first_order, loss=TASK_LOSSES[self.task],
            extra_rows=extra_rows, shrinkage=self.support_shrinkage)
