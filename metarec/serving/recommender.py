"""Adapt trained variants to one new user and recommend: the API people call."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ..data.dataset import like_threshold
from ..meta.inner_loop import TASK_LOSSES, adapt, predict
from .checks import (check_no_bools, check_top_k, check_unique, rating_values,
                     reused_members)
from .fast_path import FastAdapter
from .store import load_models

ENSEMBLE = "ensemble"
# The variants the dashboard selects first: the meta-learned ones and the baseline they
# must beat.
FEATURED = ("teacher", "student", "user-bias", ENSEMBLE)
USER_FIELDS = ("age", "gender", "occupation", "zip_code")
# The ages a new user may give, in whole years.
MIN_AGE, MAX_AGE = 1, 120


@dataclass
class Adaptation:
    """One variant adapted to one user.

    Attributes
    ----------
    variant : str
    support_losses : list of float
        Support loss before each inner step and after the last: mean squared error
        for rating variants, binary cross-entropy for like/dislike ones.
        A classical baseline and the ensemble's blend have a single value. The list is
        empty with no ratings, and for ranking baselines because their scores are not
        ratings.
    seconds : float
        Wall time of the adaptation, scoring excluded.
    weights : dict
        For the ensemble, the member weights used for this support size.
    """

    variant: str
    support_losses: list
    seconds: float
    _scorer: object = field(repr=False)
    _recommender: "Recommender" = field(repr=False)
    rated: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)

    def predict(self, item_ids, clip=True) -> np.ndarray:
        """Return predicted ratings for ``item_ids`` (dataset ids), clipped to the scale.

        ``item_ids`` is a list or array of ids; a single id gives an array of length 1.
        The scores are float64 for every variant.

        With ``clip=False`` the scores come as the model computed them, which can fall
        outside the scale: useful to order or explain items predicted above the top.
        For a ranking variant (popularity, random, a like/dislike learner) these are
        ranking scores and are never clipped.

        Raises
        ------
        ValueError
            If an id is not a whole number or not in the models' catalogue.
        """
        item_ids = self._recommender.checked_item_ids(np.atleast_1d(item_ids))
        scores = np.asarray(self._scorer(item_ids), dtype=float)
        if self.is_ranker or not clip:
            return scores
        low, high = self._recommender.rating_scale
        return np.clip(scores, low, high)

    @property
    def is_ranker(self) -> bool:
        return self._recommender.is_ranker(self.variant)

    def top_k(self, k=10, exclude_rated=True) -> pd.DataFrame:
        """Return the ``k`` best-scored catalogue items as ``item_id, title, score``.

        Titles come from the dataset given to :meth:`Recommender.load`, so without one
        the ``title`` column is None. When the recommender was loaded with a dataset that has item ids of its own (a
        CSV of your own), an ``original_id`` column follows with those ids, such as
        ``"sf-05"``. ``item_id`` stays the number that :meth:`predict` takes.
        """
        check_top_k(k)
        catalogue = self._recommender.item_ids
        # Rank by the raw scores: several items can exceed the top of the scale, and
        # clipping them all to 5 would make their order arbitrary.
        raw = np.asarray(self._scorer(catalogue), dtype=float)
        if exclude_rated and self.rated:
            raw = np.where(np.isin(catalogue, list(self.rated)), -np.inf, raw)
        order = _top_indices(raw, k)
        order = order[np.isfinite(raw[order])]
        scores = raw[order]
        if not self.is_ranker:
            scores = np.clip(scores, *self._recommender.rating_scale)
        titles = self._recommender.titles
        top = pd.DataFrame({
            "item_id": catalogue[order],
            # None without titles: an id in its place would read as a title.
            "title": [titles.get(int(i)) for i in catalogue[order]],
            "score": scores,
        })
        originals = self._recommender.original_ids
        if originals:
            top["original_id"] = [originals.get(int(i), str(i)) for i in catalogue[order]]
        return top


def check_age(age):
    """Raise ValueError unless ``age`` is None or a number of years from 1 to 120."""
    if age is None:
        return
    if isinstance(age, (bool, np.bool_)) or not isinstance(age, (int, float, np.integer,
                                                                 np.floating)):
        raise ValueError(f"age must be a number of years, got {age!r}")
    if not MIN_AGE <= age <= MAX_AGE:
        raise ValueError(f"age must be between {MIN_AGE} and {MAX_AGE}, got {age:g}")


def _original_item_ids(dataset) -> dict | None:
    """Return ``{item_id: original id}`` of ``dataset``, or None when it has no ids of its own.

    MovieLens ids are the numbers metarec uses, so they need no second column.
    """
    if "original_id" not in dataset.items:
        return None
    return dataset.original_item_ids()


def _top_indices(scores, k) -> np.ndarray:
    """Indices of the ``k`` highest ``scores``, highest first, ties in index order.

    Gives what a stable descending sort cut to ``k`` gives, but a partial sort finds the
    candidates in linear time: on 100,000 items it is several times faster than sorting
    them all.
    """
    if k >= len(scores):
        return np.argsort(-scores, kind="stable")
    threshold = -np.partition(-scores, k - 1)[k - 1]
    candidates = np.flatnonzero(scores >= threshold)
    return candidates[np.argsort(-scores[candidates], kind="stable")][:k]


class Recommender:
    """Trained variants loaded read-only from a models directory.

    Use :meth:`load`, then :meth:`adapt` once per new user. Adaptation works on copies:
    the loaded weights never change, so one instance can serve many people at once.
    """

    def __init__(self, manifest, encoder, prior, learners, classical, ensemble, titles=None,
                 original_ids=None):
        self.manifest = manifest
        self.encoder = encoder
        self.prior = prior
        self.learners = learners
        self.classical = classical
        self.ensemble = ensemble
        self.item_ids = np.asarray(encoder.item_ids, dtype=np.int64)
        # known[i] is True when i is a catalogue id, so an array is checked with one
        # lookup per id.
        self._known = np.zeros(int(self.item_ids.max(initial=0)) + 1, dtype=bool)
        self._known[self.item_ids[self.item_ids >= 0]] = True
        self.titles = titles or {}
        # {item_id: the data's own id}, empty unless the data has ids of its own.
        self.original_ids = original_ids or {}
        self.rating_scale = tuple(manifest["dataset"]["rating_scale"])
        self._all_rows = torch.as_tensor(encoder.item_rows(self.item_ids))
        self._fast = {}

    @classmethod
    def load(cls, directory, dataset=None) -> "Recommender":
        """Load ``directory``; with ``dataset``, check it is the data the models saw.

        ``dataset`` also gives :meth:`Adaptation.top_k` its titles and, for data with
        ids of its own, its ``original_id`` column.

        Raises
        ------
        ModelsDirectoryError
            If the directory is incomplete, or ``dataset`` differs from the training data.
        """
        from .store import other_data_error

        manifest, encoder, prior, learners, classical, ensemble = load_models(directory)
        titles, original_ids = None, None
        if dataset is not None:
            trained_on = manifest["dataset"]
            if dataset.fingerprint() != trained_on["fingerprint"]:
                raise other_data_error("models", directory, trained_on, dataset)
            titles = dataset.item_titles()
            original_ids = _original_item_ids(dataset)
        return cls(manifest, encoder, prior, learners, classical, ensemble, titles,
                   original_ids)

    @property
    def variants(self) -> list[str]:
        """Every variant: networks, classical baselines and, once fitted, the ensemble."""
        return [*self.learners, *self.classical] + ([ENSEMBLE] if self.ensemble else [])

    @property
    def featured_variants(self) -> list[str]:
        return [v for v in FEATURED if v in self.variants] or self.variants

    # Input checks ----------------------------------------------------------------------

    def _check_ratings(self, ratings) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(ratings, dict):
            raise TypeError(
                f"ratings must be a dict of item id to rating, got {type(ratings).__name__}"
            )
        keys = list(ratings)
        check_no_bools(keys, "item")
        items = self.checked_item_ids(keys, action="rate items of that catalogue")
        check_unique(items, keys, "item")
        values = rating_values(ratings, items, "item", self.rating_scale)
        low, high = self.rating_scale
        outside = [(int(i), float(r)) for i, r in zip(items, values)
                   if not low <= r <= high]
        if outside:
            raise ValueError(
                f"ratings must be between {low:g} and {high:g}; got "
                + ", ".join(f"{r:g} for item {i}" for i, r in outside)
            )
        return items, values

    def checked_item_ids(self, item_ids, action="score items of that catalogue"
                         ) -> np.ndarray:
        """Return ``item_ids`` as an int64 array of catalogue ids, or raise naming the others.

        An int64 array passes through as the same object. ``action`` ends the message
        about ids outside the catalogue.

        Raises
        ------
        ValueError
            If an id is not a whole number (the ids of a CSV file of your own, which
            :meth:`metarec.data.Dataset.item_ids_for` maps), or not in the catalogue.
        """
        values = np.asarray(item_ids)
        if values.dtype.kind in "iu":
            ids = values.astype(np.int64, copy=False)
        else:
            try:
                numbers = values.astype(float)
            except (TypeError, ValueError):
                numbers = np.full(values.shape, np.nan)
            whole = np.isfinite(numbers) & (numbers == np.round(numbers))
            if not whole.all():
                invalid = [v.item() if hasattr(v, "item") else v for v in values[~whole][:5]]
                raise ValueError(
                    f"item ids must be the dataset's whole-number item ids, got {invalid}. "
                    f"For ids from a CSV file of your own, map them with "
                    f"dataset.item_ids_for([...])")
            # Beyond int64 the cast would wrap to another number, so name the value.
            huge = np.abs(numbers) >= 2**63
            if huge.any():
                raise ValueError(
                    f"item ids {numbers[huge][:5].tolist()} are not in the catalogue these "
                    f"models were trained on ({len(self.item_ids):,} items); {action}")
            ids = numbers.astype(np.int64)
        inside = (ids >= 0) & (ids < len(self._known))
        known = np.zeros(ids.shape, dtype=bool)
        known[inside] = self._known[ids[inside]]
        if not known.all():
            unknown = list(dict.fromkeys(ids[~known].tolist()))
            listed = ", ".join(map(str, unknown[:10])) + (", …" if len(unknown) > 10 else "")
            raise ValueError(
                f"item ids [{listed}] are not in the catalogue these models were trained "
                f"on ({len(self.item_ids):,} items); {action}")
        return ids

    def score_label(self, variant) -> str:
        """Return the kind of scores ``variant`` gives, in words.

        That is "predicted rating", "like probability" (a network trained for the
        ``like`` task) or "ranking score" (popularity, random).

        Raises
        ------
        ValueError
            If ``variant`` is not one of :attr:`variants`.
        """
        self._check_variant(variant)
        learner = self.learners.get(variant)
        if learner is not None and learner.task == "like":
            return "like probability"
        return "ranking score" if self.is_ranker(variant) else "predicted rating"

    def is_ranker(self, variant) -> bool:
        """True where scores rank items but are not ratings.

        That is the popularity and random baselines, and networks trained for the
        ``like`` task, whose scores are probabilities that the person likes the item.

        Raises
        ------
        ValueError
            If ``variant`` is not one of :attr:`variants`.
        """
        self._check_variant(variant)
        learner = self.learners.get(variant)
        if learner is not None:
            return learner.task == "like"
        return bool(getattr(self.classical.get(variant), "is_ranker", False))

    def _check_variant(self, variant):
        if variant not in self.variants:
            raise ValueError(f"unknown variant {variant!r}; choose one of {self.variants}")

    def _check_user(self, user) -> dict:
        if user is not None and not isinstance(user, Mapping):
            raise TypeError(
                f"user must be a dict of demographic fields ({', '.join(USER_FIELDS)}) or "
                f"None, got {type(user).__name__} {user!r}; for example "
                f"user={{'age': 31, 'gender': 'F'}}")
        user = dict(user or {})
        unexpected = set(user) - set(USER_FIELDS)
        if unexpected:
            raise ValueError(
                f"unknown user fields {sorted(unexpected)}; allowed: {list(USER_FIELDS)}"
            )
        check_age(user.get("age"))
        gender = user.get("gender")
        if gender not in (None, "") and str(gender).upper() not in ("M", "F"):
            raise ValueError(f"gender must be 'M' or 'F' (or left out), got {gender!r}")
        occupation = user.get("occupation")
        if occupation not in (None, "") and occupation not in self.encoder.occupations:
            raise ValueError(
                f"occupation {occupation!r} is not one of the dataset's occupations: "
                f"{', '.join(self.encoder.occupations)}"
            )
        return user

    def _user_features(self, user, items, values, task="rating", rows=None):
        """Demographic features followed by the support context the networks expect.

        ``rows`` are the table rows of ``items`` where the caller has them already.
        """
        user = self._check_user(user)
        rows = self.encoder.item_rows(items) if rows is None else rows
        context = self.prior.context(rows, values, task)
        return torch.as_tensor(np.concatenate([self.encoder.encode_user(**user), context]))

    # Adaptation ------------------------------------------------------------------------

    def adapt(self, ratings, variant="student", user=None, steps=None,
              members=None) -> Adaptation:
        """Adapt ``variant`` to a new user.

        Parameters
        ----------
        ratings : dict of int to float
            The user's ratings, ``{item_id: rating}`` in dataset ids; may be empty, and
            then predictions come from the meta-learned starting point and ``user``.
        variant : str
            One of :attr:`variants`.
        user : dict, optional
            Demographics: ``age``, ``gender`` ("M"/"F"), ``occupation``, ``zip_code``;
            any of them may be left out.
        steps : int, optional
            Inner steps; defaults to the count the variant's serving schedule gives for
            this many ratings (chosen on validation users at training time).
        members : dict of str to Adaptation, optional
            For the ensemble: members already adapted to the same ``ratings``, ``user``
            and ``steps``, reused instead of adapted again. The ensemble adapts only
            the members it weighs at this support size, and its ``seconds`` add up their
            times. Only the members' variant and ratings are checked.
        """
        self._check_variant(variant)
        items, values = self._check_ratings(ratings)
        task = self.learners[variant].task if variant in self.learners else "rating"
        rows = self.encoder.item_rows(items)
        features = self._user_features(user, items, values, task, rows)
        rated = dict(zip(items.tolist(), values.tolist()))

        if variant in self.classical:
            return self._adapt_classical(variant, items, values, rated)
        if variant == ENSEMBLE:
            return self._adapt_ensemble(items, values, features, rated, steps, rows,
                                        members or {})
        return self._adapt_network(variant, items, values, features, rated, steps, rows)

    def _fast_adapter(self, variant):
        """Return the variant's :class:`FastAdapter`, or None where it does not apply."""
        if variant not in self._fast:
            try:
                self._fast[variant] = FastAdapter(self.learners[variant])
            except (ValueError, AttributeError):
                self._fast[variant] = None
        return self._fast[variant]

    def _adapt_network(self, variant, items, values, features, rated, steps, rows=None):
        learner = self.learners[variant]
        steps = learner.steps_for(len(items)) if steps is None else int(steps)
        if steps < 0:
            raise ValueError(f"steps must be 0 or more, got {steps}")
        started = time.perf_counter()
        rows = self.encoder.item_rows(items) if rows is None else rows
        targets = values
        if learner.task == "like":
            targets = (values >= like_threshold(self.rating_scale)).astype(np.float32)
        loss = TASK_LOSSES[learner.task]
        fast = self._fast_adapter(variant)
        if fast is not None:
            _, curve, scorer = fast.adapt(features, rows, targets, steps, loss,
                                          learner.support_shrinkage)
        else:
            rows, targets = torch.as_tensor(rows), torch.as_tensor(targets)
            params, losses = adapt(
                learner.net, learner.initial_params(), learner.adapted_names,
                learner.inner_lrs(), features, rows, targets, torch.ones_like(targets),
                steps, first_order=True, loss=loss, shrinkage=learner.support_shrinkage)
            params = {name: value.detach() for name, value in params.items()}
            curve = losses.detach().tolist()

            def scorer(item_rows):
                with torch.no_grad():
                    return predict(learner.net, params, features, item_rows)

        seconds = time.perf_counter() - started
        # With no ratings there is no support loss to report.
        curve = curve if len(items) else []

        like = learner.task == "like"

        def score(item_ids):
            rows = (self._all_rows if item_ids is self.item_ids
                    else torch.as_tensor(self.encoder.item_rows(item_ids)))
            scores = scorer(rows)
            return (torch.sigmoid(scores) if like else scores).numpy()

        return Adaptation(variant, curve, seconds, score, self, rated)

    def _adapt_classical(self, name, items, values, rated):
        model = self.classical[name]
        started = time.perf_counter()
        if hasattr(model, "fold_in"):
            # Solve the user's factors once, not at every scoring call.
            user = model.fold_in(items, values)
            scorer = lambda ids: model.predict_folded(user, ids)  # noqa: E731
        else:
            scorer = lambda ids: model.predict(items, values, ids)  # noqa: E731
        seconds = time.perf_counter() - started
        curve = []
        if len(items) and not getattr(model, "is_ranker", False):
            curve = [float(np.mean((scorer(items) - values) ** 2))]
        return Adaptation(name, curve, seconds, scorer, self, rated)

    def _adapt_ensemble(self, items, values, features, rated, steps, rows=None, adapted=None):
        # Every member passed in is checked, but members with weight 0 for this support
        # size are neither adapted nor timed.
        reused = reused_members(adapted, self.ensemble.members, rated, "rated")
        members = {}
        for name in self.ensemble.active_members(len(items)) or self.ensemble.members:
            if name in reused:
                members[name] = reused[name]
            elif name in self.classical:
                members[name] = self._adapt_classical(name, items, values, rated)
            else:
                members[name] = self._adapt_network(name, items, values, features, rated, steps,
                                                    rows)
        shots = len(items)

        def score(item_ids):
            predictions = {name: m._scorer(item_ids) for name, m in members.items()}
            return self.ensemble.predict(predictions, shots)

        curve = [float(np.mean((score(items) - values) ** 2))] if len(items) else []
        seconds = sum(m.seconds for m in members.values())
        return Adaptation(ENSEMBLE, curve, seconds, score, self, rated,
                          weights=self.ensemble.weights_for(shots))
