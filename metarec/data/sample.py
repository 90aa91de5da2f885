"""A fictional movie catalogue in the MovieLens-100K layout, with a known rating model.

:func:`generate_sample` writes ``u.data``, ``u.item``, ``u.user``, ``u.genre``,
``u.occupation`` and a ``README.md``. Every value is drawn from
``numpy.random.default_rng(seed)``, so one seed always gives byte-identical files. The
ratings follow a planted model of genre tastes, biases and low-rank factors plus noise.
:func:`sample_tastes` returns the planted genre tastes, so that tests can check that a
model recovers them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .movielens import ML100K_GENRES, ML100K_OCCUPATIONS

MIN_USERS, MAX_USERS = 10, 10_000
MIN_ITEMS, MAX_ITEMS = 50, 5_000
MIN_RATINGS_PER_USER, MAX_RATINGS_PER_USER = 20, 120

# Users mostly rate films they expect to like, which lifts the mean rating by about 0.3
# over this offset, to about 3.5.
GLOBAL_MEAN = 3.2
USER_BIAS_SD, ITEM_BIAS_SD, NOISE_SD = 0.45, 0.45, 0.8
LATENT_DIM, LATENT_SD = 4, 0.4

# How strongly an item's quality bias and the user's taste for its genres raise the
# chance that the user rates the item. Both are exponents in the item's pick weight.
QUALITY_PULL, TASTE_PULL = 0.8, 1.5

# Scores at which a rating moves up one star. Rounding would cut at 1.5, 2.5, 3.5 and
# 4.5. These cuts are quantiles of the scores of seeds 0 to 3, chosen so that the shares
# of 1 to 5 stars come close to those in ML-100K's u.data (about 6, 11, 27, 34 and 21
# percent).
STAR_THRESHOLDS = (1.75, 2.45, 3.4, 4.5)

# The genres a sample movie can have: every ML-100K genre except "unknown".
_GENRES = ML100K_GENRES[1:]

# Relative genre frequencies, roughly those of the ML-100K catalogue, in _GENRES order.
_GENRE_FREQUENCY = np.array(
    [250, 135, 42, 122, 505, 109, 50, 725, 22, 24, 92, 56, 61, 247, 101, 251, 71, 27],
    dtype=float,
)

# How much more or less likely than average a group is to love a genre. Genres not named
# keep 1, and a dislike is drawn with the inverse weights.
_GENRE_AFFINITY = {
    "female": {"Romance": 1.8, "Musical": 1.6, "Drama": 1.4, "Children's": 1.4,
               "Action": 0.6, "War": 0.6, "Western": 0.6, "Sci-Fi": 0.7, "Horror": 0.8},
    "young": {"Animation": 1.5, "Horror": 1.5, "Comedy": 1.3, "Sci-Fi": 1.3,
              "Film-Noir": 0.5, "Western": 0.5, "War": 0.7},
    "older": {"Film-Noir": 2.0, "Western": 1.8, "War": 1.6, "Mystery": 1.4, "Drama": 1.3,
              "Animation": 0.5, "Horror": 0.6},
}
_YOUNG_BELOW_AGE, _OLDER_FROM_AGE = 25, 45

# Users per occupation in ML-100K (943 users), in ML100K_OCCUPATIONS order.
_OCCUPATION_COUNT = np.array(
    [79, 28, 7, 95, 67, 18, 32, 16, 7, 12, 51, 26, 9, 105, 66, 14, 12, 31, 196, 27, 45],
    dtype=float,
)

# The title patterns below form 5,560 distinct titles, more than MAX_ITEMS.
_ADJECTIVES = (
    "Crimson", "Silent", "Broken", "Golden", "Hidden", "Last", "Midnight", "Burning",
    "Frozen", "Distant", "Electric", "Savage", "Velvet", "Hollow", "Restless", "Wicked",
    "Lonely", "Scarlet", "Iron", "Paper", "Glass", "Wild", "Secret", "Endless", "Fallen",
    "Crooked", "Quiet", "Bitter", "Shining", "Lost", "Northern", "Eternal", "Invisible",
    "Reckless", "Sleeping", "Stolen", "Twisted", "Painted", "Final", "Blue",
)
_NOUNS = (
    "Orbit", "Harbor", "Empire", "Garden", "Shadow", "River", "Witness", "Dragon",
    "Stranger", "Kingdom", "Horizon", "Mirror", "Detective", "Frontier", "Promise",
    "Carnival", "Lighthouse", "Serpent", "Voyage", "Machine", "Island", "Bandit", "Angel",
    "Storm", "Castle", "Circus", "Sheriff", "Planet", "Melody", "Labyrinth", "Comet",
    "Outlaw", "Café", "Señorita", "Heart", "Signal", "Engine", "Orchard", "Echo", "Tide",
)
_PLACES = (
    "Paris", "Texas", "Brooklyn", "Tokyo", "Vienna", "Havana", "Mars", "Alaska",
    "Casablanca", "Venice", "Chicago", "Bombay", "Montana", "Lisbon", "Cairo", "Harlem",
    "Shanghai", "Nevada", "Berlin", "Rio",
)

# Written out because strftime's %b follows the locale.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
           "Dec")

# A movie's release year lies an exponentially distributed number of years, about 9 on
# average, before the last year, and never before the first.
_FIRST_YEAR, _LAST_YEAR, _MEAN_YEARS_BACK = 1950, 1997, 9.0

# Ratings fall in the ML-100K collection window, and every film is released before it.
_WINDOW_START = datetime(1997, 9, 20, tzinfo=timezone.utc)
_WINDOW_END = datetime(1998, 4, 22, tzinfo=timezone.utc)

_README_HEADING = "# metarec synthetic sample catalogue"
# Files of any layout that metarec reads, so that no one's data is overwritten.
_RATING_FILES = ("u.data", "u.item", "u.user", "ratings.dat", "movies.dat", "users.dat",
                 "ratings.csv", "items.csv", "users.csv")


@dataclass(frozen=True)
class _Simulation:
    """The tables one seed produces, and the genre tastes planted in them."""

    users: pd.DataFrame
    items: pd.DataFrame
    item_genres: np.ndarray
    ratings: pd.DataFrame
    tastes: np.ndarray


def generate_sample(out_dir, seed=0, n_users=500, n_items=400) -> Path:
    """Write a fictional movie catalogue in the MovieLens-100K layout.

    Parameters
    ----------
    out_dir : str or path-like
        Folder to write to, created when missing. Existing files are overwritten only
        when the folder contains no data files of a layout metarec reads (``u.data``,
        ``ratings.dat``, ``ratings.csv`` and the like), or when its ``README.md`` shows
        that this function wrote them.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``. The same seed writes byte-identical files.
    n_users : int, default 500
        Number of users, from 10 to 10,000.
    n_items : int, default 400
        Number of movies, from 50 to 5,000 and at most 20 times ``n_users``.

    Returns
    -------
    pathlib.Path
        The folder written, readable with
        :func:`metarec.data.movielens.load_movielens_100k`.

    Raises
    ------
    ValueError
        If an argument is not an integer in its range.
    FileExistsError
        If ``out_dir`` already contains ratings that this function did not write, such
        as the real MovieLens files.
    """
    simulation = _simulate(seed, n_users, n_items)

    out_dir = Path(out_dir).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    _reject_foreign_files(out_dir)

    files = {
        "u.data": _format_ratings(simulation.ratings),
        "u.item": _format_items(simulation.items, simulation.item_genres),
        "u.user": _format_users(simulation.users),
        "u.genre": "".join(f"{name}|{index}\n" for index, name in enumerate(ML100K_GENRES)),
        "u.occupation": "".join(f"{name}\n" for name in ML100K_OCCUPATIONS),
        "README.md": _format_readme(simulation, seed),
    }
    for name, text in files.items():
        encoding = "utf-8" if name == "README.md" else "latin-1"
        (out_dir / name).write_bytes(text.encode(encoding))
    return out_dir


def sample_tastes(seed=0, n_users=500, n_items=400) -> pd.DataFrame:
    """Return the genre tastes planted in the sample that the same arguments generate.

    Returns
    -------
    pandas.DataFrame
        One row per user (index ``user_id``) and one column per genre except
        ``"unknown"``. Loved genres have values from 0.7 to 1.3, disliked ones from -1.3
        to -0.7, and the others are drawn from a normal distribution with mean 0 and
        standard deviation 0.15. A rating's score gains the mean of the user's tastes
        over the movie's genres.
    """
    simulation = _simulate(seed, n_users, n_items)
    return pd.DataFrame(
        simulation.tastes,
        index=pd.Index(simulation.users["user_id"], name="user_id"),
        columns=list(_GENRES),
    )


def _simulate(seed, n_users, n_items) -> _Simulation:
    """Draw users, items and ratings from one generator, always in the same order."""
    _validate(seed, n_users, n_items)
    rng = np.random.default_rng(seed)

    users = _draw_users(rng, n_users)
    tastes = _draw_tastes(rng, users)
    items, item_genres = _draw_items(rng, n_items)
    user_bias = rng.normal(0.0, USER_BIAS_SD, n_users)
    user_factors = rng.normal(0.0, LATENT_SD, (n_users, LATENT_DIM))
    item_bias = rng.normal(0.0, ITEM_BIAS_SD, n_items)
    item_factors = rng.normal(0.0, LATENT_SD, (n_items, LATENT_DIM))

    # Better films are rated more often, on top of a lognormal spread of fame.
    popularity = np.exp(rng.normal(0.0, 1.0, n_items) + QUALITY_PULL * item_bias)
    genre_share = item_genres / item_genres.sum(axis=1, keepdims=True)
    user_index, item_index = _draw_rated_pairs(rng, popularity, genre_share, tastes)

    # The taste term is the user's mean taste over the movie's genres.
    score = (
        GLOBAL_MEAN
        + user_bias[user_index]
        + item_bias[item_index]
        + np.einsum("ij,ij->i", tastes[user_index], genre_share[item_index])
        + np.einsum("ij,ij->i", user_factors[user_index], item_factors[item_index])
        + rng.normal(0.0, NOISE_SD, len(user_index))
    )
    rating = 1 + np.digitize(score, STAR_THRESHOLDS)
    timestamp = _draw_timestamps(rng, user_index)

    ratings = pd.DataFrame({
        "user_id": user_index + 1,
        "item_id": item_index + 1,
        "rating": rating,
        "timestamp": timestamp,
    }).sort_values(["user_id", "timestamp"], kind="stable", ignore_index=True)
    return _Simulation(users, items, item_genres, ratings, tastes)


def _validate(seed, n_users, n_items):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    for name, value, low, high in (
        ("n_users", n_users, MIN_USERS, MAX_USERS),
        ("n_items", n_items, MIN_ITEMS, MAX_ITEMS),
    ):
        is_integer = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        if not is_integer or not low <= value <= high:
            raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")

    max_items = MIN_RATINGS_PER_USER * n_users
    if n_items > max_items:
        raise ValueError(
            f"n_items must be at most {MIN_RATINGS_PER_USER} * n_users ({max_items} for "
            f"n_users={n_users}) so that every movie can get a rating, got {n_items}"
        )


def _draw_users(rng, n_users) -> pd.DataFrame:
    """Draw ages, genders, occupations and zip codes with ML-100K-like frequencies."""
    age = np.clip(np.rint(14 + rng.gamma(2.5, 8.0, n_users)), 7, 73).astype(int)
    gender = np.where(rng.random(n_users) < 0.71, "M", "F")

    student = ML100K_OCCUPATIONS.index("student")
    retired = ML100K_OCCUPATIONS.index("retired")
    occupations = []
    for user_age in age:
        weights = _OCCUPATION_COUNT.copy()
        if user_age < 50:
            weights[retired] = 0.0
        if user_age < 23:
            weights[student] *= 6.0
        elif user_age >= 60:
            weights[retired] *= 15.0
            weights[student] *= 0.1
        index = rng.choice(len(weights), p=weights / weights.sum())
        occupations.append(ML100K_OCCUPATIONS[index])

    zip_code = rng.integers(0, 100_000, n_users)
    return pd.DataFrame({
        "user_id": np.arange(1, n_users + 1),
        "age": age,
        "gender": gender,
        "occupation": occupations,
        "zip_code": [f"{code:05d}" for code in zip_code],
    })


def _draw_tastes(rng, users) -> np.ndarray:
    """Draw each user's taste for every genre, shape ``(n_users, len(_GENRES))``.

    Two or three genres are loved (0.7 to 1.3) and two or three disliked (-1.3 to -0.7).
    Gender and age shift which ones, and the other genres get small noise.
    """
    n_genres = len(_GENRES)
    tastes = rng.normal(0.0, 0.15, (len(users), n_genres))
    for row, (age, gender) in enumerate(zip(users["age"], users["gender"])):
        n_loved, n_disliked = rng.integers(2, 4, size=2)
        love_weights = _love_weights(age, gender)
        loved = rng.choice(n_genres, n_loved, replace=False, p=love_weights / love_weights.sum())

        dislike_weights = 1.0 / love_weights
        dislike_weights[loved] = 0.0
        disliked = rng.choice(
            n_genres, n_disliked, replace=False, p=dislike_weights / dislike_weights.sum()
        )
        tastes[row, loved] = rng.uniform(0.7, 1.3, n_loved)
        tastes[row, disliked] = -rng.uniform(0.7, 1.3, n_disliked)
    return tastes


def _love_weights(age, gender) -> np.ndarray:
    """Return the relative chance that a user of this age and gender loves each genre."""
    groups = []
    if gender == "F":
        groups.append("female")
    if age < _YOUNG_BELOW_AGE:
        groups.append("young")
    elif age >= _OLDER_FROM_AGE:
        groups.append("older")

    weights = np.ones(len(_GENRES))
    for group in groups:
        for genre, factor in _GENRE_AFFINITY[group].items():
            weights[_GENRES.index(genre)] *= factor
    return weights


def _draw_items(rng, n_items):
    """Draw unique titles, release dates and one to three genres per movie.

    Returns the item table (``item_id``, ``title``, ``release_date``) and a 0/1 genre
    matrix of shape ``(n_items, len(_GENRES))``.
    """
    item_genres = np.zeros((n_items, len(_GENRES)), dtype=int)
    genre_p = _GENRE_FREQUENCY / _GENRE_FREQUENCY.sum()
    genre_counts = rng.choice([1, 2, 3], size=n_items, p=[0.5, 0.35, 0.15])
    for row, count in enumerate(genre_counts):
        item_genres[row, rng.choice(len(_GENRES), count, replace=False, p=genre_p)] = 1

    years_back = np.floor(rng.exponential(_MEAN_YEARS_BACK, n_items)).astype(int)
    years = np.maximum(_LAST_YEAR - years_back, _FIRST_YEAR)
    fractions = rng.random(n_items)
    release_dates = [_release_date(year, fraction) for year, fraction in zip(years, fractions)]

    candidates = _candidate_titles()
    chosen = rng.choice(len(candidates), size=n_items, replace=False)
    titles = [f"{candidates[index]} ({year})" for index, year in zip(chosen, years)]

    items = pd.DataFrame({
        "item_id": np.arange(1, n_items + 1),
        "title": titles,
        "release_date": release_dates,
    })
    return items, item_genres


def _release_date(year, fraction) -> date:
    """Return the day ``fraction`` of the way through ``year``, before the rating window."""
    first = date(year, 1, 1)
    last = min(date(year, 12, 31), _WINDOW_START.date() - timedelta(days=1))
    return first + timedelta(days=int(fraction * ((last - first).days + 1)))


def _candidate_titles() -> list[str]:
    """List every title, without year, that the word lists form, each once."""
    titles = [f"The {adjective} {noun}"
              for adjective, noun in itertools.product(_ADJECTIVES, _NOUNS)]
    titles += [f"{first} of the {second}"
               for first, second in itertools.permutations(_NOUNS, 2)]
    for noun, place in itertools.product(_NOUNS, _PLACES):
        article = "An" if noun[0] in "AEIOU" else "A"
        titles.append(f"{article} {noun} in {place}")
    titles += [f"The {noun} of {place}" for noun, place in itertools.product(_NOUNS, _PLACES)]
    titles += [f"{adjective} {place}"
               for adjective, place in itertools.product(_ADJECTIVES, _PLACES)]
    return titles


def _draw_rated_pairs(rng, popularity, genre_share, tastes):
    """Choose the items each user rates and return the ``(user, item)`` index arrays.

    Users rate 20 to 120 items, with a long tail toward the maximum, but never more than
    half the catalogue. An item's pick weight is its popularity times
    ``exp(TASTE_PULL * mean taste over its genres)``. Each item with no picks then
    replaces one random pick of an item picked more than once, so every item has at
    least one rating and every user keeps their count. Such a pick exists because
    ``_validate`` keeps ``n_items`` at most ``MIN_RATINGS_PER_USER * n_users``.
    """
    n_users, n_items = len(tastes), len(popularity)
    max_per_user = min(MAX_RATINGS_PER_USER, n_items // 2)
    extra = np.rint(rng.lognormal(np.log(40.0), 0.6, n_users)).astype(int)
    counts = np.minimum(MIN_RATINGS_PER_USER + extra, max_per_user)

    chosen = []
    for user in range(n_users):
        weights = popularity * np.exp(TASTE_PULL * (genre_share @ tastes[user]))
        picks = rng.choice(n_items, counts[user], replace=False, p=weights / weights.sum())
        chosen.append(list(picks))

    user_index = np.repeat(np.arange(n_users), counts)
    item_index = np.fromiter(itertools.chain.from_iterable(chosen), dtype=int)

    times_rated = np.bincount(item_index, minlength=n_items)
    for item in np.flatnonzero(times_rated == 0):
        replaced = rng.choice(np.flatnonzero(times_rated[item_index] > 1))
        times_rated[item_index[replaced]] -= 1
        item_index[replaced] = item
        times_rated[item] = 1
    return user_index, item_index


def _draw_timestamps(rng, user_index) -> np.ndarray:
    """Draw Unix times inside the rating window, strictly increasing for each user.

    A user rates in sessions, so most gaps are about a minute and one gap in twenty is a
    break of about five days. ``user_index`` must be grouped by user.
    """
    window_start = int(_WINDOW_START.timestamp())
    window = int((_WINDOW_END - _WINDOW_START).total_seconds())

    n_ratings = len(user_index)
    long_break = rng.random(n_ratings) < 0.05
    gaps = np.where(long_break, rng.exponential(5 * 86_400, n_ratings),
                    rng.exponential(60, n_ratings))
    gaps = 1 + np.floor(gaps)
    start_fraction = rng.random(user_index[-1] + 1)

    timestamps = np.empty(n_ratings, dtype=np.int64)
    boundaries = np.flatnonzero(np.diff(user_index)) + 1
    for user, rows in enumerate(np.split(np.arange(n_ratings), boundaries)):
        offsets = np.cumsum(gaps[rows]) - gaps[rows[0]]
        span = offsets[-1]
        if span > window - len(rows):
            # Squeeze the sessions into the window. Adding the row number keeps the times
            # strictly increasing after rounding down.
            offsets = np.floor(offsets * (window - len(rows)) / span) + np.arange(len(rows))
            span = offsets[-1]
        timestamps[rows] = window_start + int(start_fraction[user] * (window - span)) + offsets
    return timestamps


def _reject_foreign_files(out_dir: Path):
    """Raise FileExistsError if ``out_dir`` contains ratings files not written here."""
    present = [name for name in _RATING_FILES if (out_dir / name).exists()]
    if not present:
        return
    readme = out_dir / "README.md"
    if readme.is_file() and readme.read_text(encoding="utf-8").startswith(_README_HEADING):
        return
    raise FileExistsError(
        f"{out_dir} already contains {', '.join(present)}, and no README.md marks it as a "
        f"metarec sample, so it may be real data. Pass a new or empty folder."
    )


def _format_ratings(ratings) -> str:
    rows = ratings[["user_id", "item_id", "rating", "timestamp"]].itertuples(index=False)
    return "".join(f"{user}\t{item}\t{rating}\t{time}\n" for user, item, rating, time in rows)


def _format_items(items, item_genres) -> str:
    lines = []
    for (item_id, title, release), flags in zip(items.itertuples(index=False), item_genres):
        released = f"{release.day:02d}-{_MONTHS[release.month - 1]}-{release.year}"
        # The leading 0 is the flag of ML-100K's "unknown" genre. Video date and URL
        # stay empty.
        lines.append(f"{item_id}|{title}|{released}|||0|{'|'.join(map(str, flags))}\n")
    return "".join(lines)


def _format_users(users) -> str:
    rows = users.itertuples(index=False)
    return "".join(f"{user}|{age}|{gender}|{job}|{code}\n"
                   for user, age, gender, job, code in rows)


def _format_readme(simulation, seed) -> str:
    ratings = simulation.ratings
    n_users, n_items = len(simulation.users), len(simulation.items)
    years = simulation.items["release_date"].map(lambda day: day.year)
    nineties = years.between(1990, 1999).mean()
    stars = ratings["rating"].value_counts().reindex(range(1, 6), fill_value=0)
    per_user = ratings.groupby("user_id").size()
    shares = ", ".join(f"{star}: {count / len(ratings):.1%}" for star, count in stars.items())
    if (n_users, n_items) == (500, 400):
        command = f"python -m metarec generate-sample --out sample_data --seed {seed}"
    else:
        command = (
            f"python -c \"from metarec.data.sample import generate_sample; "
            f"generate_sample('sample_data', seed={seed}, n_users={n_users}, "
            f"n_items={n_items})\""
        )
    return f"""{_README_HEADING}

This folder is synthetic data generated by metarec's own code (`metarec/data/sample.py`).
It contains no MovieLens rows, because the users, movie titles and ratings are all
invented. The files follow the MovieLens-100K layout (`u.data`, `u.item`, `u.user`, `u.genre`,
`u.occupation`), so `metarec.data.movielens.load_movielens_100k` reads them like the
real dataset.

Contents: {len(ratings):,} ratings from {n_users:,} users on {n_items:,} movies, seed {seed}.
Share of each star: {shares}.

Regenerate it with

    {command}

The same seed always writes byte-identical files.

## How the ratings were made

- Each user loves two or three genres and dislikes two or three others. Women, people
  under {_YOUNG_BELOW_AGE} and people aged {_OLDER_FROM_AGE} or over lean toward different genres, so age
  and gender carry a little signal.
- Each user has a bias, because some people rate generously and some harshly. Each
  movie has a quality bias. Users and movies each get a hidden vector of {LATENT_DIM} numbers.
- A movie has one to three genres and a release year from {_FIRST_YEAR} to {_LAST_YEAR}, with
  {nineties:.0%} of them in the 1990s.
- Each user rates {per_user.min()} to {per_user.max()} movies, {per_user.median():g} in the median, with a long tail
  toward the maximum. Popular and well-made movies are picked more often, and so are
  movies in genres the user likes, because people mostly watch what they expect to enjoy.
  Every movie has at least one rating.
- A rating's score is {GLOBAL_MEAN} plus the user bias, the movie bias, the user's mean taste
  over the movie's genres, the dot product of the two hidden vectors and Gaussian
  noise. The score becomes 1 to 5 stars at the cuts
  {", ".join(f"{cut:g}" for cut in STAR_THRESHOLDS)}, which are set so that the shares of
  stars resemble MovieLens-100K.
- Timestamps fall between 20 September 1997 and 22 April 1998, in rating sessions.
"""
