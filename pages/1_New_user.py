"""New user: rate a few movies and watch every variant adapt to them."""

import streamlit as st

from metarec.ui import charts, profile
from metarec.ui.state import compare_cached, recommender_or_message, selected_dataset

# Session-state keys of this page start with PREFIX.
PREFIX = "new_user"
VARIANTS_KEY = f"{PREFIX}.variants"
TOP_K = 10
COLUMNS_PER_ROW = 4

st.set_page_config(page_title="New user · metarec", layout="wide")
st.title("New user")
st.caption("Rate a few movies, or start from a persona. Every chosen variant adapts to "
           "your ratings on the spot and recommends what you have not rated yet.")

dataset = selected_dataset()
if dataset is None:
    st.stop()

ratings = profile.ratings_for(dataset, PREFIX)
find, preset = st.columns([3, 2], gap="large")
with find:
    st.subheader("Find and rate")
    profile.movie_search_controls(dataset, ratings, PREFIX)
with preset:
    st.subheader("Or start from a persona")
    profile.persona_controls(dataset, ratings, PREFIX)

profile.ratings_list(dataset, ratings, PREFIX)
with st.expander("About you (optional)"):
    user = profile.demographics_controls(dataset, PREFIX)

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
        f"The ensemble's time is the sum of its members' adaptations in its own run. "
        f"Its weights for {len(ratings)} rating{'' if len(ratings) == 1 else 's'}: "
        + ", ".join(f"{m} {w:.2f}" for m, w in weights.items()))
timing_column.caption("Each time is a single measurement, so it varies with the load on "
                      "the machine.")
