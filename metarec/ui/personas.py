"""Preset taste profiles that give a new user a few ratings to start from."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..data import Dataset
from ..data.dataset import on_scale

LOVED_RATINGS = (5.0, 4.0)
DISLIKED_RATINGS = (1.0, 2.0)
# Share of the catalogue, most rated first, whose items a persona picks before any
# other, so that its ratings are of titles people know.
POPULAR_FRACTION = 0.1
# An item is mostly of a persona's taste when at least this share of its genres are.
MOSTLY_SHARE = 0.5
# A persona is offered only for data with at least this many items it can love, so
# that its ratings show its taste.
MIN_LOVED_ITEMS = 3


@dataclass(frozen=True)
class Persona:
    """A taste profile: genres a person loves and genres they dislike.

    Attributes
    ----------
    name : str
        Label shown in the dashboard.
    loved : tuple of str
        Genres whose popular movies get high ratings.
    disliked : tuple of str
        Genres whose popular movies get low ratings.
    """

    name: str
    loved: tuple[str, ...]
    disliked: tuple[str, ...]


PERSONAS = {
    persona.name: persona
    for persona in (
        Persona("Sci-fi fan", loved=("Sci-Fi", "Adventure"), disliked=("Romance",)),
        Persona("Romance lover", loved=("Romance", "Drama"), disliked=("Horror",)),
        Persona("Action & thriller", loved=("Action", "Thriller"), disliked=("Musical",)),
        Persona("Kids' films", loved=("Children's", "Animation"), disliked=("Horror",)),
    )
}


def item_noun(dataset: Dataset) -> str:
    """Return "movie" for a movie catalogue, else "item".

    Data read from your own CSV files keeps their ids in ``original_id`` and may hold
    anything, while the MovieLens layouts and the bundled sample hold movies.
    """
    return "item" if "original_id" in dataset.items else "movie"


def persona_genres(dataset: Dataset, persona: Persona) -> tuple[tuple, tuple]:
    """Return the loved and the disliked genres of ``persona`` that ``dataset`` has."""
    return (tuple(g for g in persona.loved if g in dataset.genres),
            tuple(g for g in persona.disliked if g in dataset.genres))


def available_personas(dataset: Dataset) -> list[str]:
    """Return the names of the personas that ``dataset`` has enough items to love for.

    A persona needs at least :data:`MIN_LOVED_ITEMS` items with one of its loved genres
    and none of its disliked ones, counting only the genres that ``dataset`` has.
    """
    return [name for name, persona in PERSONAS.items()
            if len(_loved_items(dataset.items, *persona_genres(dataset, persona)))
            >= MIN_LOVED_ITEMS]


def persona_ratings(dataset: Dataset, persona: Persona | str, n_loved=6,
                    n_disliked=2) -> dict[int, float]:
    """Build ``{item_id: rating}`` for ``persona`` from well-known items of ``dataset``.

    Only the persona's genres that ``dataset`` has count. Loved candidates have a loved
    genre and no disliked one, and the first ``n_loved`` of them get 5 and 4 stars in
    turn. Disliked candidates have a disliked genre and no loved one, and the first
    ``n_disliked`` of them get 1 and 2 stars in turn. On another rating scale the stars
    move to the same place on it (:func:`metarec.data.dataset.on_scale`): 10 and 8 of 10. Candidates among the
    :data:`POPULAR_FRACTION` most rated items whose genres are mostly (at least
    :data:`MOSTLY_SHARE`) the persona's loved, or disliked, ones come first, so that
    people recognise the picks and the picks show the taste. Star Wars, tagged Romance
    among four other genres in MovieLens-100K, is no pick of a romance lover. Among
    candidates, a larger share of the persona's genres comes first, then more ratings,
    then the lower item id, so one dataset always gives the same ratings.

    Raises
    ------
    ValueError
        If ``persona`` is a name that is not in :data:`PERSONAS`, if ``n_loved`` is
        below 1 or ``n_disliked`` below 0, if the dataset has none of the persona's
        loved genres, or if no item has a loved genre without a disliked one.
    """
    if isinstance(persona, str):
        if persona not in PERSONAS:
            raise ValueError(f"unknown persona {persona!r}; choose one of "
                             f"{', '.join(PERSONAS)}")
        persona = PERSONAS[persona]
    if n_loved < 1:
        raise ValueError(f"n_loved must be at least 1, got {n_loved}")
    if n_disliked < 0:
        raise ValueError(f"n_disliked must be at least 0, got {n_disliked}")
    loved, disliked = persona_genres(dataset, persona)
    if not loved:
        raise ValueError(
            f"persona {persona.name!r} loves the genres {', '.join(persona.loved)}, and "
            f"{dataset.name!r} has none of them (its genres: "
            f"{', '.join(dataset.genres) or 'none'}); pick another persona or rate "
            f"{item_noun(dataset)}s one by one"
        )

    items = _items_by_popularity(dataset)
    loved_ids = _ranked_picks(items, loved, disliked).head(n_loved).tolist()
    if not loved_ids:
        raise ValueError(
            f"no {item_noun(dataset)} in {dataset.name!r} has one of the genres {', '.join(loved)} "
            f"without one of {', '.join(disliked) or 'no genre'}; pick another persona"
        )
    disliked_ids = _ranked_picks(items, disliked, loved).head(n_disliked).tolist()

    # The 1-to-5 ratings at the same place on the data's scale: 10 and 8 of 10.
    loved_values = [on_scale(r, dataset.rating_scale) for r in LOVED_RATINGS]
    disliked_values = [on_scale(r, dataset.rating_scale) for r in DISLIKED_RATINGS]
    ratings = {}
    for position, item in enumerate(loved_ids):
        ratings[int(item)] = loved_values[position % len(loved_values)]
    for position, item in enumerate(disliked_ids):
        ratings[int(item)] = disliked_values[position % len(disliked_values)]
    return ratings


def _loved_items(items, loved, disliked):
    """Return the ids of ``items`` with a genre of ``loved`` and none of ``disliked``."""
    loved, disliked = set(loved), set(disliked)
    genres = items["genres"].map(set)
    chosen = genres.map(lambda own: bool(loved & own) and not disliked & own)
    return items.loc[chosen, "item_id"]


def _ranked_picks(items, genres, excluded):
    """Return the ids of ``items`` with one of ``genres`` and none of ``excluded``, best first.

    ``items`` comes sorted by popularity with a ``popular`` column (see
    :func:`_items_by_popularity`). Popular items mostly of ``genres`` come first, then a
    larger share of ``genres``, then the popularity order.
    """
    genres = set(genres)
    chosen = items.loc[_loved_items(items, genres, excluded).index]
    share = chosen["genres"].map(lambda own: len(genres & set(own)) / len(set(own)))
    chosen = chosen.assign(share=share, rank=range(len(chosen)),
                           preferred=chosen["popular"] & (share >= MOSTLY_SHARE))
    chosen = chosen.sort_values(["preferred", "share", "rank"],
                                ascending=[False, False, True], kind="stable")
    return chosen["item_id"]


def _items_by_popularity(dataset: Dataset):
    """Return the catalogue sorted by number of ratings, most rated first, then by id.

    The ``popular`` column marks the :data:`POPULAR_FRACTION` of the items that come
    first, and at least one item.
    """
    counts = dataset.ratings["item_id"].value_counts()
    items = dataset.items.assign(n_ratings=dataset.items["item_id"].map(counts).fillna(0))
    items = items.sort_values(["n_ratings", "item_id"], ascending=[False, True],
                              kind="stable")
    n_popular = max(1, math.ceil(POPULAR_FRACTION * len(items)))
    return items.assign(popular=[rank < n_popular for rank in range(len(items))])
