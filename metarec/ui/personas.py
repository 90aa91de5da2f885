"""Preset taste profiles that give a new user a few ratings to start from."""

from __future__ import annotations

from dataclasses import dataclass

from ..data import Dataset

LOVED_RATINGS = (5.0, 4.0)
DISLIKED_RATINGS = (1.0, 2.0)


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


def persona_ratings(dataset: Dataset, persona: Persona | str, n_loved=6,
                    n_disliked=2) -> dict[int, float]:
    """Build ``{item_id: rating}`` for ``persona`` from the most rated movies of ``dataset``.

    The ``n_loved`` most rated movies with a loved genre and no disliked one get 5 and 4
    stars in turn. The ``n_disliked`` most rated movies with a disliked genre and no
    loved one get 1 and 2 stars in turn. Ties in the number of ratings go to the lower
    item id, so one dataset always gives the same ratings.

    Raises
    ------
    ValueError
        If ``persona`` is a name that is not in :data:`PERSONAS`, if ``n_loved`` is
        below 1 or ``n_disliked`` below 0, if the dataset lacks one of the persona's
        genres, or if no movie has a loved genre without a disliked one.
    """
    if isinstance(persona, str):
        if persona not in PERSONAS:
            raise ValueError(f"unknown persona {persona!r}; choose one of {list(PERSONAS)}")
        persona = PERSONAS[persona]
    if n_loved < 1:
        raise ValueError(f"n_loved must be at least 1, got {n_loved}")
    if n_disliked < 0:
        raise ValueError(f"n_disliked must be at least 0, got {n_disliked}")
    missing = [g for g in (*persona.loved, *persona.disliked) if g not in dataset.genres]
    if missing:
        raise ValueError(
            f"persona {persona.name!r} needs genres {missing}, which {dataset.name!r} "
            f"does not have (its genres: {', '.join(dataset.genres) or 'none'}); pick "
            f"another persona or rate movies one by one"
        )

    items = _items_by_popularity(dataset)
    loved = set(persona.loved)
    disliked = set(persona.disliked)
    has_loved = items["genres"].map(lambda genres: bool(loved & set(genres)))
    has_disliked = items["genres"].map(lambda genres: bool(disliked & set(genres)))

    loved_ids = items.loc[has_loved & ~has_disliked, "item_id"].head(n_loved).tolist()
    if not loved_ids:
        raise ValueError(
            f"no movie in {dataset.name!r} has one of the genres {list(persona.loved)} "
            f"without one of {list(persona.disliked)}; pick another persona"
        )
    disliked_ids = items.loc[has_disliked & ~has_loved, "item_id"].head(n_disliked).tolist()

    ratings = {}
    for position, item in enumerate(loved_ids):
        ratings[int(item)] = LOVED_RATINGS[position % len(LOVED_RATINGS)]
    for position, item in enumerate(disliked_ids):
        ratings[int(item)] = DISLIKED_RATINGS[position % len(DISLIKED_RATINGS)]
    return ratings


def _items_by_popularity(dataset: Dataset):
    """Return the catalogue sorted by number of ratings, most rated first, then by id."""
    counts = dataset.ratings["item_id"].value_counts()
    items = dataset.items.assign(n_ratings=dataset.items["item_id"].map(counts).fillna(0))
    return items.sort_values(["n_ratings", "item_id"], ascending=[False, True],
                             kind="stable")
