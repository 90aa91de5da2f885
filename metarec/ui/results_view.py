"""Streamlit side of the Model comparison page: sources, downloads, cost and timing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from ..data import Dataset
from ..evaluation.evaluate import METRIC_NAMES
from ..serving.recommender import Recommender
from ..tasks import parse_shots
from . import evaluation_charts
from .results import (DECIMALS, LOWER_IS_BETTER, MIN_RELIABLE_USERS, EvaluationResults,
                      ResultsError, measure_latency, read_results, run_evaluation,
                      timing_per_user, unreliable_shots, variant_costs)
from .state import (dataset_fingerprint, models_dir_for, models_key, recommender_or_message,
                    run_in_worker)

SHOT_CHOICES = ["0", "1", "2", "3", "5", "10", "20", "all"]
# With more variants than this, the charts start with FEATURED only.
MAX_DEFAULT_VARIANTS = 6
FEATURED = ("teacher", "student", "user-bias", "mf-als", "ensemble")
COSTS = {
    "median_ms": "adaptation time for one user (median ms)",
    "parameters": "parameters",
    "train_seconds": "training time (s)",
}
# Costs in milliseconds or seconds, whose axis gets plain decimal ticks.
TIME_COSTS = ("median_ms", "train_seconds")
# Reason a variant lacks each cost, for the trade-off chart's note on the variants it
# leaves out.
NO_COST_REASONS = {
    "median_ms": "no adaptation of theirs was timed with the dashboard's models",
    "parameters": "only networks have parameters",
    "train_seconds": "only networks record a training time",
}
# With Streamlit 1.67 in Chromium, a table's index column (here the variant) stayed in
# view while the table scrolled sideways only when the table had a width in pixels.
# A width above the page's was drawn at the page's width.
PINNED_TABLE_WIDTH_PX = 10_000


def load_controls(prefix: str) -> EvaluationResults | None:
    """Draw a results upload and return its parsed contents, or None with a message.

    Streamlit empties the upload when the person switches pages, so the parsed results
    are kept in ``st.session_state`` until the person removes the file or replaces it
    with one that loads. While an invalid file is in the upload box, the page shows its
    error above the results loaded before it.
    """
    loaded_key, file_key = f"{prefix}.loaded", f"{prefix}.file"
    invalid_key = f"{prefix}.invalid"
    upload = st.file_uploader(
        "Results file (.json or .csv)", type=["json", "csv"], key=file_key,
        on_change=_forget_removed_results, args=(file_key, loaded_key, invalid_key),
        help="Written by 'python -m metarec evaluate --out FILE', which creates FILE.json "
             "and FILE.csv. Add --seeds 0 1 2 for intervals over several trainings. The "
             "CSV files this page downloads load too.")
    if upload is not None:
        try:
            results = read_results(upload.getvalue(), upload.name)
        except ResultsError as error:
            st.session_state[invalid_key] = True
            st.error(str(error))
            if loaded_key not in st.session_state:
                return None
            name, results = st.session_state[loaded_key]
            st.caption(f"Still showing '{name}', loaded earlier in this session. Load a "
                       "valid file to replace it.")
            return results
        st.session_state.pop(invalid_key, None)
        st.session_state[loaded_key] = (upload.name, results)
        return results
    if loaded_key in st.session_state:
        name, results = st.session_state[loaded_key]
        st.caption(f"Showing '{name}', loaded earlier in this session. Load another file "
                   "to replace it.")
        return results
    st.info("Load the JSON or CSV that 'python -m metarec evaluate --out FILE' writes, "
            "or a CSV this page downloaded, or choose to run an evaluation here.")
    return None


def _forget_removed_results(file_key: str, loaded_key: str, invalid_key: str):
    """Drop the loaded results once the × removed their file from the upload box.

    Removing an invalid file that replaced them keeps them. A page switch empties the
    box without this callback, so an empty box alone keeps them too.
    """
    if st.session_state.get(file_key) is not None:
        return
    if not st.session_state.pop(invalid_key, False):
        st.session_state.pop(loaded_key, None)


def keep_known(key: str, options, default, same_options_only=False):
    """Set the choice under ``key`` before its widget: the remembered one, else ``default``.

    Another results file can have other variants, metrics or support sizes than the
    choices a person made for the last one, so choices that ``options`` lacks are
    dropped, and ``default`` replaces a choice left empty. The widget then gets no
    default of its own. Set here on every run, the value also reaches the browser: a
    value only carried over from an earlier file was used by the page but not shown in
    its picker.

    With ``same_options_only``, a choice made among other options is not kept either,
    so a file starts with ``default`` whatever file came before it.
    """
    value = st.session_state.get(key)
    options_key = f"{key}.options"
    if same_options_only and st.session_state.get(options_key) not in (None, list(options)):
        value = None
    st.session_state[options_key] = list(options)
    if isinstance(value, list):
        value = [v for v in value if v in options] or None
    elif value not in options:
        value = None
    st.session_state[key] = default if value is None else value


def run_controls(dataset: Dataset, recommender: Recommender,
                 prefix: str) -> EvaluationResults | None:
    """Draw evaluation options and a run button; return the latest run on this data.

    Runs are kept per data set and models (:func:`metarec.ui.state.models_key`), so
    choosing other data in the sidebar never shows a run on the data before it, and
    choosing that data again brings its run back.
    """
    runs = st.session_state.setdefault(f"{prefix}.run_results", {})
    if not isinstance(runs, dict):
        # A session from before runs were kept per data set stored one run here.
        runs = st.session_state[f"{prefix}.run_results"] = {}
    run_key = models_key(dataset)
    shots_column, users_column, catalogue_column = st.columns([3, 1, 2],
                                                              vertical_alignment="bottom")
    # persist_state="session" keeps the choices across page switches, as the results
    # run with them are kept too.
    shots = shots_column.multiselect(
        "Support sizes K", SHOT_CHOICES, default=["1", "5", "all"], key=f"{prefix}.shots",
        persist_state="session",
        help="Ratings each held-out user gives before the query is scored. K=0 scores "
             "users before any rating, from their demographics and what the models learned "
             "about the items.")
    part = users_column.selectbox("Users", ["test", "validation"], key=f"{prefix}.part",
                                  persist_state="session")
    catalogue = catalogue_column.checkbox(
        "Rank the whole catalogue too", key=f"{prefix}.catalogue", persist_state="session",
        help="Adds catalogue nDCG, precision and recall at 10; takes several times longer.")
    variants_key = f"{prefix}.run_variants"
    remembered = st.session_state.get(variants_key)
    if remembered and set(remembered) - set(recommender.variants):
        # Variants chosen for other models, which these models lack.
        st.session_state[variants_key] = [variant for variant in remembered
                                          if variant in recommender.variants]
    variants = st.multiselect("Variants to evaluate", recommender.variants,
                              default=recommender.variants, key=variants_key,
                              persist_state="session")
    missing_choices = missing_choices_note(shots, variants)
    if missing_choices:
        st.caption(missing_choices)
    if st.button("Run evaluation", type="primary", disabled=bool(missing_choices)):
        bar = st.progress(0.0, text="Evaluating…")
        try:
            runs[run_key] = run_evaluation(
                recommender, dataset, sorted(shots, key=_shot_order), variants, part,
                catalogue, progress=lambda fraction, text: bar.progress(fraction, text=text),
                models_dir=models_dir_for(dataset))
        except ValueError as error:
            st.error(f"The evaluation failed: {error}")
        bar.empty()
    results = runs.get(run_key)
    if results is not None:
        st.caption(run_settings_note(results, sorted(shots, key=_shot_order), part,
                                     catalogue, variants))
    if results is None:
        st.info("Choose the support sizes and run the evaluation. It adapts every variant "
                "to each held-out user, as 'python -m metarec evaluate' does.")
        others = sorted({run.source.get("dataset", "?") for run in runs.values()})
        if others:
            st.caption("Evaluations run earlier in this session, on "
                       + ", ".join(repr(name) for name in others)
                       + ", come back when you choose that data in the sidebar.")
    return results


def missing_choices_note(shots, variants) -> str:
    """Return why the Run evaluation button is disabled, or "" when it is enabled."""
    missing = [name for name, chosen in (("support size K", shots), ("variant", variants))
               if not chosen]
    if not missing:
        return ""
    return f"Choose at least one {' and one '.join(missing)} to run the evaluation."


def _listed(values) -> str:
    """Return ``values`` as "a", "a and b" or "a, b and c"."""
    values = [str(value) for value in values]
    if len(values) <= 1:
        return "".join(values)
    return ", ".join(values[:-1]) + " and " + values[-1]


def run_settings_note(results: EvaluationResults, shots, part, catalogue, variants) -> str:
    """Return the settings ``results`` were run with, and whether the options now differ.

    ``shots``, ``part``, ``catalogue`` and ``variants`` are the options on the page, which
    the next press of Run evaluation uses.
    """
    source = results.source
    run_shots = source.get("shots") or list(dict.fromkeys(results.rows["shots"]))
    run_part = source.get("users", "test")
    run_variants = source.get("variants") or list(dict.fromkeys(results.rows["variant"]))
    run_catalogue = source.get("catalogue")
    parts = [f"The results below are of {run_part} users at "
             f"{_listed(f'K={k}' for k in run_shots)}"]
    if run_catalogue is not None:
        # None: results kept from a version of this page that did not record it.
        parts.append("ranking the whole catalogue too" if run_catalogue
                     else "without ranking the whole catalogue")
    parts.append(f"for {len(run_variants)} variant{'' if len(run_variants) == 1 else 's'}")
    note = ", ".join(parts) + "."
    same = (list(shots) == list(run_shots) and part == run_part
            and (run_catalogue is None or bool(catalogue) == run_catalogue)
            and set(variants) == set(run_variants))
    if not same:
        note += (" The options above have changed since, so Run evaluation would "
                 "compute other results.")
    return note


def default_variants(variants) -> list:
    """Return ``variants`` when there are few, else those of ``FEATURED`` among them."""
    if len(variants) <= MAX_DEFAULT_VARIANTS:
        return list(variants)
    featured = [v for v in variants if v in FEATURED]
    return featured or list(variants)


def _shot_order(shots: str):
    value = parse_shots(shots)
    return float("inf") if value == "all" else value


def source_sentence(results: EvaluationResults) -> str:
    """Return what ``results`` were computed on, as far as their file records it.

    The CSV of ``python -m metarec evaluate --out`` records neither the data set nor
    the scenario (its JSON records both), so its sentence states that.
    """
    source = results.source
    if results.summary is None:
        seeds = results.rows["split_seed"].nunique()
    else:
        # A downloaded table contains means only. Its long form also records the seeds.
        seeds = results.summary["seeds"].max()
    if pd.isna(seeds):
        return ("Means from a metric table this page downloaded. Such a table does not "
                "record the data, the users or how many models folders it averages.")
    entity = results.entity
    counts = results.counts()
    per_shot = ", ".join(f"K={shots}: {text}" for shots, text in count_ranges(results).items())
    folders = f"{seeds:.0f} models folder{'' if seeds == 1 else 's'} (one per split seed)"
    if not (source.get("dataset") or source.get("scenario")):
        scored = f"{entity} scored per support size ({per_shot}), " if counts else ""
        return (f"Results on {scored}{folders}. This file does not record the data set "
                "or the scenario, but the JSON that 'python -m metarec evaluate --out' "
                "writes next to its CSV records both.")
    counted = f"{source['users']} {entity}" if source.get("users") else entity
    parts = [f"dataset {source['dataset']!r}" if source.get("dataset") else None,
             f"scenario {source['scenario']}" if source.get("scenario") else None,
             f"{counted} per support size ({per_shot})" if counts
             else (counted if source.get("users") else None),
             folders]
    return "Results on " + ", ".join(p for p in parts if p) + "."


def count_ranges(results: EvaluationResults) -> dict:
    """Return ``{shots: "79 to 86"}``, the range over models folders of users scored.

    Each models folder (split seed) contains other test users, so one count per support
    size would hide that folders scored different numbers. Equal counts give one number.
    """
    known = results.rows.dropna(subset=["users"])
    per_run = ["split_seed", "shots"] if "split_seed" in known else ["shots"]
    ranges = {}
    for shots, values in known.groupby(per_run, sort=False)["users"].max().groupby(
            "shots", sort=False):
        low, high = int(values.min()), int(values.max())
        ranges[shots] = f"{low:,}" if low == high else f"{low:,} to {high:,}"
    return ranges


def other_data_label(results: EvaluationResults, dataset: Dataset) -> str | None:
    """Name the data that ``results`` record when it is not ``dataset``, else return None.

    The data's fingerprint decides where the results record one, so an upload and its
    edited version differ although they share a name: the label is then "another version
    of 'NAME'". Results that record no data give None.
    """
    recorded = results.source.get("dataset")
    fingerprint = results.source.get("fingerprint")
    if fingerprint:
        if fingerprint == dataset_fingerprint(dataset):
            return None
        if not recorded:
            return "other data"
        if recorded == dataset.name:
            return f"another version of {recorded!r}"
        return repr(recorded)
    if recorded and recorded != dataset.name:
        return repr(recorded)
    return None


def describe_source(results: EvaluationResults, dataset: Dataset):
    """Caption what the results were computed on, and warn when it is other data."""
    st.caption(source_sentence(results))
    other = other_data_label(results, dataset)
    if other is not None:
        st.warning(f"These results are for {other}, but the sidebar's data is "
                   f"{dataset.name!r}, so they are not plotted against the sidebar's "
                   f"costs. Choose {other} in the sidebar to compare accuracy with cost. "
                   "The timings below come from the sidebar's models.")
    unreliable = unreliable_note(results.counts(), results.entity)
    if unreliable:
        st.warning(unreliable)
    unscored = results.source.get("unscored")
    if unscored:
        listed = ", ".join(f"K={shots}" for shots in unscored["shots"])
        st.info(f"Left out of this run: {listed}, because {unscored['reason']}.")


def unreliable_note(counts: dict, entity: str) -> str:
    """Return a warning naming the support sizes scored on too few ``entity``, or "".

    Which are too few follows :func:`metarec.ui.results.unreliable_shots`.
    """
    few = unreliable_shots(counts)
    if not few:
        return ""
    listed = ", ".join(f"K={shots} on {counts[shots]:,}" for shots in few)
    return (f"Scored on fewer than {MIN_RELIABLE_USERS} {entity}: {listed}. Means over "
            f"so few {entity} are not reliable, because one {entity[:-1]} more or less can "
            f"reorder the variants. Compare the variants at support sizes scored on more "
            f"{entity}, or evaluate data with more {entity} that have enough ratings.")


def few_counts_note(counts: dict, entity: str) -> str:
    """Return a sentence naming the support sizes scored on few of ``entity``, or "".

    ``counts`` maps each support size to its number of users, as
    :meth:`EvaluationResults.counts` returns it; which sizes are few follows
    :func:`metarec.ui.evaluation_charts.few_shots`.
    """
    few = evaluation_charts.few_shots(counts)
    if not few:
        return ""
    largest = max(counts.values())
    listed = ", ".join(f"K={shots} on {counts[shots]:,}" for shots in few)
    share = evaluation_charts.FEW_SHARE
    return (f"Shaded: support sizes scored on fewer than {share:.0%} as many {entity} as "
            f"the largest count ({largest:,}): {listed}. Their points average other, fewer "
            f"{entity}, so a dip or a jump there may come from that subset rather than "
            "from K.")


def highlight_best(table: pd.DataFrame, best: dict):
    """Return ``table`` styled with four decimals and the best cells of each column bold.

    ``best`` maps a column to its best variants, as :func:`best_variants` returns them;
    every variant tied for best is bold. Column headers such as ``mae K=1`` are shown
    as ``MAE K=1``.
    """
    def header(column):
        metric, _, shots = column.rpartition(" ")
        return f"{METRIC_NAMES.get(metric, metric)} {shots}" if metric else column

    best = {header(column): set(variants) for column, variants in best.items()}

    def bold(column):
        return ["font-weight: bold" if variant in best.get(column.name, ()) else ""
                for variant in column.index]

    return table.rename(columns=header).style.format(
        f"{{:.{DECIMALS}f}}", na_rep="–").apply(bold)


def interval_note(summary: pd.DataFrame) -> str:
    if summary["seeds"].isna().all():
        return "The file contains means only, so there are no intervals."
    if summary["seeds"].max() > 1:
        return ("Cells are means over the models folders; the 95% intervals are in the "
                "downloaded rows and the error bars.")
    return "One models folder, so there are no intervals over seeds."


def long_form_label(summary: pd.DataFrame) -> str:
    """Return the label of the long form's download, naming intervals only when it has some."""
    if summary["ci95"].notna().any():
        return "Download with intervals (CSV)"
    return "Download long form (CSV)"


def download_buttons(table: pd.DataFrame, summary: pd.DataFrame, prefix: str):
    """Offer the shown metric table and its long form (with any intervals) as CSV.

    Both files load again under "Load a results file" (see :func:`read_results`).
    """
    # A row sized to the labels: in quarter-width columns the second one was cut.
    row = st.container(horizontal=True)
    row.download_button("Download table (CSV)", table.to_csv(), "metarec-comparison.csv",
                        mime="text/csv", on_click="ignore", key=f"{prefix}.download_table")
    row.download_button(long_form_label(summary), summary.to_csv(index=False),
                        "metarec-comparison-long.csv", mime="text/csv", on_click="ignore",
                        key=f"{prefix}.download_rows",
                        help="One row per variant, metric and K, with the number of models "
                             "folders averaged. The ci95 column is the 95% interval over "
                             "those folders, empty when there is one.")


@st.cache_data(show_spinner="Timing each variant's adaptation…", max_entries=8)
def _latency(models: tuple, variants: tuple, _recommender: Recommender,
             _dataset: Dataset) -> pd.DataFrame:
    return run_in_worker(measure_latency, _recommender, _dataset, list(variants))


def measured_models_note(dataset: Dataset, results: EvaluationResults, quantity: str) -> str:
    """Return a sentence naming the models folder that ``quantity`` (costs, times) came from.

    Costs and times always come from the dashboard's models for ``dataset``, while a
    loaded results file may come from other models, which the note then states.
    """
    folder = models_dir_for(dataset)
    note = f"{quantity} come from the dashboard's models for {dataset.name!r}, in '{folder}'"
    recorded = [str(name) for name in results.source.get("models") or []]
    same_folder = any(Path(name).resolve() == folder.resolve() for name in recorded)
    if not results.timings.empty:
        # Only an evaluation run here has timings, and it records the folder it used.
        if same_folder and other_data_label(results, dataset) is None:
            return note + ", which the evaluation above used too."
        listed = ", ".join(f"'{name}'" for name in recorded) or "other models"
        return (note + f". The evaluation above used {listed} on "
                f"{results.source.get('dataset', 'other data')!r}, so these may differ.")
    if not recorded:
        return (note + ". They may differ from the models that produced the loaded "
                "results file, which does not name its models folder.")
    # NOTE: a relative folder in the file is resolved against the dashboard's working
    # directory, which may not be where the evaluation ran.
    if same_folder:
        return note + ", the folder that the loaded results file records."
    listed = ", ".join(f"'{name}'" for name in recorded)
    return (note + f". The loaded results file records other models ({listed}), so "
            "these may differ from the models that produced it.")


def tradeoff_section(dataset: Dataset, summary: pd.DataFrame, metrics, results,
                     colours, prefix: str):
    """Draw the accuracy/cost scatter and the per-variant timing bars."""
    recommender = recommender_or_message(dataset)
    variants = list(dict.fromkeys(summary["variant"]))
    if recommender is None:
        st.info("The costs come from the trained models, which are missing.")
        return
    known = tuple(v for v in variants if v in recommender.variants)
    latency = _latency(models_key(dataset), known, recommender, dataset)
    costs = variant_costs(recommender.manifest, latency)

    other = other_data_label(results, dataset)
    if other is None:
        _accuracy_cost_chart(dataset, summary, metrics, results, colours, prefix, costs)
    else:
        st.info(f"Not drawn: the results are for {other} and the costs for the "
                f"sidebar's data, {dataset.name!r}. Choose {other} in the sidebar to "
                "draw accuracy against cost.")

    st.header("Timing")
    latency_column, evaluation_column = st.columns(2)
    if not latency.empty:
        bars = latency.rename(columns={"median_ms": "ms_per_user"})
        latency_column.plotly_chart(evaluation_charts.timing_bars_figure(
            bars, "Adapting to one user (median)", colours))
        latency_column.caption(
            f"Median of {int(latency['adaptations'].max())} adaptations to 5 ratings of "
            "different test users, one at a time on the dashboard's adaptation thread; "
            "scoring excluded. Measured on this machine now, so it moves with its load. "
            + measured_models_note(dataset, results, "These times"))
    per_user = timing_per_user(results.timings)
    if per_user.empty:
        evaluation_column.info("Run an evaluation here to see each variant's evaluation "
                               "time per user; results files record no times.")
    else:
        evaluation_column.plotly_chart(evaluation_charts.timing_bars_figure(
            per_user, "Evaluation time per user", colours))
        evaluation_column.caption("Wall time of adapting and scoring each user in batches, "
                                  "over every support size evaluated.")


def _accuracy_cost_chart(dataset: Dataset, summary: pd.DataFrame, metrics, results,
                         colours, prefix: str, costs: pd.DataFrame):
    """Draw one metric at one K against one cost of the sidebar's models."""
    # The cost gets the widest share: in thirds its label was cut at 1280 px.
    metric_column, shots_column, cost_column = st.columns([2, 1, 3])
    keep_known(f"{prefix}.tradeoff_metric", metrics, metrics[0])
    metric = metric_column.selectbox("Accuracy", metrics, key=f"{prefix}.tradeoff_metric",
                                     format_func=evaluation_charts.metric_label,
                                     persist_state="session")
    shot_options = list(dict.fromkeys(summary["shots"]))
    keep_known(f"{prefix}.tradeoff_shots", shot_options, shot_options[-1])
    shots = shots_column.selectbox("At K", shot_options, key=f"{prefix}.tradeoff_shots",
                                   persist_state="session")
    cost = cost_column.selectbox("Cost", list(COSTS), format_func=COSTS.get,
                                 key=f"{prefix}.tradeoff_cost", persist_state="session")
    points = tradeoff_points(summary, costs, metric, shots, cost)
    st.plotly_chart(evaluation_charts.tradeoff_figure(
        points, metric, COSTS[cost], colours,
        cost_tickformat=evaluation_charts.TIME_TICKFORMAT if cost in TIME_COSTS else None))
    if cost == "median_ms":
        st.caption("The adaptation time is the median adaptation to 5 ratings (see Timing "
                   "below), whichever K the accuracy is taken at.")
    st.caption(measured_models_note(dataset, results, "The costs"))
    left_out = left_out_note(points, metric, shots, cost)
    if left_out:
        st.caption(left_out)


def tradeoff_points(summary: pd.DataFrame, costs: pd.DataFrame, metric, shots,
                    cost) -> pd.DataFrame:
    """Return ``variant``, ``value`` and ``cost``: one row per variant of ``summary``.

    ``value`` is the mean of ``metric`` at ``shots`` and ``cost`` the ``cost`` column of
    ``costs``. A variant without either (a ranking baseline's MAE, a baseline's
    parameters) keeps its row with NaN, so the chart's note can name it.
    """
    variants = list(dict.fromkeys(summary["variant"]))
    chosen = summary[(summary["metric"] == metric) & (summary["shots"] == shots)]
    values = chosen.drop_duplicates("variant").set_index("variant")["mean"]
    by_variant = costs.drop_duplicates("variant").set_index("variant")[cost]
    return pd.DataFrame({
        "variant": variants,
        "value": pd.to_numeric([values.get(v) for v in variants], errors="coerce"),
        "cost": pd.to_numeric([by_variant.get(v) for v in variants], errors="coerce"),
    })


def left_out_note(points: pd.DataFrame, metric, shots, cost) -> str:
    """Return sentences naming each variant the trade-off chart leaves out, and why, or "".

    ``points`` are those of :func:`tradeoff_points`. The chart's cost axis is
    logarithmic, so a cost of 0 or less is left out too.
    """
    name = METRIC_NAMES.get(metric, metric)
    no_value = points.loc[points["value"].isna(), "variant"].tolist()
    has_value = points["value"].notna()
    no_cost = points.loc[has_value & points["cost"].isna(), "variant"].tolist()
    not_positive = points.loc[has_value & (points["cost"] <= 0), "variant"].tolist()
    sentences = []
    if no_value:
        reason = (", because ranking baselines and variants trained on likes predict no "
                  "ratings" if metric in LOWER_IS_BETTER else "")
        sentences.append(f"Not drawn, for lack of a value of {name} at K={shots}: "
                         f"{_listed(no_value)}{reason}.")
    if no_cost:
        label = COSTS[cost]
        article = "an" if label[0] in "aeiou" else "a"
        sentences.append(f"Not drawn, for lack of {article} {label} value: "
                         f"{_listed(no_cost)}, because {NO_COST_REASONS[cost]}.")
    if not_positive:
        sentences.append("Not drawn, because the log cost axis cannot show a cost of 0: "
                         f"{_listed(not_positive)}.")
    return " ".join(sentences)
