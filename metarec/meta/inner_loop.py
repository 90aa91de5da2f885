"""The MAML inner loop, written with ``torch.func`` so it can be batched over tasks.

Adaptation is functional: it returns new tensors and never writes into the module's
parameters, so the weights a model was loaded with stay as they are. When the starting
parameters require grad, the meta-gradient flows back through every inner step (second
order); ``first_order=True`` detaches the inner gradients (first-order MAML).
"""

from __future__ import annotations

import torch
from torch.func import functional_call, grad_and_value, vmap


def masked_mse(prediction, target, mask):
    """Mean squared error over the entries where ``mask`` is 1 (padding is 0)."""
    return ((prediction - target) ** 2 * mask).sum() / mask.sum().clamp_min(1.0)


def masked_bce(logit, target, mask):
    """Binary cross-entropy with logits over the entries where ``mask`` is 1."""
    losses = torch.nn.functional.binary_cross_entropy_with_logits(
        logit, target, reduction="none")
    return (losses * mask).sum() / mask.sum().clamp_min(1.0)


TASK_LOSSES = {"rating": masked_mse, "like": masked_bce}


def adapt(net, params, adapted_names, inner_lrs, user_features, rows, targets, mask,
          steps, first_order=False, loss=masked_mse, shrinkage=0.0):
    """Take ``steps`` gradient steps on one task's support set.

    Parameters
    ----------
    net : torch.nn.Module
        Network whose ``forward(user_features, rows)`` scores items for one user.
    params : dict of str to torch.Tensor
        Starting values of every parameter (the meta-learned initialisation).
    adapted_names : list of str
        Parameters the inner loop changes; the rest stay fixed.
    inner_lrs : dict of str to torch.Tensor or float
        Step size for each adapted parameter: a float (MAML) or a tensor of the
        parameter's shape (Meta-SGD, learned per element).
    user_features, rows, targets, mask : torch.Tensor
        The support set, padded to a common length; ``mask`` is 0 on padding.
    steps : int
        Number of inner gradient steps.
    shrinkage : float
        Pseudo-count added to the support size when averaging the loss that the inner
        steps descend: ``sum / (n + shrinkage)`` instead of ``sum / n``. A step taken on
        one rating then moves the parameters less than a step taken on fifty, as a
        prior would, so one step size suits every support size.

    Returns
    -------
    adapted : dict of str to torch.Tensor
        Every parameter after adaptation.
    losses : torch.Tensor
        Support loss (the plain mean, without ``shrinkage``) before each step and after
        the last one, ``(steps + 1,)``.
    """
    fast = {name: params[name] for name in adapted_names}
    fixed = {name: value for name, value in params.items() if name not in fast}

    count = mask.sum()
    scale = count.clamp_min(1.0) / (count + shrinkage).clamp_min(1.0)

    def support_loss(fast_params):
        prediction = functional_call(net, {**fixed, **fast_params}, (user_features, rows))
        plain = loss(prediction, targets, mask)
        return plain * scale, plain.detach()

    losses = []
    for _ in range(steps):
        grads, (_, plain) = grad_and_value(support_loss, has_aux=True)(fast)
        losses.append(plain)
        if first_order:
            grads = {name: g.detach() for name, g in grads.items()}
        fast = {name: fast[name] - inner_lrs[name] * grads[name] for name in fast}
    losses.append(support_loss(fast)[1])
    return {**fixed, **fast}, torch.stack(losses)


def predict(net, params, user_features, rows):
    return functional_call(net, params, (user_features, rows))


def batched_adapt_and_predict(net, params, adapted_names, inner_lrs, batch, steps,
                              first_order=False, loss=masked_mse, extra_rows=None,
                              shrinkage=0.0):
    """Adapt to every task of a padded batch at once and score its query items.

    ``batch`` contains ``user_features (B, F)``, ``support_rows``, ``support_targets``,
    ``support_mask`` ``(B, S)`` and ``query_rows`` ``(B, Q)``. Returns the query
    predictions ``(B, Q)``, the support losses ``(B, steps + 1)`` and, when
    ``extra_rows`` ``(B, M)`` is given, predictions for those items too.
    """

    def one_task(user_features, s_rows, s_targets, s_mask, q_rows, x_rows):
        adapted, losses = adapt(net, params, adapted_names, inner_lrs, user_features,
                                s_rows, s_targets, s_mask, steps, first_order, loss,
                                shrinkage)
        query = predict(net, adapted, user_features, q_rows)
        extra = predict(net, adapted, user_features, x_rows) if x_rows is not None else query
        return query, losses, extra

    extra_in = extra_rows if extra_rows is not None else batch["query_rows"]
    query, losses, extra = vmap(one_task)(
        batch["user_features"], batch["support_rows"], batch["support_targets"],
        batch["support_mask"], batch["query_rows"], extra_in,
    )
    return query, losses, (extra if extra_rows is not None else None)
