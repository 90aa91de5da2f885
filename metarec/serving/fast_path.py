"""A lean serving path for adapting a :class:`RatingNet` to one person.

The inner loop in :mod:`metarec.meta.inner_loop` is written for meta-training: it is
functional, batched with ``vmap`` and differentiable through every step. Serving one
person needs none of that. When only the personal parameters and the decision layers
adapt (every default variant), each item's representation and base score are fixed, so
they are computed once per loaded model for the whole catalogue; one inner step is then a
few small matrix products, with the backward pass written out by hand for the two task
losses (autograd's bookkeeping costs more than the arithmetic at this size). The result
matches :func:`metarec.meta.inner_loop.adapt` to float precision (a test checks it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..meta.inner_loop import masked_bce, masked_mse
from ..models.networks import PERSONAL


def _loss_gradient(loss, prediction, targets):
    """Gradient of a task loss (mean over the support) with respect to the predictions."""
    if loss is masked_mse:
        return 2.0 * (prediction - targets) / max(len(targets), 1)
    if loss is masked_bce:
        return (torch.sigmoid(prediction) - targets) / max(len(targets), 1)
    return None


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

    def _forward(self, params, encoded, user_features, rows):
        """Scores and the activations the hand-written backward pass needs."""
        user = encoded + params["user_embedding"]
        item = self.item_vectors[rows]
        hidden = torch.cat([user.expand_as(item), item, user * item], dim=-1)
        inputs = []
        for position, (weight, bias) in enumerate(self.layers):
            inputs.append(hidden)
            hidden = F.linear(hidden, params[weight], params[bias])
            if position < len(self.layers) - 1:
                hidden = torch.relu(hidden)
        scores = (self.item_base[rows] + user_features[-2] + params["user_bias"]
                  + hidden.squeeze(-1))
        return scores, inputs, item

    def _score(self, params, encoded, user_features, rows):
        """Scores of ``rows``, as :meth:`_forward` computes them, for many items at once.

        The first decision layer reads ``[u, v, u * v]``. For one user that equals
        ``v @ (W_v + W_uv * u).T + (W_u @ u + b)``, so the layer runs on the item vectors
        alone (a third of the width) and the ``(items, 3 * dim)`` input is never built.
        The result matches :meth:`_forward` up to float rounding.
        """
        user = encoded + params["user_embedding"]
        dim = user.shape[0]
        weight, bias = (params[name] for name in self.layers[0])
        item_weight = weight[:, dim:2 * dim] + weight[:, 2 * dim:] * user
        hidden = F.linear(self.item_vectors[rows], item_weight, bias + weight[:, :dim] @ user)
        for weight_name, bias_name in self.layers[1:]:
            hidden = F.linear(torch.relu(hidden), params[weight_name], params[bias_name])
        return (self.item_base[rows] + user_features[-2] + params["user_bias"]
                + hidden.squeeze(-1))

    def _gradients(self, params, inputs, item, upstream):
        """Backpropagate ``upstream`` (d loss / d score, ``(n,)``) to the adapted params."""
        grads = {}
        delta = upstream.unsqueeze(-1)
        for position in range(len(self.layers) - 1, -1, -1):
            weight, bias = self.layers[position]
            grads[weight] = delta.t() @ inputs[position]
            grads[bias] = delta.sum(0)
            delta = delta @ params[weight]
            if position > 0:
                # inputs[position] is the ReLU output of the layer below.
                delta = delta * (inputs[position] > 0)
        if "user_embedding" in self.adapted:
            dim = item.shape[1]
            grads["user_embedding"] = (delta[:, :dim] + delta[:, 2 * dim:] * item).sum(0)
        grads["user_bias"] = upstream.sum()
        return grads

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
        with torch.no_grad():
            for _ in range(steps):
                scores, inputs, item = self._forward(params, encoded, user_features, rows)
                losses.append(float(loss(scores, targets, mask)))
                upstream = _loss_gradient(loss, scores, targets)
                if upstream is None:
                    grads = self._autograd_gradients(params, encoded, user_features, rows,
                                                     targets, loss)
                else:
                    grads = self._gradients(params, inputs, item, upstream)
                for name in self.adapted:
                    params[name] = params[name] - self.inner_lrs[name] * scale * grads[name]
            scores = self._forward(params, encoded, user_features, rows)[0]
            losses.append(float(loss(scores, targets, mask)))

        def score(item_rows):
            with torch.no_grad():
                return self._score(params, encoded, user_features, item_rows)

        return params, losses, score

    def _autograd_gradients(self, params, encoded, user_features, rows, targets, loss):
        """Gradients for a loss the hand-written backward pass does not know."""
        fast = [params[name].clone().requires_grad_(True) for name in self.adapted]
        current = {**params, **dict(zip(self.adapted, fast))}
        with torch.enable_grad():
            scores = self._forward(current, encoded, user_features, rows)[0]
            grads = torch.autograd.grad(loss(scores, targets, torch.ones_like(targets)), fast)
        return dict(zip(self.adapted, grads))
