"""Turn item tasks into the padded tensors an item-side network adapts on.

An item's vector is its content features, its sentence embedding (for variants that
read text) and the support context ``[b_support, log(1 + K)]``. ``b_support`` is the
support ratings' mean residual over ``mean + b_u``, shrunk by ``item_shrinkage``
pseudo-ratings, so a network starts from the bias model's estimate of the item.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data.text import EMBEDDING_DIM, encode_texts, item_text
from .item_side import ItemContent, UserTable


class ItemTaskEncoder:
    """Content of the catalogue items and the user rows an item network scores.

    Parameters
    ----------
    encoder : FeatureEncoder
        Maps item ids to rows of ``content_table`` and ``text_table``.
    content_table : numpy.ndarray
        ``(n_items + 1, C)`` content features by item row; row 0 is unused.
    text_table : numpy.ndarray
        ``(n_items + 1, 384)`` sentence embeddings by item row; row 0 is unused.
    user_table : UserTable
    user_prior : numpy.ndarray
        Shrunk bias of each user row from the training ratings.
    global_mean : float
    item_shrinkage : float
        Pseudo-ratings of the support context's mean residual.
    """

    def __init__(self, encoder, content_table, text_table, user_table: UserTable, user_prior,
                 global_mean, item_shrinkage=5.0):
        self.encoder = encoder
        self.content_table = np.asarray(content_table, dtype=np.float32)
        self.text_table = np.asarray(text_table, dtype=np.float32)
        self.user_table = user_table
        self.user_prior = np.asarray(user_prior, dtype=np.float32)
        self.global_mean = float(global_mean)
        self.item_shrinkage = float(item_shrinkage)
        if self.content_table.shape[0] != self.text_table.shape[0]:
            raise ValueError(
                f"content_table has {self.content_table.shape[0]} rows but text_table has "
                f"{self.text_table.shape[0]}; both need one row per catalogue item plus row 0"
            )

    @property
    def n_content_features(self) -> int:
        return self.content_table.shape[1]

    @property
    def n_text_features(self) -> int:
        return self.text_table.shape[1]

    def catalogue_content(self, item_id) -> ItemContent:
        """Return the stored content of catalogue item ``item_id``."""
        row = int(self.encoder.item_rows([item_id])[0])
        if row == 0:
            raise ValueError(f"item {item_id} is not in the catalogue the models were "
                             f"trained on")
        features = self.content_table[row]
        # The genre part of the features is non-zero exactly for the item's genres.
        genres = tuple(g for g, value in zip(self.encoder.genres, features) if value > 0)
        return ItemContent(genres, features, self.text_table[row])

    def new_content(self, title, genres=(), year=None, description=None) -> ItemContent:
        """Encode an item the catalogue lacks; its text goes through the sentence encoder."""
        features = self.encoder.encode_item(genres, year, title)
        text = encode_texts([item_text(title, genres, year, description)])[0]
        return ItemContent(tuple(genres), features, text)

    def context(self, support_rows, support_ratings) -> np.ndarray:
        """Return ``[b_support, log(1 + K)]`` for a support set given as user rows."""
        support_rows = np.asarray(support_rows, dtype=np.int64)
        if len(support_rows) == 0:
            return np.zeros(2, dtype=np.float32)
        residual = (np.asarray(support_ratings, dtype=np.float32) - self.global_mean
                    - self.user_prior[support_rows])
        offset = residual.sum() / (len(support_rows) + self.item_shrinkage)
        return np.array([offset, np.log1p(len(support_rows))], dtype=np.float32)

    def item_vector(self, content: ItemContent, support_rows, support_ratings,
                    use_text) -> np.ndarray:
        parts = [content.features]
        if use_text:
            parts.append(content.text)
        parts.append(self.context(support_rows, support_ratings))
        return np.concatenate(parts).astype(np.float32)

    def collate(self, tasks, contents, use_text, as_new=None) -> dict:
        """Stack item tasks into padded tensors, users as rows, padding masked out.

        Parameters
        ----------
        tasks : list of Task
            Item tasks (``entity == "item"``): ``user_id`` is the item and ``*_items``
            are users.
        contents : list of ItemContent
            One per task.
        use_text : bool
            Whether item vectors include the sentence embedding.
        as_new : list of (numpy.ndarray, numpy.ndarray), optional
            Per task, boolean masks over the support and query users that are shown to
            the network as new users.
        """
        if not tasks:
            raise ValueError("cannot collate an empty list of tasks")
        support_len = max(1, max(t.shots for t in tasks))
        query_len = max(len(t.query_items) for t in tasks)

        def rows(users, mask):
            known = self.user_table.rows(users)
            if mask is None or not np.any(mask):
                return known
            return np.where(mask, self.user_table.rows(users, as_new=True), known)

        def pad(values, length, dtype):
            out = np.zeros(length, dtype=dtype)
            out[:len(values)] = values
            return out

        vectors, support_rows, query_rows = [], [], []
        for position, (task, content) in enumerate(zip(tasks, contents)):
            masks = as_new[position] if as_new is not None else (None, None)
            s_rows = rows(task.support_items, masks[0])
            vectors.append(self.item_vector(content, s_rows, task.support_ratings, use_text))
            support_rows.append(pad(s_rows, support_len, np.int64))
            query_rows.append(pad(rows(task.query_items, masks[1]), query_len, np.int64))

        batch = {
            "item_features": np.stack(vectors),
            "support_rows": np.stack(support_rows),
            "support_targets": np.stack([pad(t.support_ratings, support_len, np.float32)
                                         for t in tasks]),
            "support_mask": np.stack([pad(np.ones(t.shots), support_len, np.float32)
                                      for t in tasks]),
            "query_rows": np.stack(query_rows),
            "query_targets": np.stack([pad(t.query_ratings, query_len, np.float32)
                                       for t in tasks]),
            "query_mask": np.stack([pad(np.ones(len(t.query_items)), query_len, np.float32)
                                    for t in tasks]),
        }
        return {name: torch.as_tensor(value) for name, value in batch.items()}


def catalogue_texts(items) -> list[str]:
    """Return :func:`metarec.data.text.item_text` of every row of an items frame."""
    return [item_text(row.title, row.genres, row.year) for row in items.itertuples(index=False)]


def text_table(encoder, items, show_progress=False) -> np.ndarray:
    """Embed every catalogue item's text into an ``(n_items + 1, 384)`` table by row."""
    by_id = items.set_index("item_id")
    ordered = by_id.loc[encoder.item_ids].reset_index()
    table = np.zeros((encoder.n_items + 1, EMBEDDING_DIM), dtype=np.float32)
    table[1:] = encode_texts(catalogue_texts(ordered), show_progress=show_progress)
    return table
