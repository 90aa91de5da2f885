"""Streamlit side of the Dynamic session page: cached tasks and per-session step records."""

from __future__ import annotations

import streamlit as st

from ..data import Dataset
from ..serving.recommender import Recommender
from . import views
from .charts import variant_colours
from .compare import VariantResult
from .evaluation_charts import like_note, metric_label, session_curves_figure
from .session import (LOWER_IS_BETTER, QUERY_METRICS, SessionPlan, dropped_items,
                      metric_history, rank_changes, run_step, session_tasks)
from .state import models_key, run_in_worker

# Top lists side by side. With the ``move`` column, four in a row at 1280 px cut its
# header to "mov".
MAX_TOP_COLUMNS = 3


@st.cache_data(show_spinner="Finding the test users…", max_entries=4)
def _tasks(models: tuple, _recommender: Recommender, _dataset: Dataset) -> dict:
    return session_tasks(_recommender, _dataset)


def held_out_tasks(dataset: Dataset, recommender: Recommender) -> dict:
    """Return :func:`metarec.ui.session.session_tasks`, cached per models directory."""
    return _tasks(models_key(dataset), recommender, dataset)


def _run_steps(recommender, plan, wanted, k):
    return {(variant, n): run_step(recommender, plan, n, variant, k) for variant, n in wanted}


def step_records(dataset: Dataset, recommender: Recommender, plan: SessionPlan, n: int,
                 variants, state_key: str, k=10) -> dict:
    """Return ``{(variant, step): StepRecord}`` for every step from 0 to ``n``.

    Records live in ``st.session_state[state_key]``, so a person's replay stays theirs
    and going back or choosing a variant again costs nothing. They are dropped when the
    models or the user change. When the order of the ratings changes, the records of
    the steps before the first rating that moved are kept, because they adapted to the
    same ratings.
    """
    identity = (models_key(dataset), plan.user_id, k)
    items = tuple(int(item) for item in plan.items)
    stored = st.session_state.get(state_key)
    if not stored or stored["identity"] != identity:
        stored = {"identity": identity, "items": items, "records": {}}
        st.session_state[state_key] = stored
    elif stored["items"] != items:
        unchanged_steps = _shared_start(stored["items"], items)
        stored["records"] = {key: record for key, record in stored["records"].items()
                             if key[1] <= unchanged_steps}
        stored["items"] = items
    records = stored["records"]
    wanted = [(variant, step) for variant in variants for step in range(n + 1)
              if (variant, step) not in records]
    if wanted:
        with st.spinner(f"Adapting {len(wanted)} time(s)…"):
            records.update(run_in_worker(_run_steps, recommender, plan, wanted, k))
    return {(variant, step): records[(variant, step)]
            for variant in variants for step in range(n + 1)}


def _shared_start(before: tuple, after: tuple) -> int:
    """Return how many leading items ``before`` and ``after`` have in common."""
    for position, (old, new) in enumerate(zip(before, after)):
        if old != new:
            return position
    return min(len(before), len(after))


def top_columns(variants: int) -> int:
    """Return how many top lists to draw side by side, at most ``MAX_TOP_COLUMNS``.

    The rows are filled evenly: four lists go two and two, not three and one.
    """
    rows = -(-variants // MAX_TOP_COLUMNS)
    return max(-(-variants // max(rows, 1)), 1)


def score_column(recommender: Recommender, variant):
    """Return the held-out table's column of ``variant``, named by the kind of score.

    Ratings and probabilities get two decimals (by default 4.30 would show as 4.3), and
    popularity's counts none. Scores that are not ratings say what they are in the
    header, as the top lists do.
    """
    label = recommender.score_label(variant)
    header = variant if label == "predicted rating" else f"{variant} ({label})"
    return st.column_config.NumberColumn(header, help=f"{variant}: {label}",
                                         format="%d" if variant == "popularity" else "%.2f")


def draw_step(dataset: Dataset, recommender: Recommender, plan: SessionPlan, records: dict,
              variants, n: int, prefix: str):
    """Draw step ``n``: the ratings so far, the query predictions, top lists and curves."""
    held_out = len(plan.task.query_items)
    st.progress(n / len(plan), text=f"{n} of {len(plan)} ratings revealed; scored on the "
                                    f"other {held_out}, held out ({len(plan)} + {held_out} = "
                                    f"{len(plan) + held_out} ratings in all)")
    # The held-out table has a column per variant, so it gets the wider share, and past
    # three variants the whole width below the revealed ratings.
    if len(variants) <= 3:
        revealed_column, query_column = st.columns([2, 3])
    else:
        revealed_column, query_column = st.container(), st.container()
    with revealed_column:
        st.subheader("Revealed so far")
        if n:
            st.caption("Latest first.")
            latest = views.rating_rows(dataset, plan.items[:n][::-1], plan.ratings[:n][::-1])
            st.dataframe(latest, height=views.table_height(len(latest)), hide_index=True)
        else:
            known = demographics_text(dataset)
            st.info("Nothing revealed yet: every variant starts from what it meta-learned"
                    + (f" and the user's {known}." if known else
                       f"; {dataset.name!r} has no ages, genders or occupations."))
    with query_column:
        st.subheader("Held-out ratings and current predictions")
        query = views.query_table(dataset, plan, records, variants, n)
        formats = {v: score_column(recommender, v) for v in variants if v in query}
        st.dataframe(query, height=views.table_height(len(query)), hide_index=True,
                     column_config=formats)

    current = {v: records[(v, n)] for v in variants}
    previous = {v: records[(v, n - 1)].top if n else None for v in variants}
    # The weights make top_lists word the ensemble's time as New user does.
    top_of_scale = float(recommender.rating_scale[1])
    results = {v: VariantResult(v, r.top, [], r.seconds, r.weights,
                                recommender.is_ranker(v),
                                score_label=recommender.score_label(v),
                                top_of_scale=None if recommender.is_ranker(v) else top_of_scale,
                                all_tied=r.all_tied)
               for v, r in current.items()}
    st.header(f"Top {len(next(iter(current.values())).top)} after {n} "
              f"rating{'' if n == 1 else 's'}")
    if n:
        st.caption(f"The move column compares each list with the one after {n - 1} "
                   f"rating{'' if n - 1 == 1 else 's'}, also after several revealed at once.")
    views.top_lists(results, {v: rank_changes(previous[v], current[v].top) for v in variants},
                    columns_per_row=top_columns(len(variants)))
    dropped = {v: dropped_items(previous[v], current[v].top) for v in variants}
    if any(dropped.values()):
        st.caption("Left the top list with this rating: " + "; ".join(
            f"{v}: {', '.join(titles)}" for v, titles in dropped.items() if titles))

    st.header("Accuracy on the held-out ratings so far")
    metric = st.selectbox("Metric", list(QUERY_METRICS), format_func=metric_label,
                          key=f"{prefix}.metric", persist_state="session")
    st.plotly_chart(session_curves_figure(metric_history(records.values()), metric,
                                          variant_colours(recommender.variants), n))
    left_out = views.left_out_note(results) if metric in LOWER_IS_BETTER else None
    if left_out:
        st.caption(left_out)
    likes = like_note([metric], recommender.rating_scale)
    if likes:
        st.caption(likes)


def demographics_text(dataset) -> str:
    """Return the user fields that ``dataset`` has values for, such as "age and gender"."""
    fields = [name for column, name in (("age", "age"), ("gender", "gender"),
                                         ("occupation", "occupation"))
              if column in dataset.users and dataset.users[column].notna().any()
              and (dataset.users[column].astype(str).str.strip() != "").any()]
    if len(fields) > 1:
        return ", ".join(fields[:-1]) + " and " + fields[-1]
    return fields[0] if fields else ""
