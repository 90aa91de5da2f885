"""Adapt item-side variants to one new item and find its audience: the item API.

Example::

    recommender = ItemRecommender.load("models/ml-100k/items", dataset=dataset)
    result = recommender.adapt_item(
        "teacher", {13: 5, 94: 4}, title="Gattaca (1997)", genres=["Drama", "Sci-Fi"],
        year=1997, description="A man with flawed genes fakes his way into space.")
    result.top_users(10)       # user_id, demographics, predicted rating
    result.group_means()       # mean predicted rating by age band, gender, occupation
    result.support_losses      # support loss before each inner step and after the last
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch.func import functional_call

from ..data.features import age_band
from ..data.text import encode_texts, item_text
from ..models.item_side import ItemContent
from .checks import (check_no_bools, check_top_k, check_unique, rating_values, reused_members,
                     whole_ids)
from .item_store import load_item_models
from .recommender import check_age
from .store import other_data_error

ENSEMBLE = "ensemble"
# The variants the New item page selects first: the meta-learned ones and the baselines
# they must beat.
FEATURED = ("teacher", "student", "content-only", "genre-mean", ENSEMBLE)
GROUPS = ("age band", "gender", "occupation")
MIN_YEAR, MAX_YEAR = 1870, 2100
MAX_DESCRIPTION_CHARS = 5000
SCORE_BATCH = 256


@dataclass
class ItemAdaptation:
    """One variant adapted to one new item.

    Attributes
    ----------
    variant : str
    support_losses : list of float
        Support loss (mean squared error) before each inner step and after the last. A
        classical baseline and the ensemble have a single value. The list is empty when
        the item has no ratings.
    seconds : float
        Wall time of the adaptation; encoding the text and scoring are excluded.
    ratings : dict
        The support ratings, ``{user_id: rating}``.
    weights : dict
        For the ensemble, the member weights used for this support size.
    """

    variant: str
    support_losses: list
    seconds: float
    ratings: dict
    _scorer: object = field(repr=False)
    _recommender: "ItemRecommender" = field(repr=False)
    weights: dict = field(default_factory=dict)

    def predict(self, user_ids, as_new=False) -> np.ndarray:
        """Return predicted ratings of the item by ``user_ids``, clipped to the scale.

        ``user_ids`` is a list or array of dataset user ids; a single id gives an array
        of length 1. The ratings are float64 for every variant. With ``as_new=True`` the
        users are scored from their demographics alone, as people the models never saw.

        Raises
        ------
        ValueError
            If an id is not a whole number (the ids of a CSV file of your own, which
            :meth:`metarec.data.Dataset.user_ids_for` maps), or not a dataset user.
        """
        user_ids = np.atleast_1d(user_ids)
        if user_ids.dtype.kind not in "iu":
            user_ids = _whole_user_ids(user_ids.tolist())
        user_ids = user_ids.astype(np.int64, copy=False)
        unknown = user_ids[~self._recommender.user_table.knows(user_ids)]
        if unknown.size:
            raise ValueError(
                f"user ids {unknown[:10].tolist()} are not users of the dataset these "
                f"models were trained on; use predict_new_user for someone new"
            )
        scores = np.asarray(self._scorer(user_ids, as_new, None), dtype=float)
        return np.clip(scores, *self._recommender.rating_scale)

    def predict_new_user(self, age=None, gender=None, occupation=None,
                         zip_code=None) -> float:
        """Return the predicted rating of a new user described by demographics only.

        Raises
        ------
        ValueError
            If ``age`` is not a number of years from 1 to 120, ``gender`` is not "M" or
            "F", or ``occupation`` is not one of the dataset's.
        """
        features = self._recommender.new_user_features(age, gender, occupation, zip_code)
        score = self._scorer(np.zeros(1, dtype=np.int64), True, features[None])
        return float(np.clip(score[0], *self._recommender.rating_scale))

    @functools.cached_property
    def _raw_scores(self) -> np.ndarray:
        # Unclipped, so that users predicted above the top of the scale keep their order.
        return np.asarray(self._scorer(self._recommender.user_ids, False, None), dtype=float)

    def predictions(self) -> pd.DataFrame:
        """Return every dataset user with their demographics and predicted rating.

        Columns: ``user_id``, ``age``, ``age band``, ``gender``, ``occupation``,
        ``rated`` (whether the user is in the support) and ``predicted``. When the
        recommender was loaded with a dataset that has user ids of its own (a CSV of your
        own), ``original_id`` follows ``user_id`` with those ids, such as ``"uc002"``;
        ``user_id`` stays the number that :meth:`predict` takes.
        """
        frame = self._recommender.users_frame.copy()
        originals = self._recommender.original_ids
        if originals:
            frame.insert(1, "original_id",
                         [originals.get(int(u), str(u)) for u in frame["user_id"]])
        frame["rated"] = frame["user_id"].isin(list(self.ratings))
        frame["predicted"] = np.clip(self._raw_scores, *self._recommender.rating_scale)
        return frame

    def top_users(self, k=10, exclude_rated=True) -> pd.DataFrame:
        """Return the ``k`` users with the highest predicted rating: the audience to target.

        Users are ranked by the unclipped scores, so several users predicted at the top
        of the scale keep their order. The columns are those of :meth:`predictions`,
        without ``rated``.
        """
        check_top_k(k)
        frame = self.predictions().assign(_score=self._raw_scores)
        if exclude_rated:
            frame = frame[~frame["rated"]]
        top = frame.sort_values(["_score", "user_id"], ascending=[False, True],
                                kind="stable").head(k)
        return top.drop(columns=["rated", "_score"]).reset_index(drop=True)

    def group_means(self) -> pd.DataFrame:
        """Return the mean predicted rating per age band, gender and occupation.

        Columns: ``group`` (one of :data:`GROUPS`), ``value``, ``users`` and
        ``mean predicted``.
        """
        frame = self.predictions()
        parts = []
        for group in GROUPS:
            summary = frame.groupby(group, sort=False)["predicted"].agg(["size", "mean"])
            if group == "age band":
                summary = summary.reindex([b for b in self._recommender.age_bands
                                           if b in summary.index])
            else:
                summary = summary.sort_index()
            parts.append(pd.DataFrame({"group": group, "value": summary.index,
                                       "users": summary["size"].to_numpy(),
                                       "mean predicted": summary["mean"].to_numpy()}))
        return pd.concat(parts, ignore_index=True)


class ItemRecommender:
    """Item-side variants loaded read-only from a models folder.

    Use :meth:`load`, then :meth:`adapt_item` once per new item. Adaptation works on
    copies of the weights, so the loaded models never change.
    """

    def __init__(self, manifest, task_encoder, learners, classical, ensemble, users,
                 original_ids=None):
        self.manifest = manifest
        self.task_encoder = task_encoder
        self.learners = learners
        self.classical = classical
        self.ensemble = ensemble
        self.rating_scale = tuple(manifest["dataset"]["rating_scale"])
        self.user_table = task_encoder.user_table
        self.user_ids = np.asarray(users["user_id"], dtype=np.int64)
        # {user_id: the data's own id}, empty unless the data has ids of its own.
        self.original_ids = original_ids or {}
        ages = np.asarray(users["age"], dtype=float)
        self.users_frame = pd.DataFrame({
            "user_id": self.user_ids, "age": ages,
            "age band": [age_band(a) or "unknown" for a in ages],
            "gender": np.asarray(users["gender"], dtype=str),
            "occupation": np.asarray(users["occupation"], dtype=str),
        })
        self.age_bands = list(dict.fromkeys(
            [label for label in _age_band_labels() if label in set(self.users_frame["age band"])]
            + ["unknown"]))

    @classmethod
    def load(cls, directory, dataset=None) -> "ItemRecommender":
        """Load ``directory``; with ``dataset``, check it is the data the models saw.

        For data with user ids of its own, ``dataset`` also gives
        :meth:`ItemAdaptation.predictions` and :meth:`ItemAdaptation.top_users` their
        ``original_id`` column.

        Raises
        ------
        ModelsDirectoryError
            If the folder has no complete item models, or ``dataset`` differs from the
            training data.
        """
        manifest, task_encoder, learners, classical, ensemble, users = load_item_models(directory)
        original_ids = None
        if dataset is not None:
            if dataset.fingerprint() != manifest["dataset"]["fingerprint"]:
                raise other_data_error("item models", directory, manifest["dataset"], dataset)
            if "original_id" in dataset.users:
                original_ids = dataset.original_user_ids()
        return cls(manifest, task_encoder, learners, classical, ensemble, users, original_ids)

    @property
    def variants(self) -> list[str]:
        return [*self.learners, *self.classical] + ([ENSEMBLE] if self.ensemble else [])

    @property
    def featured_variants(self) -> list[str]:
        return [v for v in FEATURED if v in self.variants] or self.variants

    @property
    def genres(self) -> list[str]:
        return list(self.task_encoder.encoder.genres)

    # Input checks ----------------------------------------------------------------------

    def _check_ratings(self, ratings) -> tuple[np.ndarray, np.ndarray]:
        ratings = {} if ratings is None else ratings
        if not isinstance(ratings, dict):
            raise TypeError(
                f"ratings must be a dict of user id to rating, got {type(ratings).__name__}"
            )
        keys = list(ratings)
        users = _whole_user_ids(keys)
        check_unique(users, keys, "user")
        values = rating_values(ratings, users, "user", self.rating_scale)
        unknown = users[~self.user_table.knows(users)]
        if unknown.size:
            raise ValueError(
                f"user ids {unknown.tolist()} are not users of the dataset these models "
                f"were trained on ({len(self.user_ids):,} users, ids {self.user_ids.min()} "
                f"to {self.user_ids.max()}); give ratings from those users"
            )
        low, high = self.rating_scale
        outside = [(int(u), float(r)) for u, r in zip(users, values) if not low <= r <= high]
        if outside:
            raise ValueError(
                f"ratings must be between {low:g} and {high:g}; got "
                + ", ".join(f"{r:g} from user {u}" for u, r in outside)
            )
        return users, values

    def check_content(self, title, genres=(), year=None, description=None):
        """Validate a new item's fields and return them normalised.

        Raises
        ------
        ValueError
            If the title is empty, a genre is not in the catalogue's genres, the year
            is outside 1870 to 2100, or the description is longer than 5,000 characters.
        """
        if not isinstance(title, str) or not title.strip():
            raise ValueError(f"title must be a non-empty string, got {title!r}; give the "
                             f"item's title")
        if isinstance(genres, str):
            genres = [genres]
        genres = tuple(genres or ())
        unknown = [g for g in genres if g not in self.genres]
        if unknown:
            raise ValueError(f"genres {unknown} are not genres of this catalogue; choose "
                             f"from {self.genres}")
        if year is not None:
            if isinstance(year, bool) or not isinstance(year, (int, float, np.integer,
                                                                np.floating)):
                raise ValueError(f"year must be a number such as 1997, got {year!r}")
            if np.isnan(year):
                year = None
            elif not MIN_YEAR <= year <= MAX_YEAR:
                raise ValueError(f"year must be between {MIN_YEAR} and {MAX_YEAR}, got "
                                 f"{year:g}; leave it out if unknown")
        if description is not None:
            if not isinstance(description, str):
                raise ValueError(f"description must be a string, got "
                                 f"{type(description).__name__}")
            if len(description) > MAX_DESCRIPTION_CHARS:
                raise ValueError(
                    f"description has {len(description):,} characters, more than the "
                    f"{MAX_DESCRIPTION_CHARS:,} allowed; shorten it (the encoder reads "
                    f"about the first 200 words anyway)"
                )
        return title.strip(), genres, (None if year is None else float(year)), description

    def new_user_features(self, age=None, gender=None, occupation=None, zip_code=None):
        check_age(age)
        if gender not in (None, "") and str(gender).upper() not in ("M", "F"):
            raise ValueError(f"gender must be 'M' or 'F' (or left out), got {gender!r}")
        occupations = self.task_encoder.encoder.occupations
        if occupation not in (None, "") and occupation not in occupations:
            raise ValueError(f"occupation {occupation!r} is not one of the dataset's "
                             f"occupations: {', '.join(occupations)}")
        return self.task_encoder.encoder.encode_user(age, gender or None, occupation or None,
                                                     zip_code)

    # Content ---------------------------------------------------------------------------

    def new_item_content(self, title, genres=(), year=None, description=None) -> ItemContent:
        """Validate and encode a new item; its text embedding is cached per text."""
        title, genres, year, description = self.check_content(title, genres, year,
                                                               description)
        features = self.task_encoder.encoder.encode_item(genres, year, title)
        text = _embed(item_text(title, genres, year, description))
        return ItemContent(genres, features, text)

    # Adaptation ------------------------------------------------------------------------

    def adapt_item(self, variant, ratings=None, *, title=None, genres=(), year=None,
                   description=None, content=None, steps=None,
                   members=None) -> ItemAdaptation:
        """Adapt ``variant`` to a new item.

        Parameters
        ----------
        variant : str
            One of :attr:`variants`.
        ratings : dict of int to float, optional
            Ratings of the item by known users, ``{user_id: rating}``; with none, the
            content alone predicts.
        title, genres, year, description
            The item's content; ``title`` is required unless ``content`` is given.
        content : ItemContent, optional
            Content already encoded by :meth:`new_item_content`, so that several
            variants share one text encoding.
        steps : int, optional
            Inner steps of a network; defaults to the variant's own.
        members : dict of str to ItemAdaptation, optional
            For the ensemble: members already adapted to the same item, ``ratings`` and
            ``steps``, reused instead of adapted again. The ensemble adapts only the
            members it weighs at this support size, and its ``seconds`` add up their
            times. Only the members' variant and ratings are checked.
        """
        if variant not in self.variants:
            raise ValueError(f"unknown variant {variant!r}; choose one of {self.variants}")
        users, values = self._check_ratings(ratings)
        if content is None:
            content = self.new_item_content(title, genres, year, description)
        rated = dict(zip(users.tolist(), values.tolist()))
        if variant in self.classical:
            return self._adapt_classical(variant, content, users, values, rated)
        if variant == ENSEMBLE:
            return self._adapt_ensemble(content, users, values, rated, steps, members or {})
        return self._adapt_network(variant, content, users, values, rated, steps)

    def _adapt_network(self, variant, content, users, values, rated, steps):
        learner, spec = self.learners[variant]
        steps = learner.inner_steps if steps is None else int(steps)
        if steps < 0:
            raise ValueError(f"steps must be 0 or more, got {steps}")
        started = time.perf_counter()
        rows = self.user_table.rows(users)
        vector = torch.as_tensor(self.task_encoder.item_vector(content, rows, values,
                                                               spec.use_text))
        params, losses = learner.adapt_one(vector, torch.as_tensor(rows),
                                           torch.as_tensor(values), steps)
        params = {name: value.detach() for name, value in params.items()}
        seconds = time.perf_counter() - started
        curve = losses.tolist() if len(users) else []

        def score(user_ids, as_new, new_users):
            rows = torch.as_tensor(self.user_table.rows(user_ids, as_new=as_new))
            extra = None if new_users is None else torch.as_tensor(new_users)
            with torch.no_grad():
                return functional_call(learner.net, params, (vector, rows, extra)).numpy()

        return ItemAdaptation(variant, curve, seconds, rated, score, self)

    def _adapt_classical(self, variant, content, users, values, rated):
        model = self.classical[variant]
        started = time.perf_counter()

        def score(user_ids, as_new, new_users):
            if new_users is not None or as_new:
                # A new user has no bias of their own; -1 is no dataset id.
                user_ids = np.full(len(user_ids) if new_users is None else len(new_users), -1)
            return model.predict(content, users, values, user_ids)

        seconds = time.perf_counter() - started
        curve = ([float(np.mean((score(users, False, None) - values) ** 2))]
                 if len(users) else [])
        return ItemAdaptation(variant, curve, seconds, rated, score, self)

    def _adapt_ensemble(self, content, users, values, rated, steps, adapted=None):
        # Every member passed in is checked, but members with weight 0 for this support
        # size are neither adapted nor timed.
        reused = reused_members(adapted, self.ensemble.members, rated, "ratings")
        members = {}
        for name in self.ensemble.active_members(len(users)) or self.ensemble.members:
            if name in reused:
                members[name] = reused[name]
            elif name in self.classical:
                members[name] = self._adapt_classical(name, content, users, values, rated)
            else:
                members[name] = self._adapt_network(name, content, users, values, rated,
                                                    steps)
        shots = len(users)

        def score(user_ids, as_new, new_users):
            predictions = {name: m._scorer(user_ids, as_new, new_users)
                           for name, m in members.items()}
            return self.ensemble.predict(predictions, shots)

        curve = ([float(np.mean((score(users, False, None) - values) ** 2))]
                 if len(users) else [])
        seconds = sum(m.seconds for m in members.values())
        return ItemAdaptation(ENSEMBLE, curve, seconds, rated, score, self,
                              weights=self.ensemble.weights_for(shots))

    # Evaluation ------------------------------------------------------------------------

    def score_tasks(self, variant, tasks, users=None) -> list[np.ndarray]:
        """Adapt ``variant`` to every item task's support and score users.

        ``tasks`` are item tasks of catalogue items. With ``users=None`` each task's
        query users are scored; otherwise every task scores ``users`` (dataset ids).
        Predictions are clipped to the rating scale.
        """
        low, high = self.rating_scale
        if variant in self.learners:
            return self._score_network(variant, tasks, users, low, high)
        if variant in self.classical:
            model = self.classical[variant]
            return [np.clip(model.predict(self._content(t.user_id), t.support_items,
                                          t.support_ratings,
                                          t.query_items if users is None else users),
                            low, high) for t in tasks]
        if variant == ENSEMBLE and self.ensemble is not None:
            members = {m: self.score_tasks(m, tasks, users) for m in self.ensemble.members}
            return [np.clip(self.ensemble.predict({m: p[i] for m, p in members.items()},
                                                  t.shots), low, high)
                    for i, t in enumerate(tasks)]
        raise ValueError(f"unknown variant {variant!r}; choose one of {self.variants}")

    def _content(self, item_id) -> ItemContent:
        return self.task_encoder.catalogue_content(item_id)

    def _score_network(self, variant, tasks, users, low, high):
        learner, spec = self.learners[variant]
        rows = None if users is None else torch.as_tensor(self.user_table.rows(users))
        out = []
        for start in range(0, len(tasks), SCORE_BATCH):
            chunk = tasks[start:start + SCORE_BATCH]
            batch = self.task_encoder.collate(chunk, [self._content(t.user_id) for t in chunk],
                                              spec.use_text)
            extra = None if rows is None else rows.expand(len(chunk), -1)
            with torch.no_grad():
                query, _, scored = learner.adapt_and_predict(batch, extra_rows=extra,
                                                             first_order=True)
            scores = (query if rows is None else scored).clamp(low, high).numpy()
            if rows is None:
                out += [scores[i, :len(t.query_items)] for i, t in enumerate(chunk)]
            else:
                out += list(scores)
        return out


def _whole_user_ids(keys) -> np.ndarray:
    """Return ``keys`` as int64 user ids, or raise saying how to map ids of your own."""
    check_no_bools(keys, "user")
    try:
        return whole_ids(keys, "user")
    except ValueError as error:
        raise ValueError(f"{error}. For ids from a CSV file of your own, map them with "
                         f"dataset.user_ids_for([...])") from None


def _age_band_labels():
    from ..data.features import AGE_BANDS

    return [label for _, _, label in AGE_BANDS]


@functools.lru_cache(maxsize=256)
def _embed(text: str) -> np.ndarray:
    embedding = encode_texts([text])[0]
    embedding.setflags(write=False)
    return embedding
