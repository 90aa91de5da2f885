"""A lean serving path for adapting a :class:`RatingNet` to one person.

The inner loop in :mod:`metarec.meta.inner_loop` is written for meta-training: it is
functional, batched with ``vmap`` and differentiable through every step. Serving one
person needs none of that. When only the personal parameters and the decision layers
adapt (every default variant), each item's representation and base score are fixed, so
they are computed once per loaded model for the whole catalogue.

The inner steps then run in NumPy, with the backward pass written out by hand for the two
task losses. A support set contains tens of ratings, so each step is a few dozen products
of matrices with tens of rows, and the fixed cost of each call decides the time. On the
2-core benchmark machine that cost measured 2 to 7 microseconds per PyTorch operation and
about 1 per NumPy operation. Scoring the catalogue runs in PyTorch, except for networks
calls small enough that NumPy is faster (see ``NUMPY_SCORING_MULTIPLY_ADDS``). A caller limits
threads with ``torch.set_num_threads`` for PyTorch and ``threadpoolctl`` for NumPy's BLAS.
The result matches :func:`metarec.meta.inner_loop.adapt` to float precision (a test
checks it).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..meta.inner_loop import masked_bce, masked_mse
from ..models.networks import PERSONAL


def _mse(scores, targets):
    """Return the mean squared error and its gradient with respect to the scores."""
    residual = scores - targets
    count = max(len(targets), 1)
    return float(residual @ residual) / count, residual * np.float32(2.0 / count)


def _bce(scores, targets):
    """Return the binary cross-entropy with logits and its gradient for the logits."""
    count = max(len(targets), 1)
    softplus = np.logaddexp(np.float32(0.0), scores)
    value = float((softplus - targets * scores).sum()) / count
    probability = np.exp(scores - softplus)
    return value, (probability - targets) * np.float32(1.0 / count)


_NUMPY_LOSSES = {masked_mse: _mse, masked_bce: _bce}

# Below this many multiply-adds in one scoring call, NumPy is faster than PyTorch, because
# the fixed cost per operation dominates. Measured on the 2-core benchmark machine, one
# thread, for the student (80 per item): 1,682 items took 0.08 ms in NumPy against 0.11 ms
# in PyTorch, and 10,000 items 0.34 ms against 0.27 ms. The teacher (about 35,000 per
# item) is faster in PyTorch for a whole catalogue.
NUMPY_SCORING_MULTIPLY_ADDS = 400_000


class FastAdapter:
    """Adapt and score with one learner, reusing per-item work across people.

    Parameters
    ----------
    learner : MetaLearner
        A trained learner whose network is a :class:`RatingNet`. Its parameters are
        copied once, never written.

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
        self._adapted_set = set(self.adapted)
        self.layers = []
        slopes = set()
        for index, module in enumerate(net.decision):
            if isinstance(module, nn.Linear):
                self.layers.append((f"decision.{index}.weight", f"decision.{index}.bias"))
            elif isinstance(module, nn.ReLU):
                slopes.add(0.0)
            elif isinstance(module, nn.LeakyReLU) and 0.0 <= module.negative_slope < 1.0:
                slopes.add(float(module.negative_slope))
            else:
                raise ValueError(f"unsupported decision layer {module!r}")
        if len(slopes) > 1:
            raise ValueError(f"the fast path needs one activation slope for every decision "
                             f"layer, got {sorted(slopes)}; use inner_loop.adapt")
        # Below zero an activation multiplies by ``slope``: 0 for ReLU.
        self.slope = slopes.pop() if slopes else 0.0
        with torch.no_grad():
            rows = torch.arange(net.item_prior.shape[0])
            self.item_vectors = (net.item_embedding(rows)
                                 + net.item_encoder(net.item_features[rows])).contiguous()
            self.item_base = (net.item_prior[rows]
                              + net.item_bias(rows).squeeze(-1) + net.offset).contiguous()
            # One float32 copy of every parameter. The tensors share its memory.
            self.arrays = {name: p.detach().numpy().copy()
                           for name, p in net.named_parameters()}
            self.params = {name: torch.from_numpy(a) for name, a in self.arrays.items()}
            self.inner_lrs = {name: lr.detach().numpy().copy()
                              for name, lr in learner.inner_lrs().items()}
            self._encoder = (net.user_encoder.weight.detach().numpy().copy(),
                             net.user_encoder.bias.detach().numpy().copy())
        self._item_arrays = self.item_vectors.numpy()
        self._base_arrays = self.item_base.numpy()
        self.per_item = self.multiply_adds_per_item()
        self.numpy_scoring_limit = NUMPY_SCORING_MULTIPLY_ADDS

    def scores_in_numpy(self, n_items) -> bool:
        """Return whether scoring ``n_items`` items runs in NumPy rather than PyTorch."""
        return n_items * self.per_item < self.numpy_scoring_limit

    def multiply_adds_per_item(self) -> int:
        """Return the multiply-adds of scoring one item with the factored first layer."""
        dim = self.item_vectors.shape[1]
        total = 0
        for position, (weight, _) in enumerate(self.layers):
            outputs, inputs = self.arrays[weight].shape
            total += outputs * (dim if position == 0 else inputs)
        return total

    # NumPy inner loop -------------------------------------------------------------------

    def _forward(self, params, user, item, base):
        """Return support scores and each decision layer's input, for the backward pass.

        The first layer is factored as in :meth:`_score`, so its ``[u, v, u * v]`` input
        is never built; ``inputs[0]`` is None.
        """
        dim = user.shape[0]
        weight = params[self.layers[0][0]]
        item_weight = weight[:, dim:2 * dim] + weight[:, 2 * dim:] * user
        hidden = item @ item_weight.T + (weight[:, :dim] @ user + params[self.layers[0][1]])
        inputs = [None]
        for weight_name, bias_name in self.layers[1:]:
            # For 0 <= slope < 1 this is the (leaky) ReLU.
            hidden = np.maximum(hidden, self.slope * hidden)
            inputs.append(hidden)
            hidden = hidden @ params[weight_name].T + params[bias_name]
        return base + params["user_bias"] + hidden[:, 0], inputs

    def _gradients(self, params, inputs, user, item, upstream):
        """Backpropagate ``upstream`` (d loss / d score, ``(n,)``) to the adapted params.

        For the first layer, with ``G = delta.T @ v`` and ``s`` the column sums of
        ``delta``, the weight's gradient is ``[s u^T, G, G * u]`` and the user vector's
        is ``W_u^T s + sum over rows of (W_uv * G)``.
        """
        grads = {}
        delta = upstream[:, None]
        for position in range(len(self.layers) - 1, 0, -1):
            weight, bias = self.layers[position]
            grads[weight] = delta.T @ inputs[position]
            grads[bias] = delta.sum(0)
            # inputs[position] is the activation output of the layer below, positive
            # exactly where the activation's input was.
            slope = np.where(inputs[position] > 0, 1.0, self.slope).astype(delta.dtype)
            delta = (delta @ params[weight]) * slope
        weight_name, bias_name = self.layers[0]
        column_sums = delta.sum(0)
        grads[bias_name] = column_sums
        dim = user.shape[0]
        if weight_name in self._adapted_set or "user_embedding" in self._adapted_set:
            item_grad = delta.T @ item
            grads[weight_name] = np.concatenate(
                [np.outer(column_sums, user), item_grad, item_grad * user], axis=1)
            weight = params[weight_name]
            grads["user_embedding"] = (weight[:, :dim].T @ column_sums
                                       + (weight[:, 2 * dim:] * item_grad).sum(0))
        grads["user_bias"] = upstream.sum()
        return grads

    def adapt(self, user_features, rows, targets, steps, loss, shrinkage=0.0):
        """Take ``steps`` inner steps on one support set.

        ``user_features``, ``rows`` and ``targets`` may be tensors or NumPy arrays.

        Returns the adapted parameters (as tensors), the support loss before each step and
        after the last one, and a function that scores item rows with them.
        """
        features = np.asarray(user_features, dtype=np.float32)
        rows = np.asarray(rows, dtype=np.int64)
        targets = np.asarray(targets, dtype=np.float32)
        weight, bias = self._encoder
        encoded = np.tanh(weight @ features + bias)
        item = self._item_arrays[rows]
        base = self._base_arrays[rows] + features[-2]

        count = float(len(targets))
        scale = np.float32(max(count, 1.0) / max(count + shrinkage, 1.0))
        rates = {name: self.inner_lrs[name] * scale for name in self.adapted}
        numpy_loss = _NUMPY_LOSSES.get(loss)

        params = dict(self.arrays)
        losses = []
        for step in range(steps + 1):
            if numpy_loss is None:
                value, grads = self._autograd_step(params, features, rows, targets, loss,
                                                   compute_grads=step < steps)
            else:
                user = encoded + params["user_embedding"]
                scores, inputs = self._forward(params, user, item, base)
                value, upstream = numpy_loss(scores, targets)
                grads = (self._gradients(params, inputs, user, item, upstream)
                         if step < steps else {})
            losses.append(value)
            if step == steps:
                break
            for name in self.adapted:
                params[name] = params[name] - rates[name] * grads[name]

        params = {name: np.asarray(value, dtype=np.float32) for name, value in params.items()}
        tensors = {**self.params,
                   **{name: torch.from_numpy(params[name]) for name in self.adapted}}
        context = float(features[-2])
        encoded_tensor = torch.from_numpy(encoded)

        def score(item_rows):
            if self.scores_in_numpy(len(item_rows)):
                rows = np.asarray(item_rows, dtype=np.int64)
                return torch.from_numpy(self._score_numpy(params, encoded, context, rows))
            with torch.no_grad():
                return self._score(tensors, encoded_tensor, context,
                                   torch.as_tensor(item_rows))

        return tensors, losses, score

    def _autograd_step(self, params, features, rows, targets, loss, compute_grads):
        """Return the loss and gradients of a loss without a hand-written backward pass."""
        net = self.learner.net
        current = {name: torch.from_numpy(np.asarray(value, dtype=np.float32))
                   for name, value in params.items()}
        fast = [current[name].clone().requires_grad_(compute_grads) for name in self.adapted]
        current.update(zip(self.adapted, fast))
        features = torch.from_numpy(features)
        with torch.enable_grad():
            encoded = torch.tanh(net.user_encoder(features)).detach()
            scores = self._score(current, encoded, float(features[-2]),
                                 torch.from_numpy(rows))
            value = loss(scores, torch.from_numpy(targets), torch.ones(len(targets)))
            if not compute_grads:
                return float(value), {}
            grads = torch.autograd.grad(value, fast)
        return float(value.detach()), {name: g.numpy() for name, g in zip(self.adapted, grads)}

    # Scoring ----------------------------------------------------------------------------

    def _score(self, params, encoded, context, rows):
        """Return the scores of item ``rows`` for the user, many items at once.

        The first decision layer reads ``[u, v, u * v]``. For one user that equals
        ``v @ (W_v + W_uv * u).T + (W_u @ u + b)``, so the layer runs on the item vectors
        alone (a third of the width) and the ``(items, 3 * dim)`` input is never built.
        The result matches the network's forward pass up to float rounding.
        """
        user = encoded + params["user_embedding"]
        dim = user.shape[0]
        weight, bias = (params[name] for name in self.layers[0])
        item_weight = weight[:, dim:2 * dim] + weight[:, 2 * dim:] * user
        hidden = F.linear(self.item_vectors[rows], item_weight, bias + weight[:, :dim] @ user)
        for weight_name, bias_name in self.layers[1:]:
            hidden = F.linear(F.leaky_relu(hidden, self.slope), params[weight_name],
                              params[bias_name])
        return self.item_base[rows] + context + params["user_bias"] + hidden.squeeze(-1)

    def _score_numpy(self, params, encoded, context, rows):
        """Return what :meth:`_score` returns, computed in NumPy, as a NumPy array."""
        user = encoded + params["user_embedding"]
        dim = user.shape[0]
        weight, bias = (params[name] for name in self.layers[0])
        item_weight = weight[:, dim:2 * dim] + weight[:, 2 * dim:] * user
        hidden = self._item_arrays[rows] @ item_weight.T + (weight[:, :dim] @ user + bias)
        for weight_name, bias_name in self.layers[1:]:
            hidden = (np.maximum(hidden, self.slope * hidden) @ params[weight_name].T
                      + params[bias_name])
        return self._base_arrays[rows] + (context + params["user_bias"]) + hidden[:, 0]
