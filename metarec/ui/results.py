"""Evaluation results for the Model comparison page: read, run, summarise and time them.

Results are the rows that ``python -m metarec evaluate --out OUT`` writes to ``OUT.csv``
and to the ``results`` list of ``OUT.json``: one row per models folder (``split_seed``),
variant and support size (``shots``), with every metric averaged over the users. The
page can also run the same evaluation itself (:func:`run_evaluation`).
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..evaluation.evaluate import (METRIC_NAMES, METRICS, evaluate_tasks,
                                  saved_scenario)
from ..evaluation.metrics import mean_confidence_interval
from ..tasks import parse_shots

MAX_BYTES = 50_000_000
REQUIRED_COLUMNS = ("variant", "shots")
# Columns of the long table the page downloads "with intervals" (see summarise).
SUMMARY_COLUMNS = ("variant", "shots", "metric", "mean", "ci95", "seeds")
LOWER_IS_BETTER = ("mae", "rmse")
# Decimals the metric table shows. Variants equal at this precision tie for best.
DECIMALS = 4
# A support size scored on fewer users than this gets a warning that its means are not
# reliable. With n users a mean's 95% Student's t interval spans t(0.975, n - 1) / sqrt(n)
# standard deviations of the per-user values each way: 0.77 for n = 9 and more for fewer
# users, so one user can reorder the variants. 10 is a round cut-off on that curve (0.72
# at 10, 0.47 at 20), not a measured one.
MIN_RELIABLE_USERS = 10
# The fix named by every error about a results file that cannot be read.
WRITTEN_BY = ("Upload a file that 'python -m metarec evaluate --out' wrote, or a CSV "
              "this page downloaded.")


class ResultsError(ValueError):
    """An uploaded results file cannot be read; the message names the problem and the fix."""


@dataclass
class EvaluationResults:
    """Per-seed evaluation rows and where they came from.

    Attributes
    ----------
    rows : pandas.DataFrame
        ``split_seed``, ``variant``, ``shots`` (text), ``users`` and one column per
        metric in :data:`metarec.evaluation.evaluate.METRICS` that was measured.
    source : dict
        What the file records about the run: ``dataset``, ``fingerprint`` (of the
        data, :meth:`metarec.data.Dataset.fingerprint`), ``scenario``, ``users`` and
        ``models`` (folders) when present.
    timings : pandas.DataFrame
        ``variant``, ``shots``, ``users`` and ``seconds`` of an evaluation run here;
        empty for a file, which records no times.
    summary : pandas.DataFrame or None
        For a file this page downloaded, which contains means instead of per-seed rows:
        its means, intervals and seed counts, as :func:`summarise` returns them. ``rows``
        then contains the means, as if of one models folder.
    entity : str
        What each task held out and ``users`` counts: "users", or "items" for results
        of the new-item scenario.
    """

    rows: pd.DataFrame
    source: dict = field(default_factory=dict)
    timings: pd.DataFrame = field(default_factory=pd.DataFrame)
    summary: pd.DataFrame | None = None
    entity: str = "users"

    @property
    def metrics(self) -> list[str]:
        """Metrics with at least one value, in the order of ``METRICS``."""
        return [m for m in METRICS if m in self.rows and self.rows[m].notna().any()]

    def counts(self) -> dict:
        """Return ``{shots: number of users}`` scored at each support size, where known.

        A file may hold rows of several models folders, and each variant of one folder
        scores the same users, so the count is the largest over the rows of a support
        size. Support sizes without a count (a table this page downloaded) are left out.
        """
        known = self.rows.dropna(subset=["users"])
        counts = known.groupby("shots", sort=False)["users"].max()
        return {shots: int(count) for shots, count in counts.items()}


def unreliable_shots(counts: dict) -> list:
    """Return the support sizes of ``counts`` ({shots: users}) scored on too few users.

    Those are the ones below :data:`MIN_RELIABLE_USERS`, whose means are not reliable.
    """
    return [shots for shots, count in counts.items() if count < MIN_RELIABLE_USERS]


def read_results(data: bytes, filename: str) -> EvaluationResults:
    """Parse ``OUT.json`` or ``OUT.csv`` as written by ``evaluate --out``.

    The two CSV files the Model comparison page downloads are read too: the metric
    table (a ``variant`` column and one ``METRIC K=shots`` column per cell) and the
    long table with intervals (the columns of :func:`summarise`).

    Raises
    ------
    ResultsError
        If the file is too large, not UTF-8, not valid JSON or CSV, lacks the
        ``variant`` or ``shots`` column, or has no metric column with numbers.
    """
    if len(data) > MAX_BYTES:
        raise ResultsError(f"'{filename}' is {len(data):,} bytes; results files may be at "
                           f"most {MAX_BYTES:,} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ResultsError(f"'{filename}' is not UTF-8 text ({error.reason} at byte "
                           f"{error.start})") from None
    if not text.strip():
        raise ResultsError(f"'{filename}' is empty. {WRITTEN_BY}")
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    source, entity = {}, "users"
    if extension == "json":
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise ResultsError(f"'{filename}' is not valid JSON: {error.msg} at line "
                               f"{error.lineno}, column {error.colno}. {WRITTEN_BY}") from None
        if not isinstance(document, dict) or not isinstance(document.get("results"), list):
            raise ResultsError(f"'{filename}' must be the JSON that 'python -m metarec "
                               "evaluate --out' writes, with a \"results\" list.")
        rows = pd.DataFrame(document["results"])
        source = {key: document[key]
                  for key in ("dataset", "fingerprint", "scenario", "users", "models")
                  if key in document}
        if source.get("scenario") == "new-item":
            entity = "items"
    elif extension == "csv":
        try:
            rows = pd.read_csv(io.StringIO(text), dtype={"shots": str})
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
            raise ResultsError(
                f"'{filename}' cannot be read as CSV, so it is not a results file that "
                "'python -m metarec evaluate --out OUT' wrote (OUT.csv or OUT.json) or "
                "that this page downloaded. Upload one of those files. Parser detail: "
                f"{parser_detail(error)}.") from None
        if "variant" in rows and "shots" not in rows and _table_columns(rows):
            return _from_table(rows, filename)
        if set(SUMMARY_COLUMNS) <= set(rows.columns) and not set(METRICS) & set(rows):
            return _from_summary(rows, filename)
    else:
        raise ResultsError(f"'{filename}' must end in .json or .csv. {WRITTEN_BY}")
    if "users" not in rows and "items" in rows:
        # evaluate --out counts the held-out items of the new-item scenario in "items".
        rows = rows.rename(columns={"items": "users"})
        entity = "items"
    return EvaluationResults(_check_rows(rows, filename), source, entity=entity)


def parser_detail(error: Exception, limit=120) -> str:
    """Return the first line of a pandas parser error, without its generic opening.

    The C parser of pandas 3.1 opens its errors with "Error tokenizing data. C error:",
    which gives no detail on the file. The rest is cut to ``limit`` characters.
    """
    lines = str(error).strip().splitlines()
    detail = lines[0] if lines else type(error).__name__
    detail = detail.removeprefix("Error tokenizing data. C error: ").rstrip(".")
    if len(detail) > limit:
        detail = detail[:limit - 1].rstrip() + "…"
    return detail


def _metric_key(name: str):
    """Return the key in ``METRICS`` of a metric key or display name, or None."""
    if name in METRICS:
        return name
    return next((key for key, shown in METRIC_NAMES.items() if shown == name), None)


def _table_columns(rows: pd.DataFrame) -> dict:
    """Return ``{column: (metric, shots)}`` for the ``METRIC K=shots`` columns of a table."""
    cells = {}
    for column in rows.columns:
        metric, separator, shots = str(column).rpartition(" K=")
        if separator and _metric_key(metric) and shots:
            cells[column] = (_metric_key(metric), shots)
    return cells


def _from_table(rows: pd.DataFrame, filename: str) -> EvaluationResults:
    """Read the metric table the page downloads: means only, with no intervals."""
    cells = _table_columns(rows)
    # Row by row, so that the variants keep the table's order.
    long = pd.DataFrame([{"variant": row["variant"], "shots": shots, "metric": metric,
                          "mean": row[column], "ci95": np.nan, "seeds": np.nan}
                         for _, row in rows.iterrows()
                         for column, (metric, shots) in cells.items()],
                        columns=list(SUMMARY_COLUMNS))
    return _from_summary(long, filename)


def _from_summary(summary: pd.DataFrame, filename: str) -> EvaluationResults:
    """Read means in the long form of :func:`summarise`, keeping their intervals."""
    summary = summary[list(SUMMARY_COLUMNS)].copy()
    summary["metric"] = summary["metric"].astype(str).map(lambda m: _metric_key(m) or m)
    for column in ("mean", "ci95", "seeds"):
        summary[column] = pd.to_numeric(summary[column], errors="coerce")
    summary = summary[summary["metric"].isin(METRICS) & summary["mean"].notna()]
    if summary.empty:
        raise ResultsError(f"'{filename}' has no numbers in any metric column; expected "
                           f"some of {', '.join(METRICS)}")
    summary["variant"] = summary["variant"].astype(str)
    summary["shots"] = summary["shots"].astype(str)
    wide = summary.pivot_table(index=["variant", "shots"], columns="metric", values="mean",
                               sort=False).reset_index()
    wide.columns.name = None
    rows = _check_rows(wide, filename)
    return EvaluationResults(rows, summary=summary.reset_index(drop=True))


def _check_rows(rows: pd.DataFrame, filename: str) -> pd.DataFrame:
    missing = [c for c in REQUIRED_COLUMNS if c not in rows]
    if missing:
        raise ResultsError(f"'{filename}' lacks the column(s) {', '.join(missing)}; write it "
                           "with 'python -m metarec evaluate --out FILE'")
    metrics = [m for m in METRICS if m in rows]
    for metric in metrics:
        rows[metric] = pd.to_numeric(rows[metric], errors="coerce")
    if not metrics or rows[metrics].isna().all().all():
        raise ResultsError(f"'{filename}' has no numbers in any metric column; expected "
                           f"some of {', '.join(METRICS)}")
    rows = rows.copy()
    rows["variant"] = rows["variant"].astype(str)
    rows["shots"] = rows["shots"].astype(str)
    if "split_seed" not in rows:
        rows["split_seed"] = 0
    if "users" not in rows:
        rows["users"] = np.nan
    return rows[["split_seed", "variant", "shots", "users", *metrics]]


def summarise(results: EvaluationResults) -> pd.DataFrame:
    """Return ``variant``, ``shots``, ``metric``, ``mean``, ``ci95`` and ``seeds``.

    Rows of several models folders (split seeds) are averaged, with Student's t 95%
    interval as ``ci95``; with one folder ``ci95`` is NaN. Variants and shots keep the
    order they first appear in. Results read from a file this page downloaded give the
    file's own summary.
    """
    if results.summary is not None:
        return results.summary.copy()
    out = []
    for (variant, shots), group in results.rows.groupby(["variant", "shots"], sort=False):
        for metric in results.metrics:
            values = group[metric].dropna().to_numpy(dtype=float)
            if not len(values):
                continue
            mean, half = mean_confidence_interval(values)
            out.append({"variant": variant, "shots": shots, "metric": metric, "mean": mean,
                        "ci95": half, "seeds": len(values)})
    return pd.DataFrame(out, columns=["variant", "shots", "metric", "mean", "ci95", "seeds"])


def metric_table(summary: pd.DataFrame, metrics) -> pd.DataFrame:
    """Return one row per variant and a ``METRIC K=shots`` column per metric and shots.

    Cells are means; a variant without a value (a ranking baseline's MAE) gets NaN.
    """
    summary = summary[summary["metric"].isin(metrics)]
    if summary.empty:
        return pd.DataFrame()
    variants = list(dict.fromkeys(summary["variant"]))
    shots = list(dict.fromkeys(summary["shots"]))
    columns, data = [], {}
    for metric in metrics:
        rows = summary[summary["metric"] == metric]
        wide = rows.pivot(index="variant", columns="shots", values="mean")
        for shot in shots:
            name = f"{metric} K={shot}"
            columns.append(name)
            data[name] = wide[shot] if shot in wide else pd.Series(dtype=float)
    table = pd.DataFrame(data).reindex(index=variants, columns=columns)
    return table.rename_axis("variant")


def best_variants(table: pd.DataFrame, decimals=DECIMALS) -> dict:
    """Return ``{column: [variant, ...]}``, the best variants of each metric column.

    Values are compared as shown with ``decimals`` decimals, so variants that show the
    same best value (the ensemble serving one member) are all listed.
    """
    best = {}
    for column in table.columns:
        values = table[column].dropna()
        if values.empty:
            continue
        metric = column.split(" K=")[0]
        top = values.min() if metric in LOWER_IS_BETTER else values.max()
        top_text = f"{top:.{decimals}f}"
        best[column] = [variant for variant, value in values.items()
                        if f"{value:.{decimals}f}" == top_text]
    return best


def run_evaluation(recommender, dataset, shots_list, variants=None, part="test",
                   catalogue=False, min_ratings=13, max_ratings=100,
                   progress=None, models_dir=None) -> EvaluationResults:
    """Evaluate ``variants`` on ``part`` users of the models' saved split, timing each.

    The users, the query draw (the split's seed) and the metrics are those of
    ``python -m metarec evaluate``, so the rows match its output for the same options.

    Parameters
    ----------
    progress : callable, optional
        Called as ``progress(fraction_done, message)`` before each variant and support
        size, and with 1.0 at the end.
    models_dir : str or Path, optional
        The folder ``recommender`` was loaded from, recorded in the results' ``source``.

    Raises
    ------
    ValueError
        If ``shots_list`` is empty or contains an invalid support size, or a variant is
        unknown.
    """
    shots_list = [parse_shots(s) for s in shots_list]
    if not shots_list:
        raise ValueError("choose at least one support size K")
    variants = list(variants or recommender.variants)
    unknown = [v for v in variants if v not in recommender.variants]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; choose from {recommender.variants}")
    report = progress or (lambda fraction, message: None)
    split = saved_scenario(recommender.manifest)
    user_features = recommender.encoder.encode_users(dataset.users)

    frames, timings, unscored = [], [], []
    steps = len(shots_list) * len(variants)
    for position, shots in enumerate(shots_list):
        tasks = split.tasks(dataset.ratings, part, shots, seed=split.users.seed,
                            min_ratings=min_ratings, max_ratings=max_ratings)
        if not tasks:
            unscored.append(str(shots))
            continue
        for offset, variant in enumerate(variants):
            report((position * len(variants) + offset) / steps,
                   f"K={shots}: {variant} on {len(tasks)} users")
            started = time.perf_counter()
            frame = evaluate_tasks(recommender, tasks, user_features, [variant], catalogue)
            seconds = time.perf_counter() - started
            frame.insert(1, "shots", str(shots))
            frames.append(frame)
            timings.append({"variant": variant, "shots": str(shots), "users": len(tasks),
                            "seconds": seconds})
    report(1.0, "done")
    if not frames:
        raise ValueError(f"no {part} user has enough ratings for K={shots_list}; lower the "
                         "support sizes")
    rows = pd.concat(frames, ignore_index=True)
    rows.insert(0, "split_seed", split.users.seed)
    source = {"dataset": dataset.name, "fingerprint": dataset.fingerprint(),
              "scenario": split.scenario, "users": part,
              "models": [str(models_dir)] if models_dir is not None else [],
              "shots": [str(shots) for shots in shots_list], "variants": variants,
              "catalogue": bool(catalogue)}
    if unscored:
        entity = "item" if split.scenario == "new-item" else "user"
        source["unscored"] = {
            "shots": unscored,
            "reason": f"no {part} {entity} with {min_ratings} to {max_ratings} ratings has "
                      f"room for the 10-rating query and that many support ratings"}
    return EvaluationResults(_check_rows(rows, "the evaluation"), source,
                             pd.DataFrame(timings),
                             entity="items" if split.scenario == "new-item" else "users")


def timing_per_user(timings: pd.DataFrame) -> pd.DataFrame:
    """Return ``variant`` and ``ms_per_user``: evaluation wall time over all users scored."""
    if timings.empty:
        return pd.DataFrame(columns=["variant", "ms_per_user"])
    totals = timings.groupby("variant", sort=False)[["seconds", "users"]].sum()
    return pd.DataFrame({"variant": totals.index,
                         "ms_per_user": (totals["seconds"] / totals["users"] * 1000).values})


def measure_latency(recommender, dataset, variants, shots=5, users=20,
                    part="test") -> pd.DataFrame:
    """Time one adaptation per user, as the dashboard adapts one person at a time.

    Each variant adapts to ``shots`` ratings of each of the first ``users`` eligible
    ``part`` users, one user after another. Returns ``variant``, ``median_ms``,
    ``p95_ms`` and ``adaptations``. Times exclude scoring, as
    :attr:`metarec.serving.recommender.Adaptation.seconds` does.
    """
    split = saved_scenario(recommender.manifest)
    tasks = split.tasks(dataset.ratings, part, shots, seed=split.users.seed)[:users]
    rows = []
    for variant in variants:
        seconds = [recommender.adapt(dict(zip(t.support_items.tolist(),
                                              t.support_ratings.tolist())), variant).seconds
                   for t in tasks]
        if not seconds:
            continue
        milliseconds = np.asarray(seconds) * 1000
        rows.append({"variant": variant, "median_ms": float(np.median(milliseconds)),
                     "p95_ms": float(np.percentile(milliseconds, 95)),
                     "adaptations": len(seconds)})
    return pd.DataFrame(rows, columns=["variant", "median_ms", "p95_ms", "adaptations"])


def variant_costs(manifest: dict, latency: pd.DataFrame) -> pd.DataFrame:
    """Return ``variant``, ``parameters``, ``train_seconds`` and ``median_ms`` per variant.

    Parameters and training time come from the models' manifest (networks only).
    """
    rows = []
    for name, entry in manifest.get("variants", {}).items():
        rows.append({"variant": name, "parameters": entry.get("parameters"),
                     "train_seconds": entry.get("train_seconds")})
    costs = pd.DataFrame(rows, columns=["variant", "parameters", "train_seconds"])
    return costs.merge(latency[["variant", "median_ms"]], on="variant", how="outer")
