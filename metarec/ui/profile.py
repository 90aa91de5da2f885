"""Widgets that collect a new user's profile: ratings, a persona and demographics.

Every function takes the page's ``prefix``, so that what a person enters lives in
``st.session_state`` under keys of that page. The ratings are a plain dict there, not
widget state, so they survive reruns and page switches.
"""

from __future__ import annotations

import streamlit as st

from ..data import Dataset
from .personas import PERSONAS, persona_ratings

# "" stands for "not given": a None option comes back as an empty selectbox after a page
# switch, because Streamlit restores a None value as "no selection".
NOT_GIVEN = ""
GENDERS = {NOT_GIVEN: "not given", "F": "female", "M": "male"}


def ratings_for(dataset: Dataset, prefix: str) -> dict:
    """Return the person's ``{item_id: rating}`` for ``dataset``, kept for the session.

    Each data folder has its own ratings, because item ids differ between catalogues.
    """
    by_source = st.session_state.setdefault(f"{prefix}.ratings", {})
    return by_source.setdefault(dataset.source, {})


def _stars(dataset: Dataset) -> list[int]:
    low, high = dataset.rating_scale
    return list(range(int(low), int(high) + 1))


def _labels(dataset: Dataset) -> dict[int, str]:
    """Return ``Title (year) · Genre, Genre`` for every item id."""
    return {
        int(item): f"{title} · {', '.join(genres) or 'no genre'}"
        for item, title, genres in zip(dataset.items["item_id"], dataset.items["title"],
                                       dataset.items["genres"])
    }


def movie_search_controls(dataset: Dataset, ratings: dict, prefix: str):
    """Draw a title search, a movie choice and its stars, and add the rating on request."""
    labels = _labels(dataset)
    stars = _stars(dataset)
    query = st.text_input("Search titles", key=f"{prefix}.search", persist_state="session",
                          placeholder="part of a title, e.g. the").strip().lower()
    matches = [item for item, title in dataset.item_titles().items() if query in title.lower()]
    if not matches:
        st.info(f"No title contains {query!r}.")
        return

    count = f"{len(matches):,} match" + ("" if len(matches) == 1 else "es")
    item = st.selectbox(f"Movie ({count})", matches, format_func=labels.get,
                        key=f"{prefix}.movie")
    rating = st.segmented_control("Your rating", stars, default=stars[-2],
                                  format_func=lambda s: f"{s} ★", key=f"{prefix}.stars")
    if st.button("Add rating", disabled=rating is None):
        ratings[int(item)] = float(rating)


def persona_controls(dataset: Dataset, ratings: dict, prefix: str):
    """Draw a persona choice and add its ratings on request, keeping the person's own."""
    name = st.selectbox("Persona", list(PERSONAS), key=f"{prefix}.persona",
                        persist_state="session")
    persona = PERSONAS[name]
    st.caption(f"Loves {', '.join(persona.loved)}. Dislikes {', '.join(persona.disliked)}. "
               "Adds 5 and 4 stars to the most rated movies of the loved genres and 1 and "
               "2 stars to a few of the disliked ones.")
    if st.button("Add this persona's ratings"):
        try:
            ratings.update(persona_ratings(dataset, persona))
        except ValueError as error:
            st.error(str(error))


def ratings_list(dataset: Dataset, ratings: dict, prefix: str):
    """Draw every rating with stars to change it and a button to remove it."""
    labels = _labels(dataset)
    stars = _stars(dataset)
    low, high = dataset.rating_scale

    def change(item_id, widget_key):
        # Clicking the chosen star again clears the control, but the rating stays.
        if st.session_state[widget_key] is not None:
            ratings[item_id] = float(st.session_state[widget_key])

    head, clear = st.columns([5, 1], vertical_alignment="bottom")
    head.subheader(f"Your ratings ({len(ratings)})")
    clear.button("Clear all", disabled=not ratings, on_click=ratings.clear, width="stretch")
    if not ratings:
        st.info("No ratings yet. Rate at least one movie, or add a persona's ratings, to "
                "see recommendations.")

    for item_id, value in list(ratings.items()):
        title_column, stars_column, remove_column = st.columns(
            [5, 3, 1], vertical_alignment="center")
        title_column.write(labels.get(item_id, f"item {item_id}"))
        if value in stars:
            # The control is set from the ratings on every run, so that a persona or a
            # new rating of the same movie shows here at once.
            widget_key = f"{prefix}.rating.{item_id}"
            st.session_state[widget_key] = int(value)
            stars_column.segmented_control(
                f"Rating of item {item_id}", stars, key=widget_key,
                label_visibility="collapsed", format_func=lambda s: f"{s} ★",
                on_change=change, args=(item_id, widget_key))
        else:
            stars_column.warning(f"{value:g} is not one of the stars {low:g} to {high:g}")
        remove_column.button("Remove", key=f"{prefix}.remove.{item_id}",
                             on_click=ratings.pop, args=(item_id, None), width="stretch")


def demographics_controls(dataset: Dataset, prefix: str) -> dict:
    """Draw the optional demographics and return the fields the person filled in."""
    age_column, gender_column, job_column, zip_column = st.columns(4)
    age = age_column.number_input("Age", min_value=1, max_value=120, value=None, step=1,
                                  key=f"{prefix}.age", persist_state="session")
    gender = gender_column.selectbox("Gender", list(GENDERS), format_func=GENDERS.get,
                                     key=f"{prefix}.gender", persist_state="session")
    occupation = job_column.selectbox(
        "Occupation", [NOT_GIVEN, *dataset.occupations], key=f"{prefix}.occupation",
        persist_state="session", format_func=lambda o: o or "not given")
    zip_code = zip_column.text_input("Zip code", max_chars=10, key=f"{prefix}.zip",
                                     persist_state="session")

    user = {"age": age, "gender": gender, "occupation": occupation,
            "zip_code": zip_code.strip()}
    return {field: value for field, value in user.items() if value not in (None, "")}
