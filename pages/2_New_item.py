"""New item: describe an unrated movie and watch every variant find its audience."""

import streamlit as st

from metarec.ui import item_controls, item_views
from metarec.ui.item_state import (compare_items_cached, item_models_dir_for,
                                   item_recommender_or_message)
from metarec.ui.personas import item_noun
from metarec.ui.state import selected_dataset, stopped_training_warning

# Session-state keys of this page start with PREFIX.
PREFIX = "new_item"
VARIANTS_KEY = f"{PREFIX}.variants"
TOP_K = 10

st.set_page_config(page_title="New item · metarec", layout="wide")
st.title("New item")
dataset = selected_dataset()
noun = "movie" if dataset is None else item_noun(dataset)
st.caption(f"Describe a new {noun} and, if you like, give it a few ratings from users of "
           "the data. Every chosen variant builds the item from its content, adapts to "
           "those ratings on the spot and predicts how every user would rate it.")
if dataset is None:
    st.stop()

st.subheader("The item")
content = item_controls.item_content_controls(dataset, PREFIX)
ratings = item_controls.item_ratings_for(dataset, PREFIX)
pick, preset = st.columns([3, 2], gap="large")
with pick:
    st.subheader("Ratings from chosen users")
    item_controls.user_rating_controls(dataset, ratings, PREFIX)
with preset:
    st.subheader("Or from a synthetic audience")
    item_controls.audience_controls(dataset, ratings, PREFIX)
item_controls.item_ratings_list(dataset, ratings, PREFIX)

# Audience ----------------------------------------------------------------------------
st.header("Predicted audience")
stopped_training_warning(item_models_dir_for(dataset), "item")
recommender = item_recommender_or_message(dataset)
if recommender is None:
    item_views.training_controls(dataset, "Train item models", PREFIX)
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
if not content["title"]:
    # The message sits under the Title field, so here the section only points to it.
    st.info("The audience appears once the item has a title.")
    st.stop()
if content["problem"]:
    # The message sits under the field, as for the title.
    st.info(f"The audience appears once the "
            f"{item_controls.year_label(dataset).lower()} is in range.")
    st.stop()
try:
    comparison = compare_items_cached(dataset, recommender, ratings, chosen, content, k=TOP_K)
except ValueError as error:
    st.error(f"Could not adapt to this item: {error}")
    st.stop()

item_views.audience_tables(comparison, dataset, recommender.rating_scale)
item_views.new_user_section(dataset, recommender, ratings, chosen, content, PREFIX,
                            comparison)
item_views.comparison_charts(comparison, variants, recommender.rating_scale, len(ratings),
                             PREFIX, dataset)
with st.expander("Validation error of the item models"):
    item_views.validation_section(recommender)
with st.expander("Retrain the item models"):
    item_views.training_controls(dataset, "Retrain item models", PREFIX)
