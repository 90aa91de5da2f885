"""A lean serving path for adapting a :class:`RatingNet` to one person.

The inner loop in :mod:`metarec.meta.inner_loop` is written for meta-training: it is
functional, batched with ``vmap`` and differentiable through every step. Serving one
person needs none of that. When only the personal parameters and the decision layers
adapt (every default variant), each item's representation and base score are fixed, so
they are computed once per loaded model for the whole catalogue; one inner step is then a
few small matrix products and one call to ``torch.autograd.grad``. The result matches
:func:`metarec.meta.inner_loop.adapt` to float precision (a test checks it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..models.networks import PERSONAL


class FastAdapter:
    """Adapt and score with one learner, reusing per-item work across people.

    Parameters
    ----------
    learner : MetaLearner
        A trained learner whose network is a :class:`RatingNet`. Its parameters are read,
        never written.

    Raises
    ------
    ValueError
        If the learner adapts parameters other than the personal ones and the decision
        layers; use the general inner loop for those.
    """

    def __init__(self, learner):
        net = learner.net
        allowed = set(PERSONAL) | {n for n, _ in net.named_parameters()
                                   if n.startswith("decision.")}
        extra = sorted(set(learner.adapted_names) - allowed)
        if extra:
            raise ValueError(f"the fast path cannot adapt {extra}; use inner_loop.adapt")
        self.learner = learner
        self.adapted = list(learner.adapted_names)
        self.layers = []
        for index, module in enumerate(net.decision):
            if isinstance(module, nn.Linear):
                self.layers.append((f"decision.{index}.weight", f"decision.{index}.bias"))
            elif not isinstance(module, nn.ReLU):
                raise ValueError(f"unsupported decision layer {module!r}")
        with torch.no_grad():
            rows = torch.arange(net.item_prior.shape[0])
            self.item_vectors = (net.item_embedding(rows)
                                 + net.item_encoder(net.item_features[rows])).contiguous()
            self.item_base = (net.item_prior[rows]
                              + net.item_bias(rows).squeeze(-1) + net.offset).contiguous()
            self.params = {name: p.detach() for name, p in net.named_parameters()}
            self.inner_lrs = {name: lr.detach() for name, lr in learner.inner_lrs().items()}

    def _score(self, params, encoded, user_features, rows):
        user = encoded + params["user_embedding"]
        item = self.item_vectors[rows]
        hidden = torch.cat([user.expand_as(item), item, user * item], dim=-1)
        for position, (weight, bias) in enumerate(self.layers):
            hidden = F.linear(hidden, params[weight], params[bias])
            if position < len(self.layers) - 1:
                hidden = torch.relu(hidden)
        return (self.item_base[rows] + user_features[-2] + params["user_bias"]
                + hidden.squeeze(-1))

    def adapt(self, user_features, rows, targets, steps, loss, shrinkage=0.0):
        """Take ``steps`` inner steps on one support set.

        Returns the adapted parameters (detached), the support loss before each step and
        after the last one, and a function that scores item rows with them.
        """
        net = self.learner.net
        with torch.no_grad():
            encoded = torch.tanh(net.user_encoder(user_features))
        params = dict(self.params)
        mask = torch.ones_like(targets)
        count = float(len(targets))
        scale = max(count, 1.0) / max(count + shrinkage, 1.0)
        losses = []
        for _ in range(steps):
            fast = [params[name].clone().requires_grad_(True) for name in self.adapted]
            current = {**params, **dict(zip(self.adapted, fast))}
            with torch.enable_grad():
                plain = loss(self._score(current, encoded, user_features, rows), targets, mask)
                grads = torch.autograd.grad(plain * scale, fast)
            losses.append(float(plain.detach()))
            for name, value, grad in zip(self.adapted, fast, grads):
                params[name] = (value - self.inner_lrs[name] * grad).detach()
        with torch.no_grad():
            losses.append(float(loss(self._score(params, encoded, user_features, rows),
                                     targets, mask)))

        def score(item_rows):
            with torch.no_grad():
                return self._score(params, encoded, user_features, item_rows)

        return params, losses, score
