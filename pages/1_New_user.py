"""New user: rate a few movies and watch every variant adapt to them."""

import streamlit as st

from metarec.ui import charts
from metarec.ui.personas import PERSONAS, persona_ratings
from metarec.ui.state import compare_cached, recommender_or_message, selected_dataset

RATINGS_KEY = "new_user.ratings"
TOP_K = 10
COLUMNS_PER_ROW = 4

st.set_page_config(page_title="New user · metarec", layout="wide")
st.title("New user")
st.caption("Rate a few movies, or start from a persona. Every chosen variant adapts to "
           "your ratings on the spot and recommends what you have not rated yet.")

dataset = selected_dataset()
if dataset is None:
    st.stop()

# The ratings of each data folder, kept as long as the session lasts.
ratings = st.session_state.setdefault(RATINGS_KEY, {}).setdefault(dataset.source, {})
titles = dataset.item_titles()
genres = dict(zip(dataset.items["item_id"], dataset.items["genres"]))
low, high = dataset.rating_scale
stars = list(range(int(low), int(high) + 1))


def label(item_id):
    return f"{titles[item_id]} · {', '.join(genres[item_id]) or 'no genre'}"


def remove_rating(item_id):
    ratings.pop(item_id, None)


def change_rating(item_id, widget_key):
    if st.session_state[widget_key] is not None:
        ratings[item_id] = float(st.session_state[widget_key])


# Input: search and rate, or a persona ------------------------------------------------
find, preset = st.columns([3, 2], gap="large")
with find:
    st.subheader("Find and rate")
    query = st.text_input("Search titles", key="new_user.search", persist_state="session",
                          placeholder="part of a title, e.g. star")
    matches = [i for i, title in titles.items() if query.strip().lower() in title.lower()]
    if not matches:
        st.info(f"No title contains {query.strip()!r}.")
    else:
        count = f"{len(matches):,} match" + ("" if len(matches) == 1 else "es")
        item = st.selectbox(f"Movie ({count})", matches, format_func=label,
                            key="new_user.movie")
        rating = st.segmented_control("Your rating", stars, default=stars[-2],
                                      format_func=lambda s: f"{s} ★", key="new_user.stars")
        if st.button("Add rating", disabled=rating is None):
            ratings[item] = float(rating)

with preset:
    st.subheader("Or start from a persona")
    name = st.selectbox("Persona", list(PERSONAS), key="new_user.persona",
                        persist_state="session")
    persona = PERSONAS[name]
    st.caption(f"Loves {', '.join(persona.loved)}; dislikes {', '.join(persona.disliked)}. "
               "Adds 5 and 4 stars to the most rated movies of the loved genres and 1 and "
               "2 stars to a few of the disliked one.")
    if st.button("Add this persona's ratings"):
        try:
            ratings.update(persona_ratings(dataset, persona))
        except ValueError as error:
            st.error(str(error))

# The profile -------------------------------------------------------------------------
head, clear = st.columns([5, 1], vertical_alignment="bottom")
head.subheader(f"Your ratings ({len(ratings)})")
clear.button("Clear all", disabled=not ratings, on_click=ratings.clear, width="stretch")
if not ratings:
    st.info("No ratings yet. Rate at least one movie, or add a persona's ratings, to see "
            "recommendations.")
for item_id, value in list(ratings.items()):
    title_column, stars_column, remove_column = st.columns([5, 3, 1],
                                                           vertical_alignment="center")
    title_column.write(label(item_id) if item_id in titles else f"item {item_id}")
    if value in stars:
        widget_key = f"new_user.rating.{item_id}"
        st.session_state[widget_key] = int(value)
        stars_column.segmented_control(
            f"Rating of item {item_id}", stars, key=widget_key, label_visibility="collapsed",
            format_func=lambda s: f"{s} ★", on_change=change_rating, args=(item_id, widget_key))
    else:
        stars_column.warning(f"{value:g} is not one of the stars {low:g} to {high:g}")
    remove_column.button("Remove", key=f"new_user.remove.{item_id}", on_click=remove_rating,
                         args=(item_id,), width="stretch")

with st.expander("About you (optional)"):
    age_column, gender_column, job_column, zip_column = st.columns(4)
    age = age_column.number_input("Age", min_value=1, max_value=120, value=None, step=1,
                                  key="new_user.age", persist_state="session")
    gender = gender_column.selectbox(
        "Gender", [None, "F", "M"], key="new_user.gender", persist_state="session",
        format_func=lambda g: {None: "not given", "F": "female", "M": "male"}[g])
    occupation = job_column.selectbox(
        "Occupation", [None, *dataset.occupations], key="new_user.occupation",
        persist_state="session", format_func=lambda o: "not given" if o is None else o)
    zip_code = zip_column.text_input("Zip code", max_chars=10, key="new_user.zip",
                                     persist_state="session")
user = {"age": age, "gender": gender, "occupation": occupation, "zip_code": zip_code.strip()}
user = {field: value for field, value in user.items() if value not in (None, "")}

# Recommendations ---------------------------------------------------------------------
st.header("Recommendations")
recommender = recommender_or_message(dataset)
if recommender is None:
    st.stop()
variants = recommender.variants
remembered_variants = st.session_state.get("new_user.variants")
if remembered_variants and set(remembered_variants) - set(variants):
    # The remembered choice names variants that the loaded models lack.
    st.session_state["new_user.variants"] = [v for v in remembered_variants if v in variants]
chosen = st.multiselect("Variants", variants, default=recommender.featured_variants,
                        key="new_user.variants", persist_state="session",
                        help="Starts with " + ", ".join(recommender.featured_variants) + ".")
if not chosen:
    st.info("Choose at least one variant.")
    st.stop()
if not ratings:
    st.stop()
try:
    comparison = compare_cached(dataset, recommender, ratings, chosen, user, k=TOP_K)
except ValueError as error:
    st.error(f"Could not adapt to these ratings: {error}")
    st.stop()

results = list(comparison.results.values())
for start in range(0, len(results), COLUMNS_PER_ROW):
    row = results[start:start + COLUMNS_PER_ROW]
    for column, result in zip(st.columns(COLUMNS_PER_ROW), row):
        with column:
            st.subheader(result.variant)
            top = result.top.set_index("rank")[["title", "score"]].rename_axis("#")
            if result.is_ranker:
                top = top.rename(columns={"score": "ranking score"})
            st.table(top.style.format(precision=2), border="horizontal")
            st.caption(f"adapted in {result.seconds * 1000:,.1f} ms")

colours = charts.variant_colours(variants)
if not comparison.scores.empty:
    st.plotly_chart(charts.scores_figure(comparison.scores, colours))
    if any(result.is_ranker for result in results):
        st.caption("Ranking baselines are left out of this chart: their scores are not "
                   "ratings.")
curves_column, timing_column = st.columns(2)
curves = comparison.curves()
if not curves.empty:
    curves_column.plotly_chart(charts.curves_figure(curves, colours))
timing_column.plotly_chart(charts.timing_figure(comparison.timings(), colours))
if "ensemble" in comparison.results:
    weights = comparison.results["ensemble"].weights
    timing_column.caption(
        f"The ensemble's time is the sum of its members' adaptations. Its weights for "
        f"{len(ratings)} ratings: " + ", ".join(f"{m} {w:.2f}" for m, w in weights.items()))
timing_column.caption("Each time is a single measurement, so it varies with the load on "
                      "the machine.")
