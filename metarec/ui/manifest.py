"""Tables of a models directory's manifest, for the dashboard's home page."""

from __future__ import annotations

import pandas as pd


def variant_table(manifest) -> pd.DataFrame:
    """Return one row per variant: kind, parameters, training seconds and best epoch.

    Only the neural variants have parameters, a training time and a best epoch; the
    classical baselines and the ensemble get missing values there.
    """
    rows = []
    for name, entry in manifest["variants"].items():
        if entry["kind"] == "ensemble":
            detail = "blend of " + ", ".join(entry.get("members", []))
        elif "spec" in entry:
            learner = entry["spec"].get("learner", {})
            detail = ", ".join(f"{key} {value}" for key, value in learner.items())
        else:
            detail = entry.get("class", "")
        rows.append({
            "variant": name,
            "kind": entry["kind"],
            "parameters": entry.get("parameters"),
            "train seconds": entry.get("train_seconds"),
            "best epoch": entry.get("best_epoch"),
            "details": detail,
        })
    return pd.DataFrame(rows)


def validation_table(manifest) -> pd.DataFrame:
    """Return the validation MAE with one row per variant and one column per support size.

    Columns are named ``MAE K=1`` and so on, in the order the sizes were scored; the
    index is the variant. The result is empty when no validation user was scored.
    """
    records = pd.DataFrame(manifest.get("validation", []))
    if records.empty:
        return pd.DataFrame()
    shots = list(dict.fromkeys(records["shots"]))
    variants = list(dict.fromkeys(records["variant"]))
    table = records.pivot(index="variant", columns="shots", values="mae")
    table = table.reindex(index=variants, columns=shots)
    table.columns = [f"MAE K={value}" for value in table.columns]
    return table
