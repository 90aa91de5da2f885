"""Rating networks: ``nn.Module``s only, with no training logic.

A network scores items for one user. The user is described by a demographic feature
vector and by *personal* parameters (an embedding and a bias), which start at
meta-learned values shared by everyone and are the first candidates for adaptation in
the inner loop.
"""

from __future__ import annotations

import torch
from torch import nn

# Parameter groups that the inner loop may adapt, by the names of their parameters.
PERSONAL = ("user_embedding", "user_bias")


class RatingNet(nn.Module):
    """Predict ratings as a bias model plus a learned residual.

    ``rating = prior + offset + user_bias + item_bias + mlp([u, v, u * v])``.
    ``prior`` is the item's shrunk mean plus the user's shrunk support bias (see
    :mod:`metarec.models.prior`); ``u`` mixes the encoded user features with the personal
    embedding; ``v`` adds the item's id embedding to its encoded content (genres, year,
    title words).

    Parameters
    ----------
    n_items : int
        Number of known items; row 0 of the item tables stands for an unknown item.
    item_features : torch.Tensor
        ``(n_items + 1, n_item_features)`` content table, stored as a buffer.
    item_prior : torch.Tensor
        ``(n_items + 1,)`` shrunk mean rating of each row, stored as a buffer.
    n_user_features : int
        Length of a user's feature vector, whose last two entries are the support
        context ``[b_u, log(1 + n)]``.
    dim : int
        Width of the user and item representations.
    hidden : tuple of int
        Widths of the decision layers.
    negative_slope : float
        Slope of the decision layers' activation below zero: 0 for ReLU, a small
        positive value for leaky ReLU. With ReLU, the inner loop's steps on the decision
        layers can switch a deep layer off for every input, and a unit that never fires
        gets no gradient to recover, so the network falls back to its bias terms.
    """

    def __init__(self, n_items, item_features, item_prior, n_user_features, dim=32,
                 hidden=(64, 32), negative_slope=0.0):
        super().__init__()
        for name, table in (("item_features", item_features), ("item_prior", item_prior)):
            if table.shape[0] != n_items + 1:
                raise ValueError(
                    f"{name} must have n_items + 1 = {n_items + 1} rows, got {table.shape[0]}"
                )
        # Copies: a tensor made from a NumPy array shares its memory, so two networks
        # built from one prior would share it, and loading one network's weights would
        # overwrite the other's table.
        self.register_buffer("item_features", item_features.float().clone())
        self.register_buffer("item_prior", item_prior.float().clone())
        self.offset = nn.Parameter(torch.zeros(()))

        self.user_encoder = nn.Linear(n_user_features, dim)
        self.user_embedding = nn.Parameter(torch.zeros(dim))
        self.user_bias = nn.Parameter(torch.zeros(()))

        self.item_embedding = nn.Embedding(n_items + 1, dim)
        nn.init.normal_(self.item_embedding.weight, std=0.01)
        self.item_encoder = nn.Linear(item_features.shape[1], dim)
        self.item_bias = nn.Embedding(n_items + 1, 1)
        nn.init.zeros_(self.item_bias.weight)

        if not 0.0 <= negative_slope < 1.0:
            raise ValueError(f"negative_slope must be in [0, 1), got {negative_slope}")
        layers, width = [], 3 * dim
        for size in hidden:
            activation = nn.LeakyReLU(negative_slope) if negative_slope else nn.ReLU()
            layers += [nn.Linear(width, size), activation]
            width = size
        last = nn.Linear(width, 1)
        # The residual starts at zero, so an untrained network is the bias model.
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        layers.append(last)
        self.decision = nn.Sequential(*layers)

    def user_vector(self, user_features):
        return torch.tanh(self.user_encoder(user_features)) + self.user_embedding

    def forward(self, user_features, item_rows):
        """Score ``item_rows`` (``(n,)`` long) for one user (``(n_user_features,)``)."""
        prior = self.item_prior[item_rows] + user_features[-2]
        user = self.user_vector(user_features).expand(item_rows.shape[0], -1)
        item = self.item_embedding(item_rows) + self.item_encoder(self.item_features[item_rows])
        residual = self.decision(torch.cat([user, item, user * item], dim=-1)).squeeze(-1)
        return (prior + self.offset + self.user_bias + self.item_bias(item_rows).squeeze(-1)
                + residual)


def adapted_parameter_names(net: nn.Module, adapt: str) -> list[str]:
    """Names of the parameters the inner loop changes.

    ``adapt`` is ``"personal"`` (user embedding and bias), ``"decision"`` (the decision
    layers, as MeLU adapts), ``"personal+decision"`` or ``"all"``.
    """
    names = [name for name, _ in net.named_parameters()]
    groups = {
        "personal": [n for n in names if n in PERSONAL],
        "decision": [n for n in names if n.startswith("decision.")],
    }
    groups["personal+decision"] = groups["personal"] + groups["decision"]
    groups["all"] = names
    if adapt not in groups:
        raise ValueError(
            f"adapt must be one of {', '.join(repr(g) for g in groups)}, got {adapt!r}"
        )
    return groups[adapt]


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
