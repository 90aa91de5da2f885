"""Widgets that collect a new user's profile: ratings, a persona, demographics, files.

Every function takes the page's ``prefix``, so that what a person enters lives in
``st.session_state`` under keys of that page. The ratings are a plain dict there, not
widget state, so they survive reruns and page switches.
"""

from __future__ import annotations

import unicodedata

import streamlit as st

from ..data import Dataset
from ..data.dataset import stars_text
from ..data.features import ZIP_REGIONS
from ..serving.recommender import MAX_AGE, MIN_AGE
from .personas import (DISLIKED_RATINGS, LOVED_RATINGS, PERSONAS, available_personas,
                       item_noun, persona_genres, persona_ratings)
from .profile_io import (Profile, ProfileError, changed_ratings, changes_text, merge_summary,
                         profile_csv, profile_json, read_profile)

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
    matches = title_matches(dataset.item_titles(), query)
    if not matches:
        in_any_order = ", even with its words in another order" if len(query.split()) > 1 \
            else ""
        st.info(f"No title contains {query!r}{in_any_order}.")
        return

    count = f"{len(matches):,} match" + ("" if len(matches) == 1 else "es")
    item = st.selectbox(f"{item_noun(dataset).capitalize()} ({count})", matches,
                        format_func=labels.get,
                        key=f"{prefix}.movie")
    # required: clicking the chosen star again keeps it instead of clearing the choice.
    rating = st.segmented_control("Your rating", stars, default=stars[-2], required=True,
                                  format_func=lambda s: f"{s} ★", key=f"{prefix}.stars")
    if st.button("Add rating", disabled=rating is None):
        before = ratings.get(int(item))
        ratings[int(item)] = float(rating)
        if before is not None and before != float(rating):
            st.toast(f"Changed your rating of {labels.get(item, item)} from {before:g} to "
                     f"{float(rating):g} stars.")
        elif before is not None:
            st.toast(f"No change: you already rated {labels.get(item, item)} with "
                     f"{before:g} stars.")


def title_matches(titles: dict, query: str) -> list:
    """Return the ids of ``titles`` ({item_id: title}) that contain every word of ``query``.

    Words match in any order, ignoring case and accents, so "senorita" finds
    "Señorita" and "tokyo 1987" finds "A Shadow in Tokyo (1987)". An empty query
    matches every title.
    """
    words = _folded(query).split()
    return [item for item, title in titles.items()
            if all(word in _folded(title) for word in words)]


def _folded(text: str) -> str:
    """Return ``text`` case-folded, without accents: "Señorita" becomes "senorita"."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


def persona_controls(dataset: Dataset, ratings: dict, prefix: str):
    """Draw a persona choice and add its ratings on request, keeping the person's own."""
    noun = item_noun(dataset)
    if not len(dataset.genres):
        st.info(f"Personas pick {noun}s by genre, and {dataset.name!r} has no genres. Rate "
                f"{noun}s above instead, or upload an items CSV with a genres column.")
        return
    names = available_personas(dataset)
    if not names:
        st.info(f"Every persona loves genres that {dataset.name!r} has too few {noun}s of "
                f"(its genres: {', '.join(dataset.genres)}). Rate {noun}s above instead.")
        return
    name = st.selectbox("Persona", names, key=f"{prefix}.persona", persist_state="session")
    loved, disliked = persona_genres(dataset, PERSONAS[name])
    dislikes = f"Dislikes {', '.join(disliked)}. " if disliked else ""
    scale = dataset.rating_scale
    st.caption(f"Loves {', '.join(loved)}. {dislikes}Adds {stars_text(LOVED_RATINGS, scale)} "
               f"stars to much-rated {noun}s mostly of the loved genres"
               + (f" and {stars_text(DISLIKED_RATINGS, scale)} stars to a few mostly of the "
                  "disliked ones." if disliked else "."))
    if st.button("Add this persona's ratings",
                 help=f"Adds to the ratings already in the list; {noun}s you have rated "
                      "keep your rating."):
        try:
            added, already_rated = add_persona_ratings(ratings,
                                                       persona_ratings(dataset, name))
        except ValueError as error:
            st.error(str(error))
        else:
            st.toast(persona_summary(name, added, already_rated, noun))


def add_persona_ratings(ratings: dict, persona: dict) -> tuple[int, int]:
    """Add ``persona``'s ratings to ``ratings``, keeping those already there.

    Returns how many were added and how many of the persona's items kept the rating in
    ``ratings``, whether the person or an earlier persona gave it.
    """
    already_rated = sum(item in ratings for item in persona)
    for item, rating in persona.items():
        ratings.setdefault(item, rating)
    return len(persona) - already_rated, already_rated


def persona_summary(name: str, added: int, already_rated: int, noun: str) -> str:
    """Say what adding persona ``name`` changed."""
    text = f"{name}: added {added} rating{'' if added == 1 else 's'}."
    if already_rated == 1:
        text += f" 1 of its {noun}s was already rated and keeps that rating."
    elif already_rated:
        text += (f" {already_rated} of its {noun}s were already rated and keep those "
                 "ratings.")
    return text


def clear_button(column, ratings: dict, key: str):
    """Draw "Clear all" in ``column``; right after a clear, an undo button in its place.

    The cleared ratings are kept in the session until the person rates again, so one
    click cannot lose a profile that took minutes to enter.
    """
    saved_key = f"{key}.cleared"

    def clear():
        st.session_state[saved_key] = dict(ratings)
        ratings.clear()

    def undo():
        ratings.update(st.session_state.pop(saved_key, {}))

    saved = st.session_state.get(saved_key)
    if saved and not ratings:
        column.button(f"Undo clear ({len(saved)})", key=f"{key}.undo", on_click=undo,
                      width="stretch", help="Bring back the ratings that Clear all removed.")
        return
    st.session_state.pop(saved_key, None)
    column.button("Clear all", key=key, disabled=not ratings, on_click=clear, width="stretch")


def ratings_list(dataset: Dataset, ratings: dict, prefix: str):
    """Draw every rating with stars to change it and a button to remove it."""
    labels = _labels(dataset)
    titles = dataset.item_titles()
    stars = _stars(dataset)
    low, high = dataset.rating_scale

    def change(item_id, widget_key):
        # Clicking the chosen star again clears the control, but the rating stays.
        if st.session_state[widget_key] is not None:
            ratings[item_id] = float(st.session_state[widget_key])

    head, clear = st.columns([5, 1], vertical_alignment="bottom")
    head.subheader(f"Your ratings ({len(ratings)})")
    clear_button(clear, ratings, f"{prefix}.clear")
    if not ratings:
        st.info(f"No ratings yet. Rate at least one {item_noun(dataset)}, or add a "
                "persona's ratings, to see recommendations.")

    for item_id, value in list(ratings.items()):
        # A wrapping row, not columns, because in a fixed share of the width the stars
        # scrolled out of sight at 1280 px. Here the title takes the space they leave.
        row = st.container(horizontal=True, vertical_alignment="center")
        row.markdown(labels.get(item_id, f"item {item_id}"), width="stretch")
        if value in stars:
            # The control is set from the ratings on every run, so that a persona or a
            # new rating of the same movie shows here at once.
            widget_key = f"{prefix}.rating.{item_id}"
            st.session_state[widget_key] = int(value)
            # The label is hidden but names the star group for screen readers.
            title = titles.get(item_id, f"item {item_id}")
            row.segmented_control(
                f"Rating of {title}", stars, key=widget_key,
                label_visibility="collapsed", format_func=lambda s: f"{s} ★",
                on_change=change, args=(item_id, widget_key), width="content", wrap=True)
        else:
            row.warning(f"{value:g} is not one of the stars {low:g} to {high:g}")
        row.button("Remove", key=f"{prefix}.remove.{item_id}",
                   on_click=ratings.pop, args=(item_id, None))


def demographics_controls(dataset: Dataset, prefix: str) -> dict:
    """Draw the optional demographics and return the fields the person filled in.

    The zip code field is left out when no user of ``dataset`` has one, because the
    models then learned nothing from it.
    """
    zip_codes = dataset.users.get("zip_code")
    has_zip = zip_codes is not None and zip_codes.fillna("").astype(str).str.strip().ne(
        "").any()
    columns = st.columns(4 if has_zip else 3)
    age_column, gender_column, job_column = columns[:3]
    # No min_value or max_value: with them the browser keeps an age out of range in the
    # box without sending it, so the page could not say why it was left out.
    age = age_column.number_input("Age", value=None, step=1, key=f"{prefix}.age",
                                  persist_state="session",
                                  help=f"Whole years, {MIN_AGE} to {MAX_AGE}.")
    gender = gender_column.selectbox("Gender", list(GENDERS), format_func=GENDERS.get,
                                     key=f"{prefix}.gender", persist_state="session")
    occupation = job_column.selectbox(
        "Occupation", [NOT_GIVEN, *dataset.occupations], key=f"{prefix}.occupation",
        persist_state="session", format_func=lambda o: o or "not given")
    zip_code = ""
    if has_zip:
        zip_code = columns[3].text_input("Zip code", max_chars=10, key=f"{prefix}.zip",
                                         persist_state="session",
                                         help="Only its first digit counts: the models read "
                                              "it as a region, as in the data's zip codes.")

    if age is not None and not MIN_AGE <= age <= MAX_AGE:
        st.error(f"Age {age:g} is outside {MIN_AGE} to {MAX_AGE}, so the models leave it "
                 f"out. Type an age from {MIN_AGE} to {MAX_AGE}, or clear the field.")
        age = None
    zip_code = zip_code.strip()
    if zip_code and zip_code[0] not in ZIP_REGIONS:
        st.warning(f"Zip code {zip_code!r} does not start with a digit, so the models read "
                   "its region as unknown. Type a zip code such as 55105, or clear the "
                   "field.")
    user = {"age": age, "gender": gender, "occupation": occupation, "zip_code": zip_code}
    return {field: value for field, value in user.items() if value not in (None, "")}


def profile_file_controls(dataset: Dataset, ratings: dict, user: dict, prefix: str):
    """Draw downloads of the profile and an upload that loads one back.

    A file that cannot be read shows why and leaves the ratings as they are. A readable
    one is applied only when the person chooses to replace or extend their ratings.
    """
    save, load = st.columns(2, gap="large")
    with save:
        st.markdown("**Save your profile**")
        st.caption("JSON keeps your ratings and the optional fields about you; CSV keeps "
                   "the ratings only.")
        json_column, csv_column = st.columns(2)
        noun = item_noun(dataset)
        # The files are written only when a button is pressed, not on every rerun.
        json_column.download_button(
            "Download JSON", lambda: profile_json(dataset, ratings, user),
            "metarec-profile.json", mime="application/json",
            disabled=not ratings and not user, on_click="ignore", width="stretch",
            help=None if ratings or user else f"Rate a {noun} or fill in a field about "
                                              "you first.")
        csv_column.download_button(
            "Download CSV", lambda: profile_csv(dataset, ratings), "metarec-profile.csv",
            mime="text/csv", disabled=not ratings, on_click="ignore", width="stretch",
            help=None if ratings else f"Rate a {noun} first: a CSV profile keeps only "
                                      "the ratings.")
    with load:
        upload = st.file_uploader("Load a profile (.json or .csv)", type=["json", "csv"],
                                  key=f"{prefix}.profile_file",
                                  help="A file saved here, or a CSV with the columns "
                                       "item_id and rating (and optionally title).")
        if upload is None:
            return
        # Set by the buttons' callback. A file already applied shows what it changed in
        # place of the buttons, until the person uploads a file again.
        applied = st.session_state.get(f"{prefix}.profile_applied")
        if applied is not None and applied[0] == upload.file_id:
            st.success(applied[1])
            return
        try:
            loaded = read_profile(upload.getvalue(), upload.name, dataset)
        except ProfileError as error:
            _rejected_file_message(upload, str(error).rstrip("."), prefix)
            return
        for note in loaded.notes:
            st.warning(note)
        titles = dataset.item_titles()
        new = sum(item not in ratings for item in loaded.ratings)
        changed = changed_ratings(ratings, loaded.ratings)
        missing = sum(item not in loaded.ratings for item in ratings)
        differ = (f": {changes_text(changed, ratings, loaded.ratings, titles)}" if changed
                  else "")
        lacks = (f" Replace also removes your {missing} rating(s) that the file lacks."
                 if missing else "")
        if loaded.ratings:
            st.info(f"'{upload.name}' has {len(loaded.ratings)} rating(s): {new} you have "
                    f"not entered and {len(changed)} that differ from yours{differ}. Both "
                    f"buttons take the file's stars.{lacks}")
        else:
            fields = ", ".join(name.replace("_", " ") for name in loaded.user)
            st.info(f"'{upload.name}' has no ratings, only fields about you: {fields}. "
                    f"Replace sets these fields.{lacks}")
        replace_column, add_column = st.columns(2)
        arguments = (loaded, ratings, titles, prefix, upload.file_id)
        replace_column.button("Replace my profile", key=f"{prefix}.profile_replace",
                              on_click=_apply_profile, args=(*arguments, True),
                              width="stretch")
        add_column.button("Add to my ratings", key=f"{prefix}.profile_add",
                          on_click=_apply_profile, args=(*arguments, False),
                          disabled=not loaded.ratings, width="stretch",
                          help=None if loaded.ratings else "The file has no ratings to add.")


def _rejected_file_message(upload, reason: str, prefix: str):
    """Show why ``upload`` was not loaded: as an error once, then as a caption.

    The uploader keeps the file until the person removes it, and every rerun reads it
    again. A red error on every rerun would read as a new failure of whatever the person
    did next, so the error shows only on the first run for each file and reason.
    """
    last_error_key = f"{prefix}.profile_error_shown"
    # file_id changes with every upload, even of the same file, so uploading it again
    # shows the error again.
    error = (upload.file_id, reason)
    if st.session_state.get(last_error_key) != error:
        st.session_state[last_error_key] = error
        st.error(f"{reason}. Your ratings are unchanged. Upload a corrected file, or "
                 "remove this one with the × beside its name.")
        return
    st.caption(f"'{upload.name}' was not loaded, so your ratings are unchanged. Remove it "
               "with the × beside its name to hide this note.", help=f"{reason}.")


def _apply_profile(loaded: Profile, ratings: dict, titles: dict, prefix: str, file_id: str,
                   replace: bool):
    summary = merge_summary(ratings, loaded.ratings, titles, replace)
    if replace:
        fields = {"age": None, "gender": NOT_GIVEN, "occupation": NOT_GIVEN,
                  "zip_code": ""}
        before = {name: st.session_state.get(f"{prefix}.{_USER_KEYS[name]}", empty)
                  for name, empty in fields.items()}
        after = {name: loaded.user.get(name, empty) for name, empty in fields.items()}
        for name, value in after.items():
            st.session_state[f"{prefix}.{_USER_KEYS[name]}"] = value
        differ = [name.replace("_", " ") for name in fields if before[name] != after[name]]
        if differ:
            summary += f" The file also replaced your {', '.join(differ)}."
        ratings.clear()
    ratings.update(loaded.ratings)
    st.session_state[f"{prefix}.profile_applied"] = (file_id, summary)


# Session-state key, after the page prefix, of each demographic field's widget.
_USER_KEYS = {"age": "age", "gender": "gender", "occupation": "occupation",
              "zip_code": "zip"}
