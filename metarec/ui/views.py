"""Drawing of adapted variants shared by the New user and Dynamic session pages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from ..data import Dataset
from ..serving.recommender import Recommender
from . import charts
from .compare import (Comparison, VariantResult, count_new_picks, has_starting_point,
                      starting_scores)
from .explain import Explanation, explain_items, explanation_table
from .state import models_key, run_in_worker

COLUMNS_PER_ROW = 4
# Pixel sizes of st.dataframe rows, to fit a short table without empty rows.
DATAFRAME_ROW_PX, DATAFRAME_MAX_ROWS = 35, 10


# A member weight this close to 1 means the ensemble serves that member alone.
WEIGHT_TOLERANCE = 1e-9


# Under a top list whose titles and the best one left out all have the same score.
ALL_TIED_NOTE = ("Every title here and the best one left out have exactly the same score, "
                 "so this list is an arbitrary pick: the first such titles in catalogue "
                 "order.")


def tied_scores_note(texts, top_of_scale: float | None = None,
                     ranking=False) -> str | None:
    """Return a note on the scores that ``texts`` shows more than once, or None if none.

    Top lists rank by the model's full score, which the table shows rounded to two
    decimals and, for predicted ratings, capped at ``top_of_scale``, so equal texts can
    hide an order. The note mentions the cap only for a tied text at ``top_of_scale``. With
    ``top_of_scale`` None (not known), it says that scores above the scale are capped.
    With ``ranking``, the texts are ranking scores, which are never capped.
    """
    counts = pd.Series(list(texts)).value_counts(sort=False)
    tied = counts[counts > 1].index.tolist()
    if not tied:
        return None
    if ranking:
        how = "rounded to two decimals"
    elif top_of_scale is None:
        how = ("rounded to two decimals, and capped at the top of the rating scale where "
               "they exceed it")
    elif any(float(text) >= top_of_scale for text in tied):
        how = (f"rounded to two decimals, and capped at {top_of_scale:g}, the top of the "
               "rating scale")
    else:
        how = "rounded to two decimals"
    return (f"Shown more than once: {', '.join(tied)}. These scores are equal only as "
            f"shown, {how}, and the order follows the model's full scores.")


def top_lists(results: dict, changes: dict | None = None, columns_per_row=COLUMNS_PER_ROW,
              n_ratings: int | None = None, new_picks: dict | None = None):
    """Draw each variant's top list under its name, ``columns_per_row`` to a row.

    ``results`` maps variants to :class:`metarec.ui.compare.VariantResult`. ``changes``
    maps a variant to a Series of labels indexed like its top list (see
    :func:`metarec.ui.session.rank_changes`); it adds a ``move`` column. With
    ``n_ratings``, the person's number of ratings, the ensemble's list is followed by
    the member weights it used (see :func:`ensemble_weights`). ``new_picks`` maps a
    variant to the count that :func:`new_picks_counts` returns, shown under its list.
    """
    results = list(results.values())
    for start in range(0, len(results), columns_per_row):
        row = results[start:start + columns_per_row]
        for column, result in zip(st.columns(columns_per_row), row):
            with column:
                st.subheader(result.variant)
                # Scores as text, because a pandas Styler costs several ms per table.
                label = "score" if not result.is_ranker else result.score_label
                texts = score_texts(result.top["score"], result.is_ranker)
                top = pd.DataFrame({"title": result.top["title"].to_numpy(),
                                    label: texts},
                                   # Unnamed: st.table gives an index name a header
                                   # row of its own, which doubled the header's height.
                                   index=pd.Index(result.top["rank"].to_numpy()))
                if changes and result.variant in changes:
                    top["move"] = changes[result.variant].to_numpy()
                st.table(top, border="horizontal")
                # Whole rating counts are shown exactly, so equal texts are equal scores.
                rounded = not result.is_ranker or any("." in text for text in texts)
                note = None
                if result.all_tied:
                    note = ALL_TIED_NOTE
                elif rounded:
                    note = tied_scores_note(texts, result.top_of_scale, result.is_ranker)
                if note:
                    st.caption(note)
                if new_picks and result.variant in new_picks:
                    st.caption(new_picks_caption(result.variant, new_picks[result.variant],
                                                 len(result.top)))
                st.caption(timing_caption(result.seconds, bool(result.weights)))
                if n_ratings is not None and result.weights:
                    ensemble_weights(result, n_ratings)


# Explains the captions of new_picks_caption, once above the top lists.
NEW_PICKS_EXPLANATION = (
    "Under each list, *new with your ratings* counts its titles that the same variant "
    "does not recommend when it has no ratings, both lists leaving out what you rated: a "
    "low count means the list barely depends on your ratings. The random ranker has no "
    "such count, because any change of ratings draws a new list.")


def new_picks_caption(variant: str, count: int, k: int) -> str:
    """Return the caption stating that ``count`` of ``variant``'s ``k`` titles are new."""
    return (f"new with your ratings: {count} of {k} (the rest are also in {variant}'s top "
            f"{k} with no ratings, among the titles you have not rated)")


@st.cache_data(show_spinner="Adapting to no ratings…", max_entries=64)
def _starting_scores(models: tuple, variant: str, user: tuple,
                     _recommender: Recommender) -> np.ndarray:
    return run_in_worker(starting_scores, _recommender, variant, dict(user))


def new_picks_counts(dataset: Dataset, recommender: Recommender, comparison: Comparison,
                     ratings: dict, user: dict) -> dict:
    """Count, for each compared variant, the titles of its top list that ``ratings`` added.

    A title counts when it is not in the top list the same variant gives with no ratings
    and the same ``user`` fields. That starting list is adapted once per variant and
    cached. The random baseline is left out (see
    :func:`metarec.ui.compare.has_starting_point`).
    """
    counts = {}
    for name, result in comparison.results.items():
        if not has_starting_point(recommender, name):
            continue
        start = _starting_scores(models_key(dataset), name, tuple(sorted(user.items())),
                                 recommender)
        counts[name] = count_new_picks(result.top["item_id"], start, recommender.item_ids,
                                       ratings)
    return counts


def score_texts(scores, ranking=False) -> list[str]:
    """Return scores as text, with two decimals.

    Ranking scores that are all whole numbers (popularity's rating counts) have none.
    """
    scores = np.asarray(scores, dtype=float)
    if ranking and scores.size and np.all(scores == np.round(scores)):
        return [f"{score:,.0f}" for score in scores]
    return [f"{score:.2f}" for score in scores]


def timing_caption(seconds: float, ensemble: bool = False) -> str:
    """Return "adapted in ... ms", with "under 0.1 ms" for what one decimal shows as 0."""
    milliseconds = seconds * 1000
    text = ("adapted in under 0.1 ms" if milliseconds < 0.05
            else f"adapted in {milliseconds:,.1f} ms")
    if ensemble:
        text += ", the sum of its members' adaptations"
    return text


def followed_member(weights: dict) -> str | None:
    """Return the ensemble member that gets all the ``weights``, else None."""
    alone = [member for member, weight in weights.items() if weight >= 1.0 - WEIGHT_TOLERANCE]
    return alone[0] if alone else None


def ensemble_weights(result: VariantResult, n_ratings: int):
    """Draw the ensemble's member weights for ``n_ratings`` ratings and why they vary."""
    low, high = result.weight_bin
    if high is None:
        span = f"{low} or more ratings"
    elif high == low:
        span = f"{low} rating{'' if low == 1 else 's'}"
    else:
        span = f"{low} to {high} ratings"
    weights = pd.DataFrame({"member": list(result.weights),
                            "weight": list(result.weights.values())})
    # A number column, not a progress bar, because in a quarter of the page's width the
    # bar filled the column and cut its number off.
    st.dataframe(weights, hide_index=True, column_config={
        "weight": st.column_config.NumberColumn("weight", format="%.2f")})
    if n_ratings == 1:
        your_ratings = "Your 1 rating gets"
    else:
        your_ratings = f"Your {n_ratings} ratings get"
    caption = (f"{your_ratings} the mix fitted for {span}. The mix depends on the number "
               "of ratings, because the ensemble fitted one on validation users for each "
               "range of rating counts.")
    alone = followed_member(result.weights)
    if alone:
        caption += (f" For this range no blend beat {alone} alone on held-out validation "
                    f"users, so the ensemble serves {alone}'s predictions unchanged.")
    st.caption(caption)


def _effects_are_uniform(explanation: Explanation, tolerance=0.02) -> bool:
    """Return whether each rated item moves every explained item by nearly the same amount."""
    rated = explanation.rated
    if rated.empty or explanation.items["item_id"].nunique() < 2:
        return False
    spread = rated.groupby("rated_item_id")["effect"].agg(lambda e: e.max() - e.min())
    return bool((spread < tolerance).all())


# Session-state keys, after the page prefix, of the chart switches and the explanation's
# pickers that comparison_charts and explanation_section draw.
CHART_CHOICE_KEYS = ("scores_chart", "details", "explain", "explain_variant", "explain_item")


def restore_chart_choices(dataset: Dataset, prefix: str):
    """Give each data set its own chart switches and pickers, as it has its own ratings.

    Call it before they are drawn. When the data set changed since the last call, it
    stores the choices made with the previous data set and restores those of
    ``dataset``, or the defaults (every switch off) for a data set not shown before.
    """
    source_key = f"{prefix}.charts_source"
    saved = st.session_state.setdefault(f"{prefix}.charts_by_source", {})
    previous = st.session_state.get(source_key)
    if previous == dataset.source:
        return

    keys = [f"{prefix}.{name}" for name in CHART_CHOICE_KEYS]
    if previous is not None:
        saved[previous] = {key: st.session_state[key] for key in keys
                           if key in st.session_state}
    restored = saved.get(dataset.source, {})
    for key in keys:
        if key in restored:
            st.session_state[key] = restored[key]
        elif key in st.session_state:
            del st.session_state[key]
    st.session_state[source_key] = dataset.source


def comparison_charts(comparison: Comparison, variants, prefix: str):
    """Draw, each on its own switch, the score dot chart and the losses and times.

    Both switches start off, because the browser draws every chart anew after each
    rating. In Chromium on a busy 2-core machine, the score chart alone added 40 to
    170 ms to the median time from adding a rating to the repainted page.
    """
    colours = charts.variant_colours(variants)
    if not comparison.scores.empty and st.toggle(
            "Chart the predicted ratings of every listed title",
            key=f"{prefix}.scores_chart", persist_state="session"):
        st.plotly_chart(charts.scores_figure(comparison.scores, colours))
        for note in (left_out_note(comparison.results), all_tied_dots_note(comparison.results)):
            if note:
                st.caption(note)
    if not st.toggle("Show how each variant adapted (support loss and time)",
                     key=f"{prefix}.details", persist_state="session"):
        return
    curves_column, timing_column = st.columns(2)
    curves = comparison.curves()
    ensemble = comparison.results.get("ensemble")
    followed = followed_member(ensemble.weights) if ensemble else None
    if followed:
        # Its single loss is the member's final one, which a flat line drew as if the
        # ensemble had not adapted at all.
        curves = curves[curves["variant"] != "ensemble"]
    if not curves.empty:
        curves_column.plotly_chart(charts.curves_figure(
            curves, colours, flat_labels={"ensemble": "blend of adapted members"}))
    if followed:
        curves_column.caption(f"The ensemble gives {followed} all its weight for these "
                              f"ratings, so it adapts exactly as {followed} does and has "
                              "no curve of its own.")
    left_out = not_ratings_text(comparison.results)
    if left_out:
        curves_column.caption(f"No squared-error curve for {left_out}: a squared error "
                              f"against star ratings means nothing for their scores.")
    classifiers = comparison.classifier_curves()
    if not classifiers.empty:
        # Log loss is on another scale than squared error, so these get a chart of their own.
        curves_column.plotly_chart(charts.curves_figure(
            classifiers, colours, loss="log loss", title="Support loss of the like/dislike "
                                                         "classifiers"))
    timing_column.plotly_chart(charts.timing_figure(comparison.timings(), colours))
    if "ensemble" in comparison.results:
        timing_column.caption("The ensemble's time is the sum of its members' adaptations "
                              "in its own run.")
    timing_column.caption("Each time is a single measurement, so it varies with the load "
                          "on the machine.")


def not_ratings_text(results: dict) -> str:
    """Name each variant of ``results`` whose scores are not ratings, with what they are.

    ``results`` maps variant names to :class:`VariantResult`.
    """
    return ", ".join(f"{name} ({result.score_label})"
                     for name, result in results.items() if result.is_ranker)


def left_out_note(results: dict) -> str | None:
    """Say which variants of ``results`` a chart of ratings leaves out; None when none."""
    left_out = not_ratings_text(results)
    if not left_out:
        return None
    return f"Left out of this chart, because their scores are not ratings: {left_out}."


def all_tied_dots_note(results: dict) -> str | None:
    """Say which rating variants of ``results`` have no filled dot, and why; else None."""
    tied = [name for name, result in results.items()
            if result.all_tied and not result.is_ranker]
    if not tied:
        return None
    single = len(tied) == 1
    possessive = "its" if single else "their"
    lists = "list" if single else "lists"
    return (f"{', '.join(tied)} {'scores' if single else 'score'} the titles of "
            f"{possessive} top {lists} exactly as others left out, so such a list is an "
            f"arbitrary pick: the chart leaves out {possessive} titles and draws "
            f"{possessive} dots open.")


@st.cache_data(show_spinner="Measuring what each rating does…", max_entries=32)
def _explain(models: tuple, ratings: tuple, variant: str, items: tuple, user: tuple,
             _recommender: Recommender, _dataset: Dataset) -> Explanation:
    return run_in_worker(explain_items, _recommender, _dataset, dict(ratings), variant,
                         list(items), dict(user))


def explanation_section(dataset: Dataset, recommender: Recommender, ratings: dict,
                        user: dict, comparison: Comparison, prefix: str):
    """Draw a switch that explains one chosen variant's top list, item by item."""
    st.header("Why these recommendations?")
    if not st.toggle("Explain a top list", key=f"{prefix}.explain", persist_state="session",
                     help="Adapts the variant again without each of your ratings, and "
                          "without all your ratings of each genre, and shows how much "
                          "each recommended item's score drops or rises."):
        return
    variant = st.selectbox("Top list of", list(comparison.results),
                           key=f"{prefix}.explain_variant")
    result = comparison.results[variant]
    try:
        explanation = _explain(models_key(dataset), tuple(sorted(ratings.items())), variant,
                               tuple(result.top["item_id"].tolist()),
                               tuple(sorted(user.items())), recommender, dataset)
    except ValueError as error:
        st.error(f"Could not explain {variant}: {error}")
        return
    if explanation.note:
        st.info(explanation.note)
        return

    change = explanation.items["change"].mean()
    summed = explanation.items["single_effects_sum"].mean()
    st.caption(
        f"Each effect is the score with all your ratings minus the score after adapting "
        f"{variant} again without that rating (or without every rating of that genre); "
        f"{explanation.adaptations} adaptations in {explanation.seconds * 1000:,.0f} ms. "
        f"Effects overlap, so they need not add up: on average over these items your "
        f"ratings moved the score by {change:+.2f} from the unadapted start, and the "
        f"single-rating effects sum to {summed:+.2f}.")
    if _effects_are_uniform(explanation):
        st.info(f"Every rating moves all these items by about the same amount, so the "
                f"reasons read alike: {variant}'s adaptation shifts your overall level more "
                f"than it reorders items. A variant that reorders more gives reasons "
                f"that differ from item to item.")
    table = explanation_table(explanation)
    # A ranking score is named as the top lists name it, such as "like probability".
    score_label = recommender.score_label(variant) if explanation.is_ranker else "predicted"
    table = table.rename(columns={"score": score_label}).set_index("title")
    st.table(table.style.format({score_label: "{:.2f}"}), border="horizontal")
    st.caption("Each row names at most the two rated titles that pushed its score up, the "
               "two that pulled it down and the two genres that moved it most. The charts "
               "below show every rated title and genre for the item chosen in *Effects "
               "on*.")

    mean_column, effects_column = st.columns(2)
    mean_column.plotly_chart(charts.prediction_vs_mean_figure(
        explanation.items, explanation.is_ranker, recommender.score_label(variant)))
    with effects_column:
        titles = dict(zip(explanation.items["item_id"], explanation.items["title"]))
        item = st.selectbox("Effects on", list(titles), format_func=titles.get,
                            key=f"{prefix}.explain_item")
        rated = explanation.rated[explanation.rated["item_id"] == item].assign(
            label=lambda rows: [f"{t} ({r:g}★)" for t, r in zip(rows["rated_title"],
                                                                 rows["rating"])])
        st.plotly_chart(charts.effects_figure(rated, "label", "Effect of each rating"))
        genres = explanation.genres[explanation.genres["item_id"] == item]
        if not genres.empty:
            st.plotly_chart(charts.effects_figure(
                genres, "genre", "Effect of all your ratings of one genre"))


def rating_rows(dataset: Dataset, items, ratings) -> pd.DataFrame:
    """Return ``title`` and ``rating`` (as stars) for parallel arrays of items and ratings."""
    titles = dataset.item_titles()
    return pd.DataFrame({"title": [titles.get(int(i), str(i)) for i in items],
                         "rating": [f"{r:g} ★" for r in ratings]})


def query_table(dataset: Dataset, plan, records: dict, variants, n: int) -> pd.DataFrame:
    """Return the held-out ratings with each variant's prediction after ``n`` ratings."""
    task = plan.task
    table = rating_rows(dataset, task.query_items, task.query_ratings)
    for variant in variants:
        table[variant] = records[(variant, n)].query_scores.round(2)
    return table


def table_height(rows: int) -> int:
    """Return an ``st.dataframe`` height in pixels that shows up to 10 rows, then scrolls."""
    return DATAFRAME_ROW_PX * (min(rows, DATAFRAME_MAX_ROWS) + 1) + 3
