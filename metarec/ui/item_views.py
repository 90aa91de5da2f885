"""Sections of the New item page that draw an :class:`ItemComparison` or train models."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ..data import Dataset
from ..serving.item_store import ITEM_MANIFEST
from ..serving.items import GROUPS
from . import charts, item_charts
from .item_state import (item_models_dir_for, new_user_ratings_cached,
                         train_items_with_progress)
from .state import forget_stopped_training, run_training, seed_input
from .item_controls import user_label
from .manifest import validation_table
from .profile import demographics_controls
from .views import followed_member, tied_scores_note, timing_caption

# Three tables to a row: at four, a user label and two numbers overflowed a column of
# a 1400-pixel window and the last column was cut off.
COLUMNS_PER_ROW = 3
# Below this spread of predictions over users, a variant ranks users arbitrarily.
FLAT_SPREAD = 1e-6
# Below this spread of predicted ratings in a top list (maximum minus minimum, in
# stars), its "vs usual" order comes from the users' usual ratings alone.
NARROW_SPREAD = 0.05


# Descriptions of the ensemble members, for members the page does not draw.
MEMBER_DESCRIPTIONS = {
    "teacher": "is the large meta-learned network, which reads the item's description",
    "student": "is the small meta-learned network distilled from the teacher",
    "content-only": "predicts each user's usual rating plus the item bias that its "
                    "content predicts, moved by how the item's ratings differ from that",
    "user-bias": "predicts each user's usual rating (the mean rating plus the user's "
                 "bias), moved by how the item's ratings differ from that, and ignores "
                 "the content",
    "genre-mean": "predicts the mean rating of the item's genres, moved toward the "
                  "item's ratings",
    "global-mean": "predicts the mean of all ratings",
}


def weights_caption(weights: dict, n_ratings: int, chosen) -> str:
    """Return the sentences on the ensemble's member ``weights``.

    A member that is not among the ``chosen`` variants is explained, so that a name the
    page draws nowhere else is not a puzzle.
    """
    ratings = f"{n_ratings} rating{'' if n_ratings == 1 else 's'}"
    text = (f"The ensemble's time is the sum of its members' adaptations. Its weights for "
            f"{ratings}: " + ", ".join(f"{m} {w:.2f}" for m, w in weights.items()) + ".")
    for member in weights:
        if member not in chosen:
            description = MEMBER_DESCRIPTIONS.get(member, "is another variant")
            text += (f" The member {member} is not among the chosen variants: it "
                     f"{description}. Add it under Variants to see its audience.")
    return text


def _labels(top, users=None, age_bands=False):
    """Return :func:`~metarec.ui.item_controls.user_label` of each user in ``top``.

    ``users`` is the dataset's users frame indexed by user id; without it, the labels
    come from the demographics in ``top``. ``age_bands`` is the dataset's
    :attr:`~metarec.data.Dataset.age_bands`.
    """
    users = top.set_index("user_id") if users is None else users
    return [user_label(users, user, age_bands) for user in top["user_id"]]


def _has_lift(top) -> bool:
    return "lift" in top and top["lift"].notna().any()


def audience_caption(top) -> str:
    """Return the sentence that explains how the top lists are ranked."""
    if not _has_lift(top):
        return ("Users are ranked by predicted rating, because these models have no "
                "user-bias baseline to tell each user's usual rating.")
    return ("Users are ranked by how much more they are predicted to like this item than "
            "they usually rate (vs usual: the predicted rating minus the user's usual "
            "rating, the mean rating plus their shrunk bias), so generous raters do not top "
            "every item's list. Users who rated the item are left out.")


def validation_section(recommender):
    """Draw the item models' validation MAE by support size, as Home does for user models."""
    table = validation_table(recommender.manifest)
    if table.empty:
        st.info("No validation item had enough ratings to score.")
        return
    items = max(record.get("items", 0) for record in recommender.manifest["validation"])
    st.caption(f"Mean absolute error on the held-out ratings of {items} validation items, "
               "given K of their ratings to adapt on (K=0: content alone), lower is "
               "better. The items are new to the models, as in the new-item scenario.")
    st.table(table.style.format("{:.3f}", na_rep="–"))


def training_controls(dataset: Dataset, button_label: str, prefix: str):
    """Offer (re)training of the item-side variants on the chosen data, with progress."""
    epochs = st.number_input(
        "Maximum epochs per variant", min_value=1, max_value=500, value=None, step=1,
        key=f"{prefix}.epochs", placeholder="each variant's own budget (30, with early "
                                            "stopping)",
        help="Leave empty for the full training. Fewer epochs finish sooner but give "
             "less accurate models, whose top lists barely change with a person's "
             "ratings.")
    seed = seed_input(key=f"{prefix}.seed")
    folder = item_models_dir_for(dataset)
    target = (f"Item models already in '{folder}' are replaced."
              if (folder / ITEM_MANIFEST).is_file()
              else f"Item models are written to '{folder}'.")
    if dataset.n_ratings <= 150_000:
        duration = (f"On 2 cores that takes about two minutes for data of this size "
                    f"({dataset.n_ratings:,} ratings).")
    else:
        duration = (f"On 2 cores it took about two minutes for MovieLens-100K's 100,000 "
                    f"ratings, and this data has {dataset.n_ratings:,}, so expect longer.")
    st.caption("Training embeds every item's text, then meta-trains a teacher and a "
               f"student on the CPU. {duration} Stay on this page until it finishes. "
               f"{target}")
    if st.button(button_label, type="primary", key=f"{prefix}.train",
                 on_click=forget_stopped_training, args=(folder, "item")):
        run_training(lambda: train_items_with_progress(dataset, epochs=epochs, seed=seed))


def signed(value: float) -> str:
    """Return ``value`` with its sign and two decimals; -0.001 gives "+0.00", not "-0.00"."""
    return f"{round(value, 2) + 0.0:+.2f}"


def audience_tables(comparison, dataset: Dataset | None = None, rating_scale=None):
    """Draw each variant's top users under its name, with the adaptation time.

    Users are named by ``dataset``'s own ids, or by metarec's numbers without it.
    With ``rating_scale`` (low, high), the note on tied predictions states whether
    they are capped.
    """
    results = list(comparison.results.values())
    flat = set(_flat_variants(comparison))
    users = None if dataset is None else dataset.users.set_index("user_id")
    bands = dataset is not None and dataset.age_bands
    top_of_scale = None if rating_scale is None else float(rating_scale[1])
    if results:
        st.caption(audience_caption(results[0].top))
    for start in range(0, len(results), COLUMNS_PER_ROW):
        row = results[start:start + COLUMNS_PER_ROW]
        for column, result in zip(st.columns(COLUMNS_PER_ROW), row):
            with column:
                st.subheader(result.variant)
                labels = _labels(result.top, users, bands)
                top = result.top.assign(user=labels).set_index("rank")
                texts = [f"{score:.2f}" for score in top["predicted"]]
                table = top[["user"]].copy()
                # The ranking column comes first, so a narrow column cuts off the other.
                if _has_lift(top):
                    table["vs usual"] = [signed(lift) for lift in top["lift"]]
                table["predicted"] = texts
                st.table(table.rename_axis("#"), border="horizontal")
                note = audience_note(top, result.variant in flat, texts, top_of_scale)
                if note:
                    st.caption(note)
                st.caption(timing_caption(result.seconds, bool(result.weights)))


def new_user_section(dataset: Dataset, recommender, ratings: dict, variants, content: dict,
                     prefix: str, comparison=None):
    """Draw a new user's fields and how each variant expects them to rate the new item.

    That is the case where both are new: the person has rated nothing, so the models
    know only the fields. With ``comparison``, the table also gives each
    variant's mean predicted rating over the dataset's users.
    """
    st.subheader("A new user too")
    # Off by default, because scoring the person adapts every variant once more, which
    # would double the page's time for each rating added.
    if not st.toggle("Score a new user", key=f"{prefix}.person.on", persist_state="session",
                     help="Neither the item nor this person is known to the models: each "
                          "variant predicts the rating from the item's content and ratings "
                          "and the person's fields alone."):
        st.caption("Turn on to see how a person the models never saw would rate this item.")
        return
    st.caption("Leave the fields empty for someone nothing is known about.")
    person = demographics_controls(dataset, f"{prefix}.person")
    try:
        table = new_user_ratings_cached(dataset, recommender, ratings, variants, content,
                                        person)
    except ValueError as error:
        st.error(f"Could not score this person: {error}")
        return
    rows = pd.DataFrame({"variant": table["variant"],
                          "this person": [f"{value:.2f}" for value in table["predicted"]]})
    if comparison is not None:
        # The same variant's mean over the dataset's users, for scale.
        means = comparison.predictions.groupby("variant")["predicted"].mean()
        rows["mean over the users"] = [f"{means[name]:.2f}" if name in means else "–"
                                        for name in table["variant"]]
    st.table(rows.set_index("variant"), border="horizontal")


def audience_note(top, flat: bool, texts, top_of_scale=None) -> str | None:
    """Return the note on how far the order of one top list means anything, or None.

    ``top`` is a variant's top list, ``flat`` whether the variant predicts one rating for
    every user and ``texts`` the predictions as shown.
    """
    lift = _has_lift(top)
    if flat and lift:
        return ("Predicts one rating for every user, so this list ranks users only by "
                "their usual rating, lowest first.")
    if flat:
        return "Predicts one rating for every user, so the order of this list is arbitrary."
    if lift and len(top) > 1 and top["lift"].round(2).nunique() == 1:
        return ("Every user in this list gets the same vs usual, so the variant does not "
                "tell them apart and the order of this list is arbitrary.")
    spread = top["predicted"].max() - top["predicted"].min()
    if lift and len(top) > 1 and spread < NARROW_SPREAD:
        return (f"Predicts nearly one rating (within {NARROW_SPREAD:g} stars) for every "
                "user in this list, so it ranks them only by their usual rating, lowest "
                "first.")
    if lift:
        # The list is ranked by vs usual, so ties there, not in the predictions, leave
        # the order to unrounded differences and user ids.
        counts = pd.Series([f"{value:+.2f}" for value in top["lift"]]).value_counts()
        tied = counts[counts > 1]
        if not tied.empty:
            listed = ", ".join(f"{text} ({count} users)" for text, count in tied.items())
            return (f"Equal vs usual as shown: {listed}. Users with equal values are "
                    "ordered by their unrounded values, then by user id, so their order "
                    "means little.")
    return tied_scores_note(texts, top_of_scale)


def _flat_variants(comparison) -> list:
    """Return the variants that predict nearly the same rating for every user."""
    spread = comparison.predictions.groupby("variant")["predicted"].std()
    return [name for name in comparison.results if spread.get(name, 0.0) < FLAT_SPREAD]


def comparison_charts(comparison, variants, rating_scale, n_ratings, prefix: str,
                      dataset: Dataset | None = None):
    """Draw the distribution, top audience, group breakdown, curves and timings."""
    colours = charts.variant_colours(variants)
    users = None if dataset is None else dataset.users.set_index("user_id")
    st.plotly_chart(item_charts.distribution_figure(comparison.predictions, colours,
                                                    rating_scale))

    flat = _flat_variants(comparison)
    bands = dataset is not None and dataset.age_bands
    top = [result.top.assign(variant=name, label=_labels(result.top, users, bands))
           for name, result in comparison.results.items() if name not in flat]
    if top:
        st.plotly_chart(item_charts.audience_figure(pd.concat(top, ignore_index=True),
                                                    comparison.predictions, colours,
                                                    rating_scale))
    if flat:
        st.caption(f"{', '.join(flat)} predict{'s' if len(flat) == 1 else ''} the same "
                   "rating for every user, so "
                   f"{'its' if len(flat) == 1 else 'their'} top list tells nothing about "
                   "the item, and the audience chart leaves it out.")

    group = st.segmented_control("Break down by", list(GROUPS), default=GROUPS[0],
                                 key=f"{prefix}.group") or GROUPS[0]
    st.plotly_chart(item_charts.groups_figure(comparison.groups, group, colours,
                                              rating_scale))

    curves_column, timing_column = st.columns(2)
    curves = comparison.curves()
    ensemble = comparison.results.get("ensemble")
    followed = followed_member(ensemble.weights) if ensemble else None
    if followed:
        # Its single loss is the member's final one, which a flat line drew as if the
        # ensemble had not adapted at all.
        curves = curves[curves["variant"] != "ensemble"]
    if curves.empty:
        curves_column.info("With no ratings there is nothing to adapt on, so there are no "
                           "adaptation curves.")
    else:
        curves_column.plotly_chart(charts.curves_figure(
            curves, colours, flat_labels={"ensemble": "blend of adapted members"}))
    if followed and not curves.empty:
        curves_column.caption(f"The ensemble gives {followed} all its weight for "
                              f"{n_ratings} rating{'' if n_ratings == 1 else 's'}, so it "
                              f"adapts exactly as {followed} does and has no curve of its "
                              "own.")
    timing_column.plotly_chart(charts.timing_figure(comparison.timings(), colours))
    if "ensemble" in comparison.results:
        timing_column.caption(weights_caption(comparison.results["ensemble"].weights,
                                              n_ratings, comparison.results))
    if comparison.text_cached:
        embedding = ("The item's text embedding came from the cache, because this text "
                     "was embedded before.")
    else:
        embedding = (f"Embedding the item's text took "
                     f"{comparison.encode_seconds * 1000:,.0f} ms, once for every variant.")
    timing_column.caption(f"{embedding} Each time is a single measurement, so it varies "
                          "with the load on the machine.")
