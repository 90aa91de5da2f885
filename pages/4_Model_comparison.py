"""Model comparison: evaluation metrics, K-shot curves, accuracy against cost, timing."""

import streamlit as st

from metarec.ui import results_view
from metarec.ui.charts import variant_colours
from metarec.ui.evaluation_charts import kshot_figure, like_note, metric_label
from metarec.ui.results import best_variants, metric_table, summarise
from metarec.ui.state import recommender_or_message, selected_dataset

PREFIX = "comparison"
LOAD, RUN = "Load a results file", "Run an evaluation here"

st.set_page_config(page_title="Model comparison · metarec", layout="wide")
st.title("Model comparison")
st.caption("Compare every variant on held-out users: error and ranking metrics by the "
           "number of ratings each user gave (K), what accuracy costs in time and size, "
           "and how long adapting takes.")

dataset = selected_dataset()
if dataset is None:
    st.stop()
source = st.radio("Results", [LOAD, RUN], horizontal=True, key=f"{PREFIX}.source",
                  persist_state="session")
if source == LOAD:
    results = results_view.load_controls(PREFIX)
else:
    recommender = recommender_or_message(dataset)
    if recommender is None:
        st.stop()
    results = results_view.run_controls(dataset, recommender, PREFIX)
if results is None:
    st.stop()
results_view.describe_source(results, dataset)

summary = summarise(results)
# A remembered choice replaces the default (see results_view.keep_known).
# dict.fromkeys: results whose first metric is nDCG@3 start with it once, because a
# metric chosen twice gave the table two columns of one name.
results_view.keep_known(f"{PREFIX}.metrics", results.metrics, list(dict.fromkeys(
    results.metrics[:1] + [m for m in ("ndcg@3",) if m in results.metrics])))
metrics = st.multiselect("Metrics", results.metrics, format_func=metric_label,
                         key=f"{PREFIX}.metrics", persist_state="session")
all_variants = list(dict.fromkeys(summary["variant"]))
# A choice made among another file's variants is not kept, so the same results start
# with the same variants whichever file came before them.
results_view.keep_known(f"{PREFIX}.variants", all_variants,
                        results_view.default_variants(all_variants), same_options_only=True)
variants = st.multiselect("Variants", all_variants,
                          key=f"{PREFIX}.variants", persist_state="session",
                          help="Starts with the meta-learned variants and the baselines they "
                               "must beat when the results have many variants.")
if not metrics or not variants:
    st.info("Choose at least one metric and one variant.")
    st.stop()
shown = summary[summary["variant"].isin(variants)]
colours = variant_colours(all_variants)

st.header("Metrics")
table = metric_table(shown, metrics)
best = best_variants(table)
st.table(results_view.highlight_best(table, best), border="horizontal",
         width=results_view.PINNED_TABLE_WIDTH_PX)
st.caption("Bold: the best value in each column (lowest error, highest ranking metric), "
           "for every variant that shows it. "
           + results_view.interval_note(shown))
# Results of other data may have another scale, which the files do not record.
likes = like_note(metrics, dataset.rating_scale)
if likes and results_view.other_data_label(results, dataset) is None:
    st.caption(likes)
results_view.download_buttons(table, shown, PREFIX)

st.header("By support size")
counts = results.counts()
columns = st.columns(min(len(metrics), 2))
for position, metric in enumerate(metrics):
    columns[position % len(columns)].plotly_chart(
        kshot_figure(shown[shown["metric"] == metric], metric, colours, counts,
                     results.entity, results_view.count_ranges(results)))
few_note = results_view.few_counts_note(counts, results.entity)
if few_note:
    st.caption(few_note)

st.header("Accuracy against cost")
results_view.tradeoff_section(dataset, shown, metrics, results, colours, PREFIX)
