"""The item-side rating network: score one new item for many users.

In item cold start the roles of the user-side network swap. A task is one item, its
support set is K users' ratings of it, and the network must score it for every user.
Users are known: each has a learned embedding and bias next to its demographics. The
item has no id embedding. Its starting representation is generated from its content
(genres, year band, hashed title words and, for variants that use text, a sentence
embedding of its title and description), and the inner loop adapts a per-item offset of
that representation, the item bias and the decision layers on the support ratings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

# Parameters the inner loop adapts per item besides the decision layers.
ITEM_PERSONAL = ("item_embedding", "item_bias")
# Entries appended to an item's content vector: the shrunk mean support residual and
# log(1 + K).
N_ITEM_CONTEXT = 2


@dataclass(frozen=True)
class ItemContent:
    """Content of an item, available before anyone rates it.

    Attributes
    ----------
    genres : tuple of str
    features : numpy.ndarray
        Genres, year band and title words, as
        :meth:`metarec.data.features.FeatureEncoder.encode_item` encodes them.
    text : numpy.ndarray
        Unit-length sentence embedding of the item's text, see
        :func:`metarec.data.text.item_text`.
    """

    genres: tuple
    features: np.ndarray
    text: np.ndarray


class UserTable:
    """Rows of the users an item-side network scores.

    Every dataset user has two rows. Row ``i`` (from 1) is the user as the model learned
    them, with a learned embedding and bias when their ratings trained the model. Row
    ``n + i`` is the same person as a new user: demographics only. Row 0 is a new user
    with unknown demographics.

    Parameters
    ----------
    user_ids : array-like of int
        Every dataset user, in row order.
    trained_ids : array-like of int
        Users whose ratings trained the model; only they get an embedding of their own.
    """

    def __init__(self, user_ids, trained_ids):
        self.user_ids = np.asarray(user_ids, dtype=np.int64)
        self.trained_ids = np.asarray(sorted(set(int(u) for u in trained_ids)), dtype=np.int64)
        self._row = {int(user): row for row, user in enumerate(self.user_ids, start=1)}
        self._trained = set(self.trained_ids.tolist())
        unknown = self._trained - set(self._row)
        if unknown:
            raise ValueError(
                f"trained_ids contains {len(unknown)} users that are not in user_ids, e.g. "
                f"{sorted(unknown)[:5]}; pass every dataset user in user_ids"
            )

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_rows(self) -> int:
        return 2 * self.n_users + 1

    def knows(self, user_ids) -> np.ndarray:
        """Return whether each of ``user_ids`` is a dataset user."""
        return np.array([int(u) in self._row for u in user_ids], dtype=bool)

    def rows(self, user_ids, as_new=False) -> np.ndarray:
        """Return the rows of ``user_ids``; users the model was not trained on are new.

        Unknown ids map to row 0. With ``as_new=True`` every user is scored as new.
        """
        rows = np.zeros(len(user_ids), dtype=np.int64)
        for position, user in enumerate(user_ids):
            row = self._row.get(int(user), 0)
            if row and (as_new or int(user) not in self._trained):
                row += self.n_users
            rows[position] = row
        return rows

    def embedding_rows(self) -> np.ndarray:
        """Map every row to its embedding row: the user's own if trained, else 0."""
        own = np.array([row if int(user) in self._trained else 0
                        for row, user in enumerate(self.user_ids, start=1)], dtype=np.int64)
        return np.concatenate([[0], own, np.zeros(self.n_users, dtype=np.int64)])

    def row_values(self, values: dict) -> np.ndarray:
        """Spread ``{user_id: value}`` over the known rows; new-user rows get 0."""
        known = np.array([float(values.get(int(user), 0.0)) for user in self.user_ids],
                         dtype=np.float32)
        return np.concatenate([[0.0], known, np.zeros(self.n_users)]).astype(np.float32)

    def row_features(self, features: dict, unknown: np.ndarray) -> np.ndarray:
        """Stack ``{user_id: demographic vector}`` for every row; row 0 gets ``unknown``."""
        own = np.stack([features.get(int(user), unknown) for user in self.user_ids])
        return np.concatenate([unknown[None], own, own]).astype(np.float32)

    def to_dict(self) -> dict:
        return {"user_ids": self.user_ids.tolist(), "trained_ids": self.trained_ids.tolist()}

    @classmethod
    def from_dict(cls, state) -> "UserTable":
        return cls(state["user_ids"], state["trained_ids"])


class ItemRatingNet(nn.Module):
    """Predict ratings of one item for many users.

    ``rating = mean + b_u + b_support + offset + content_bias(x) + item_bias + user_bias[u]
    + <u, v> + mlp([u, v, u * v])``, where ``mean + b_u`` is the training ratings' mean
    plus the user's shrunk bias, ``b_support`` the shrunk mean residual of the support
    ratings (the first context entry), ``x`` the item vector, ``v = tanh(encoder(x)) +
    item_embedding`` and ``u`` the user's encoded demographics plus their embedding.

    Parameters
    ----------
    user_features : torch.Tensor
        ``(n_rows, n_user_features)`` demographic vectors by row, a buffer.
    embedding_rows : torch.Tensor
        ``(n_rows,)`` embedding row of each user row, a buffer.
    user_prior : torch.Tensor
        ``(n_rows,)`` shrunk bias of each user row from the training ratings, a buffer.
    global_mean : float
        Mean training rating.
    n_item_features : int
        Length of the item vector, context included.
    dim : int
        Width of the user and item representations.
    encoder_hidden : int
        Width of the hidden layer that maps the item vector to its representation;
        0 for a single linear layer.
    hidden : tuple of int
        Widths of the decision layers.
    """

    def __init__(self, user_features, embedding_rows, user_prior, global_mean,
                 n_item_features, dim=32, encoder_hidden=0, hidden=(64, 32)):
        super().__init__()
        n_rows = user_features.shape[0]
        for name, table in (("embedding_rows", embedding_rows), ("user_prior", user_prior)):
            if table.shape[0] != n_rows:
                raise ValueError(
                    f"{name} must have one entry per user row ({n_rows}), got {table.shape[0]}"
                )
        self.register_buffer("user_features", user_features.float())
        self.register_buffer("embedding_rows", embedding_rows.long())
        self.register_buffer("user_prior", user_prior.float())
        self.register_buffer("global_mean", torch.tensor(float(global_mean)))
        self.offset = nn.Parameter(torch.zeros(()))

        n_embeddings = int(embedding_rows.max()) + 1
        self.user_encoder = nn.Linear(user_features.shape[1], dim)
        self.user_embedding = nn.Embedding(n_embeddings, dim)
        nn.init.normal_(self.user_embedding.weight, std=0.01)
        self.user_bias = nn.Embedding(n_embeddings, 1)
        nn.init.zeros_(self.user_bias.weight)

        if encoder_hidden:
            self.item_encoder = nn.Sequential(nn.Linear(n_item_features, encoder_hidden),
                                              nn.ReLU(), nn.Linear(encoder_hidden, dim))
        else:
            self.item_encoder = nn.Linear(n_item_features, dim)
        self.content_bias = nn.Linear(n_item_features, 1)
        nn.init.zeros_(self.content_bias.weight)
        nn.init.zeros_(self.content_bias.bias)
        self.item_embedding = nn.Parameter(torch.zeros(dim))
        self.item_bias = nn.Parameter(torch.zeros(()))

        layers, width = [], 3 * dim
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        last = nn.Linear(width, 1)
        # The residual starts at zero, so an untrained network is the bias model.
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        layers.append(last)
        self.decision = nn.Sequential(*layers)

    def item_vector(self, item_features):
        return torch.tanh(self.item_encoder(item_features)) + self.item_embedding

    def forward(self, item_features, user_rows, new_users=None):
        """Score one item (``(n_item_features,)``) for ``user_rows`` (``(n,)`` long).

        With ``new_users`` (``(m, n_user_features)`` demographic vectors), score those
        people as new users instead; ``user_rows`` is then ignored.
        """
        if new_users is None:
            demographics = self.user_features[user_rows]
            embedding_rows = self.embedding_rows[user_rows]
            prior = self.user_prior[user_rows]
        else:
            demographics = new_users.float()
            embedding_rows = torch.zeros(new_users.shape[0], dtype=torch.long)
            prior = torch.zeros(new_users.shape[0])
        bias = (self.global_mean + prior + item_features[-2] + self.offset
                + self.content_bias(item_features).squeeze(-1) + self.item_bias
                + self.user_bias(embedding_rows).squeeze(-1))
        user = torch.tanh(self.user_encoder(demographics)) + self.user_embedding(embedding_rows)
        item = self.item_vector(item_features).expand(user.shape[0], -1)
        product = user * item
        residual = self.decision(torch.cat([user, item, product], dim=-1)).squeeze(-1)
        return bias + product.sum(-1) + residual


def item_adapted_names(net: nn.Module, adapt: str) -> list[str]:
    """Names of the parameters the inner loop changes for one item.

    ``adapt`` is ``"item"`` (the item's embedding offset and bias), ``"decision"``,
    ``"item+decision"`` or ``"all"``.
    """
    names = [name for name, _ in net.named_parameters()]
    groups = {
        "item": [n for n in names if n in ITEM_PERSONAL],
        "decision": [n for n in names if n.startswith("decision.")],
    }
    groups["item+decision"] = groups["item"] + groups["decision"]
    groups["all"] = names
    if adapt not in groups:
        raise ValueError(
            f"adapt must be one of {', '.join(repr(g) for g in groups)}, got {adapt!r}"
        )
    return groups[adapt]
