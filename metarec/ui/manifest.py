"""Tables of a models directory's manifest, for the dashboard's home page."""

from __future__ import annotations

import pandas as pd

from .views import WEIGHT_TOLERANCE

ALGORITHM_NAMES = {"maml": "second-order MAML", "fomaml": "first-order MAML",
                   "metasgd": "Meta-SGD"}
# The parameters each ``adapt`` setting lets the inner loop change.
ADAPTED_PARTS = {
    "personal": "the user's embedding and bias",
    "decision": "the decision layers",
    "personal+decision": "the user's embedding and bias and the decision layers",
    "all": "every parameter",
}

# Descriptions of the classical baselines, keyed by the class name in the manifest.
CLASSICAL_DETAILS = {
    "GlobalMean": "mean of all training ratings",
    "ItemMean": "shrunk mean rating of the item",
    "UserBiasBaseline": "shrunk item mean plus the user's shrunk rating bias",
    "ALSMatrixFactorization": "biased matrix factorization by ALS, the new user's "
                              "factors solved by ridge regression",
    "PopularityRanker": "ranks items by their number of training ratings",
    "RandomRanker": "ranks items in random order, the floor",
}


def _steps(count) -> str:
    return f"{count} step" if count == 1 else f"{count} steps"


def describe_schedule(learner: dict) -> str:
    """Return how many inner steps a variant takes for each number of ratings, in words.

    Adjacent support-size ranges with the same count are merged, so a schedule of
    ``[[0, 1], [3, 3], [13, 3]]`` reads "1 step for 0 to 2, 3 steps for 3 or more
    ratings".
    """
    schedule = learner.get("serve_schedule") or [
        [0, learner.get("serve_steps", learner.get("inner_steps", 0))]]
    merged = []
    for lower, count in schedule:
        if not merged or merged[-1][1] != count:
            merged.append([int(lower), int(count)])
    if len(merged) == 1:
        return f"{_steps(merged[0][1])} for any number of ratings"
    parts = []
    for (lower, count), following in zip(merged, merged[1:] + [None]):
        if following is None:
            parts.append(f"{_steps(count)} for {lower} or more")
        else:
            parts.append(f"{_steps(count)} for {lower} to {following[0] - 1}")
    return ", ".join(parts) + " ratings"


def describe_learner(learner: dict) -> str:
    """Return how a network variant was meta-trained and how it adapts, in words."""
    adapt = learner.get("adapt", "?")
    adapts = ADAPTED_PARTS.get(adapt, adapt)
    task = " for like/dislike" if learner.get("task") == "like" else ""
    algorithm = learner.get("algorithm")
    if learner.get("inner_steps") == 0:
        trained = (f"trained without an inner loop{task}. Fine-tunes {adapts} with steps "
                   f"of size {learner.get('inner_lr')}")
    elif algorithm == "metasgd":
        trained = (f"Meta-SGD{task}: adapts {adapts} in {_steps(learner.get('inner_steps'))} "
                   f"in training, with a step size learned for each parameter (starting "
                   f"at {learner.get('inner_lr')})")
    else:
        trained = (f"{ALGORITHM_NAMES.get(algorithm, algorithm)}{task}: adapts {adapts} in "
                   f"{_steps(learner.get('inner_steps'))} of size {learner.get('inner_lr')} "
                   "in training")
    return f"{trained[:1].upper()}{trained[1:]}. Serves {describe_schedule(learner)}."


def describe_ensemble(entry: dict) -> str:
    """Return which members the ensemble serves, and which its fitted weights leave out.

    A member that gets weight 0 in every range of ratings is named only as considered,
    because the ensemble never uses its predictions.
    """
    members = list(entry.get("members", []))
    weights = entry.get("weights")
    if not weights:
        return "Blend of " + ", ".join(members) + "."
    used = [m for i, m in enumerate(members) if any(row[i] != 0 for row in weights)]
    unused = [m for m in members if m not in used]
    considered = (f" Also considered, but given weight 0 in every range: "
                  f"{', '.join(unused)}." if unused else "")
    alone = used[0] if len(used) == 1 else None
    if alone and all(row[members.index(alone)] >= 1.0 - WEIGHT_TOLERANCE for row in weights):
        return (f"Serves {alone}'s predictions unchanged: the weights fitted for each range "
                f"of ratings give {alone} all the weight.{considered}")
    return (f"Blend of {', '.join(used)}, with weights fitted for each range of "
            f"ratings.{considered}")


def variant_table(manifest) -> pd.DataFrame:
    """Return one row per variant: kind, parameters, training seconds and best epoch.

    Only the neural variants have parameters, a training time and a best epoch; the
    classical baselines and the ensemble get missing values there.
    """
    rows = []
    for name, entry in manifest["variants"].items():
        if entry["kind"] == "ensemble":
            detail = describe_ensemble(entry)
        elif "spec" in entry:
            detail = describe_learner(entry["spec"].get("learner", {}))
        else:
            detail = CLASSICAL_DETAILS.get(entry.get("class", ""), entry.get("class", ""))
        rows.append({
            "variant": name,
            "kind": _kind(entry),
            "parameters": entry.get("parameters"),
            "train seconds": entry.get("train_seconds"),
            "best epoch": entry.get("best_epoch"),
            "details": detail,
        })
    return pd.DataFrame(rows)


def _kind(entry) -> str:
    """Return how a variant was trained, in words, from its manifest entry.

    The manifest calls every network ``meta``, the pretrain + finetune baseline too, which
    has no inner loop in training.
    """
    if entry["kind"] != "meta":
        return entry["kind"]
    if entry.get("spec", {}).get("learner", {}).get("inner_steps") == 0:
        return "pretrained"
    return "meta-learned"


def validation_table(manifest, metric="mae") -> pd.DataFrame:
    """Return a validation metric with one row per variant and one column per support size.

    Columns are named ``MAE K=1`` (or ``AUC K=1`` for ``metric="auc"``) and so on, in
    the order the sizes were scored; the index is the variant. The result is empty when
    no validation user was scored or the manifest does not record ``metric``.
    """
    records = pd.DataFrame(manifest.get("validation", []))
    if records.empty or metric not in records:
        return pd.DataFrame()
    shots = list(dict.fromkeys(records["shots"]))
    variants = list(dict.fromkeys(records["variant"]))
    table = records.pivot(index="variant", columns="shots", values=metric)
    table = table.reindex(index=variants, columns=shots).astype(float)
    table.columns = [f"{metric.upper()} K={value}" for value in table.columns]
    return table


def scored_without_mae(manifest) -> list[str]:
    """Return the variants whose validation records have an AUC but no MAE.

    Those predict no ratings: like/dislike classifiers such as student-like, and the
    ranking baselines.
    """
    records = pd.DataFrame(manifest.get("validation", []))
    if records.empty or "auc" not in records or "mae" not in records:
        return []
    scored = records.groupby("variant", sort=False)[["mae", "auc"]].count()
    return scored.index[(scored["mae"] == 0) & (scored["auc"] > 0)].tolist()
