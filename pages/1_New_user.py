"""New user: rate a few movies and watch every variant adapt to them."""

import streamlit as st

from metarec.ui import profile, views
from metarec.ui.personas import item_noun
from metarec.ui.state import compare_cached, recommender_or_message, selected_dataset

# Session-state keys of this page start with PREFIX.
PREFIX = "new_user"
VARIANTS_KEY = f"{PREFIX}.variants"
TOP_K = 10

st.set_page_config(page_title="New user · metarec", layout="wide")
st.title("New user")
dataset = selected_dataset()
noun = "movie" if dataset is None else item_noun(dataset)
st.caption(f"Rate a few {noun}s, or start from a persona. Every chosen variant adapts to "
           "your ratings on the spot and recommends what you have not rated yet.")
if dataset is None:
    st.stop()
views.restore_chart_choices(dataset, PREFIX)

ratings = profile.ratings_for(dataset, PREFIX)
find, preset = st.columns([3, 2], gap="large")
with find:
    st.subheader("Find and rate")
    profile.movie_search_controls(dataset, ratings, PREFIX)
with preset:
    st.subheader("Or start from a persona")
    profile.persona_controls(dataset, ratings, PREFIX)

# The list grows and shrinks, so it gets a container of its own: the expanders below
# then keep their place on the page, and with it whether they are open.
with st.container():
    profile.ratings_list(dataset, ratings, PREFIX)
with st.expander("About you (optional)"):
    user = profile.demographics_controls(dataset, PREFIX)
with st.expander("Save or load your profile"):
    profile.profile_file_controls(dataset, ratings, user, PREFIX)

# Recommendations ---------------------------------------------------------------------
st.header("Recommendations")
recommender = recommender_or_message(dataset)
if recommender is None:
    st.stop()
variants = recommender.variants
remembered_variants = st.session_state.get(VARIANTS_KEY)
if remembered_variants and set(remembered_variants) - set(variants):
    # The remembered choice names variants that the loaded models lack.
    st.session_state[VARIANTS_KEY] = [v for v in remembered_variants if v in variants]
chosen = st.multiselect("Variants", variants, default=recommender.featured_variants,
                        key=VARIANTS_KEY, persist_state="session",
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

new_picks = views.new_picks_counts(dataset, recommender, comparison, ratings, user)
if new_picks:
    st.caption(views.NEW_PICKS_EXPLANATION)
views.top_lists(comparison.results, n_ratings=len(ratings), new_picks=new_picks)
views.comparison_charts(comparison, variants, PREFIX)
views.explanation_section(dataset, recommender, ratings, user, comparison, PREFIX)
