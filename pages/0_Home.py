"""Home page: the chosen data, its trained models and how to train them."""

import streamlit as st

from metarec.data import like_threshold
from metarec.serving.store import MANIFEST, ModelsDirectoryError, read_manifest
from metarec.ui.manifest import scored_without_mae, validation_table, variant_table
from metarec.ui.personas import item_noun
from metarec.ui.state import (
    forget_stopped_training,
    item_models_instead,
    missing_models_message,
    models_dir_for,
    recommender_or_message,
    run_training,
    seed_input,
    selected_dataset,
    stopped_training_warning,
    train_with_progress,
)

# Session-state keys of this page start with PREFIX.
PREFIX = "home"

st.set_page_config(page_title="metarec", layout="wide")
st.title("metarec")
# The introduction names the kind of item, so it is filled in once the data is loaded,
# but stays above any message about the data.
intro = st.empty()
dataset = selected_dataset()
# Movies until data is chosen, because the default data, the sample, contains movies.
noun = "movie" if dataset is None else item_noun(dataset)
intro.markdown(
    f"metarec recommends {noun}s to people who have rated only a handful. It meta-learns "
    "a starting point and a few gradient steps (MAML with per-parameter learning rates), "
    "so that a network adapts to a new user's first ratings in milliseconds. A large "
    "teacher and a small student distilled from it are trained next to other "
    "meta-learners, classical baselines and an ensemble, so you can compare them all."
)
if dataset is None:
    st.stop()

st.header("Data")
st.write(dataset.summary())
st.caption(f"Read from '{dataset.source}'.")

st.header("Models")
models_dir = models_dir_for(dataset)
stopped_training_warning(models_dir, "user")


def training_time_text(n_ratings: int) -> str:
    """Return how long full training may take, from measured runs on a 2-core machine."""
    if n_ratings <= 150_000:
        return "Full training takes one to a few minutes on 2 cores."
    return (f"This data has {n_ratings:,} ratings, so full training can take an hour or "
            "more: on 2 cores, MovieLens-100K's 100,000 ratings took about 3 minutes and "
            "487,650 ratings of MovieLens-1M took 64 CPU-minutes. A cap on epochs "
            "shortens it.")


def training_controls(button_label, default_seed=0):
    """Offer (re)training of every variant on the chosen data, with a progress bar.

    The seed field starts at ``default_seed``: the current models' seed when retraining.
    """
    epochs = st.number_input(
        "Maximum epochs per variant", min_value=1, max_value=500, value=None, step=1,
        placeholder="each variant's own budget (30 to 40, with early stopping)",
        help="Leave empty for the full training. Fewer epochs finish sooner but give "
             "less accurate models, whose top lists barely change with a person's "
             "ratings.")
    seed = seed_input(key=f"{PREFIX}.seed.{button_label}", default=default_seed)
    # Only a folder that contains models has any to replace.
    target = (f"Models already in '{models_dir}' are replaced."
              if (models_dir / MANIFEST).is_file() else f"Models are written to '{models_dir}'.")
    st.caption(f"Training runs here on the CPU. {training_time_text(dataset.n_ratings)} "
               "Stay on this page until it finishes, because leaving it stops the "
               f"training. {target}")
    if st.button(button_label, type="primary", on_click=forget_stopped_training,
                 args=(models_dir, "user")):
        run_training(lambda: train_with_progress(dataset, epochs=epochs, seed=seed))


instead = item_models_instead(models_dir)
if instead is not None:
    # No training offered: 'python -m metarec evaluate' reads a folder's item models
    # first, so user models trained beside them would be hidden from it.
    st.error(instead)
    st.stop()
try:
    manifest = read_manifest(models_dir)
except ModelsDirectoryError:
    st.info(missing_models_message(dataset, "Train them below."))
    training_controls("Train models")
    st.stop()

if recommender_or_message(dataset) is None:
    training_controls("Train models for this data")
    st.stop()

seed = manifest.get("scenario", {}).get("users", {}).get("seed")
seed_text = "" if seed is None else f" with seed {seed}"
st.write(f"Models in '{models_dir}', trained{seed_text} on {manifest['created']} in "
         f"{manifest.get('train_seconds', float('nan')):,.0f} s.")
# Static tables, so that every cell is text that screen readers and searches can find.
variant_formats = {"parameters": "{:,.0f}", "train seconds": "{:.1f}", "best epoch": "{:.0f}"}
st.table(variant_table(manifest).style.format(variant_formats, na_rep="–").hide(axis="index"))

st.subheader("Validation error")
table = validation_table(manifest)
if table.empty:
    st.info("No validation user had enough ratings to score.")
else:
    users = max(record["users"] for record in manifest["validation"])
    total = len(manifest.get("scenario", {}).get("users", {}).get("validation", []))
    # Validation scores users as evaluation does, so some of the split's are left out.
    of_total = (f" (of the split's {total}: users with too few ratings for a query, or "
                "more than 100, are left out, as in evaluation)" if total > users else "")
    st.caption(f"Mean absolute error on the held-out ratings of {users} validation "
               f"users{of_total}, given K of their ratings to adapt on (lower is better). "
               "A dash marks a variant that predicts no ratings: a ranking baseline, or "
               "a like/dislike classifier such as student-like.")
    st.table(table.style.format("{:.3f}", na_rep="–"))
    unrated = scored_without_mae(manifest)
    if unrated:
        threshold = like_threshold(dataset.rating_scale)
        listed = ", ".join(unrated[:-1]) + (" and " if len(unrated) > 1 else "") + unrated[-1]
        st.caption(f"AUC of like (a rating of {threshold:g} or more) against dislike on the "
                   f"same held-out ratings, higher is better and 0.5 is chance. It also "
                   f"scores {listed}, which predict{'s' if len(unrated) == 1 else ''} no "
                   "ratings.")
        st.table(validation_table(manifest, "auc").style.format("{:.3f}", na_rep="–"))

st.header("Try the models")
st.page_link("pages/1_New_user.py", icon="➡️",
             label=f"New user: rate a few {noun}s and compare what every variant recommends")
st.page_link("pages/2_New_item.py", icon="➡️",
             label=f"New item: describe a new {noun} and see who will like it")
st.page_link("pages/3_Dynamic_session.py", icon="➡️",
             label="Dynamic session: replay a test user's ratings one at a time")
st.page_link("pages/4_Model_comparison.py", icon="➡️",
             label="Model comparison: metrics by support size, accuracy against cost")

with st.expander("Retrain the models"):
    training_controls("Retrain models", default_seed=seed or 0)
