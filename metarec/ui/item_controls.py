"""Widgets that describe a new item and collect its first ratings.

Every function takes the page's ``prefix``, so that what a person enters lives in
``st.session_state`` under keys of that page. The ratings are a plain dict there, not
widget state, so they survive reruns and page switches.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from ..data import Dataset
from ..data.features import age_text
from ..serving.items import MAX_YEAR, MIN_YEAR
from .item_audience import PRESETS, audience_ratings, available_presets, preset_genres
from .personas import item_noun
from .profile import clear_button

DEFAULT_TITLE = "Starfall Academy"
TITLE_MISSING = "Type the item's title."
# MovieLens-100K's genre for films with none, compared in lower case.
UNKNOWN_GENRE = "unknown"
DEFAULT_DESCRIPTION = ("Teenage cadets at an orbital flight school uncover an alien signal "
                       "and must fly a stolen starship to answer it.")


def item_ratings_for(dataset: Dataset, prefix: str) -> dict:
    """Return the new item's ``{user_id: rating}`` for ``dataset``, kept for the session."""
    by_source = st.session_state.setdefault(f"{prefix}.ratings", {})
    return by_source.setdefault(dataset.source, {})


def user_label(users, user_id, age_bands=False) -> str:
    """Return ``user 42 · 25 M student`` for a row of the users frame, indexed by user id.

    The id is the dataset's own (``original_id``, such as ``uc002`` in a CSV of your
    own) where the frame has one, without the word "user" in front when the id already
    starts with it (``user-o14``). Fields the data lacks (own ratings without a users
    CSV) are left out. With ``age_bands`` (MovieLens-1M), the age shows as its band,
    such as ``user 42 · 18-24 M student``.
    """
    row = users.loc[user_id]
    original = row.get("original_id")
    id_text = str(user_id if original is None or original != original else original)
    parts = [id_text if id_text.lower().startswith("user") else f"user {id_text}"]
    age = row.get("age")
    details = [age_text(age, age_bands) or "",
               *(str(row.get(field) or "") for field in ("gender", "occupation"))]
    details = [d for d in details if d and d.lower() not in ("nan", "none", "unknown")]
    if details:
        parts.append(" ".join(details))
    return " · ".join(parts)


def _stars(value: float) -> str:
    return f"{value:g} star" + ("" if value == 1 else "s")


def year_label(dataset: Dataset) -> str:
    """Return "Release year" for a movie catalogue, else "Year"."""
    return "Release year" if item_noun(dataset) == "movie" else "Year"


def default_year(dataset: Dataset) -> int | None:
    """Return the newest year in the catalogue, the likeliest for a new item.

    None when no item has a year: the field then starts empty, and the models score
    the item without one.
    """
    years = dataset.items["year"].dropna() if "year" in dataset.items else ()
    years = [y for y in years if MIN_YEAR <= y <= MAX_YEAR]
    return int(max(years)) if years else None


def year_problem(year, label="Release year") -> str | None:
    """Return a message when ``year`` is outside the years the models accept, else None."""
    if year is None or MIN_YEAR <= year <= MAX_YEAR:
        return None
    return (f"{label} {year:g} is outside the allowed range, {MIN_YEAR} to "
            f"{MAX_YEAR}. Type a year in that range.")


def item_content_controls(dataset: Dataset, prefix: str) -> dict:
    """Draw the title, genres, year and description, and return them as a dict.

    An empty title shows a message under the Title field and returns ``title`` as "".
    A year out of range shows a message under the Year field and returns ``problem``,
    which is None when every field is valid.
    """
    # The year column is wide enough for "Press Enter to apply" beside a 4-digit year.
    title_column, year_column = st.columns([2, 1])
    title = title_column.text_input("Title", value=DEFAULT_TITLE, key=f"{prefix}.title",
                                    persist_state="session", max_chars=200,
                                    placeholder="required, e.g. " + DEFAULT_TITLE)
    if not title.strip():
        title_column.error(TITLE_MISSING, icon=":material/error:")
    # No min_value or max_value: out of range, Streamlit turns the field red with no
    # message, so the range is checked here and explained.
    label = year_label(dataset)
    # The widget's own default is None, because the browser snaps a cleared field back to
    # a numeric default, and then an unknown year could not be entered. The first run
    # fills in the catalogue's newest year instead.
    year_key = f"{prefix}.year"
    if year_key not in st.session_state:
        st.session_state[year_key] = default_year(dataset)
    year = year_column.number_input(label, value=None, step=1, key=year_key,
                                    persist_state="session", placeholder="unknown",
                                    help=f"From {MIN_YEAR} to {MAX_YEAR}. Clear the field "
                                         f"if the year is unknown.")
    problem = year_problem(year, label)
    if problem:
        year_column.error(problem, icon=":material/error:")
    # No default genres: a preset genre that a person leaves unchanged would pick the
    # audience for them. The placeholder shows what to choose.
    # The most common genres as examples, because the first ones can be "unknown".
    examples = ", ".join(dataset.items["genres"].explode().dropna().value_counts()
                         .index[:2].astype(str))
    # ML-100K marks films with no genre as "unknown". It stays an option, last and
    # explained, for describing such an item as the data does.
    options = sorted(dataset.genres, key=lambda g: str(g).lower() == UNKNOWN_GENRE)
    genres = st.multiselect("Genres", options, default=[], format_func=genre_label,
                            key=f"{prefix}.genres", persist_state="session",
                            placeholder=f"optional, e.g. {examples}" if examples
                            else "this data has no genres",
                            help="Leave empty if none fits. The variants then predict "
                                 "from the title, year and description, and genre-mean "
                                 "from the mean of all items.")
    description = st.text_area(
        "Description", value=DEFAULT_DESCRIPTION, key=f"{prefix}.description",
        persist_state="session", max_chars=5000, height=100,
        help="Plain text about the item. The teacher reads it through a pretrained "
             "sentence encoder (all-MiniLM-L6-v2); the other variants use the title "
             "words, genres and year.")
    return {"title": title.strip(), "genres": list(genres),
            "year": None if year is None else float(year),
            "description": description.strip() or None, "problem": problem}


def genre_label(genre) -> str:
    """Return how the genre picker names ``genre``, explaining the data's "unknown"."""
    if str(genre).lower() == UNKNOWN_GENRE:
        return f"{genre} (the data's mark for items with no genre)"
    return str(genre)


def user_rating_controls(dataset: Dataset, ratings: dict, prefix: str):
    """Draw a user choice and stars, and add that user's rating on request."""
    users = dataset.users.set_index("user_id")
    low, high = dataset.rating_scale
    stars = list(range(int(low), int(high) + 1))
    user = st.selectbox("User", list(users.index), key=f"{prefix}.user",
                        format_func=lambda u: user_label(users, u, dataset.age_bands))
    # required: clicking the chosen star again keeps it instead of clearing the choice.
    rating = st.segmented_control("Their rating", stars, default=stars[-2], required=True,
                                  format_func=lambda s: f"{s} ★", key=f"{prefix}.stars")
    if st.button("Add rating", disabled=rating is None):
        before = ratings.get(int(user))
        ratings[int(user)] = float(rating)
        if before is None:
            return
        label = user_label(users, user, dataset.age_bands)
        if before == float(rating):
            st.toast(f"No change: {label} already rated the item with {_stars(before)}.")
        else:
            st.toast(f"Changed the rating of {label} from {before:g} to "
                     f"{_stars(float(rating))}.")


def audience_controls(dataset: Dataset, ratings: dict, prefix: str):
    """Draw a synthetic audience choice and add its ratings on request."""
    names = available_presets(dataset)
    if not names:
        st.info(f"Every synthetic audience likes genres that {dataset.name!r} lacks. Add "
                "ratings from chosen users instead.")
        return
    name = st.selectbox("Audience", names, key=f"{prefix}.audience",
                        persist_state="session")
    preset = PRESETS[name]
    st.caption(replace(preset, genres=preset_genres(dataset, preset)).describe(
        dataset.age_bands, dataset.rating_scale))
    if st.button("Add this audience's ratings"):
        try:
            ratings.update(audience_ratings(dataset, name))
        except ValueError as error:
            message = str(error)
            st.error(message[:1].upper() + message[1:])


def item_ratings_list(dataset: Dataset, ratings: dict, prefix: str):
    """Draw every rating of the new item with a button to remove it."""
    users = dataset.users.set_index("user_id")
    head, clear = st.columns([5, 1], vertical_alignment="bottom")
    head.subheader(f"Ratings of the new item ({len(ratings)})")
    clear_button(clear, ratings, f"{prefix}.clear")
    if not ratings:
        st.info("No ratings yet: every variant predicts from the item's content alone. "
                "Add ratings to watch the variants adapt.")
    for user_id, value in list(ratings.items()):
        label_column, stars_column, remove_column = st.columns([5, 2, 1],
                                                               vertical_alignment="center")
        label = (user_label(users, user_id, dataset.age_bands) if user_id in users.index
                 else f"user {user_id}")
        label_column.write(label)
        stars_column.write(f"{value:g} ★")
        remove_column.button("Remove", key=f"{prefix}.remove.{user_id}", on_click=ratings.pop,
                             args=(user_id, None), width="stretch")
