"""Put the new-user MAE figures next to the usual warm figure, into benchmarks/RESULTS.md.

MovieLens-100K results are usually quoted as the MAE over every rating of a random 20%
test split, where every test user is known in training. The new-user section scores
something harder: users with 13 to 100 ratings, none of them seen in training, with
MAE averaged per user. This script fits one model both ways: the ALS matrix
factorisation of the ``mf-als`` baseline (10 factors, ridge penalty 5). A reader can
then tell how much of a gap between the two kinds of figure comes from the protocol
rather than the models. It writes the section ``warm-reference``:

- the warm split: a seeded random 20% of all ratings for testing, every user known in
  training. MAE over every test rating, over the ratings of users with 13 to 100
  ratings, and the latter averaged per user;
- the new-user split of the benchmark, test queries at K=all: ALS that folds each test
  user in from the support ratings, as the ``mf-als`` baseline does, against ALS refitted
  with every test user's support ratings among its training ratings.

    python benchmarks/run_warm_reference.py --data path/to/ml-100k

It takes a few seconds on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from metarec.data import load_movielens_100k  # noqa: E402
from metarec.evaluation.metrics import mean_confidence_interval  # noqa: E402
from metarec.models.baselines import ALSMatrixFactorization  # noqa: E402
from metarec.tasks import ALL  # noqa: E402
from metarec.tasks.episodes import TaskSize, make_tasks  # noqa: E402
from metarec.tasks.scenarios import make_scenario  # noqa: E402

from results import header, update_section  # noqa: E402

TEST_SHARE = 0.2
COLUMNS = ["user_id", "item_id", "rating"]


def predict_known(model, user_id, item_ids) -> np.ndarray:
    """Score ``item_ids`` for ``user_id``, a user ``model`` (ALS) was fitted with."""
    row = int(np.searchsorted(model.user_ids_, user_id))
    if row == len(model.user_ids_) or model.user_ids_[row] != user_id:
        raise ValueError(f"user {user_id} was not found among the ALS model's training "
                         f"users; score it with model.predict and its support ratings")
    return model.predict_folded((model.user_biases_[row], model.user_factors_[row]),
                                np.asarray(item_ids))


def warm_split_errors(dataset, seed, test_share=TEST_SHARE, size=TaskSize(),
                      max_ratings=100) -> dict:
    """Fit ALS on a random ``1 - test_share`` of all ratings and score the rest.

    Returns the MAE and RMSE over every test rating, the MAE over the test ratings of
    users with ``size.min_ratings`` to ``max_ratings`` ratings in the whole dataset, and
    that MAE averaged per user, as the new-user protocol averages it.
    """
    ratings = dataset.ratings[COLUMNS]
    held_out = np.random.default_rng(seed).random(len(ratings)) < test_share
    train, test = ratings[~held_out], ratings[held_out]
    model = ALSMatrixFactorization(random_state=seed).fit(train)
    # A user whose every rating fell in the test share has no factors to score with.
    test = test[test["user_id"].isin(train["user_id"])]
    errors = np.concatenate([
        np.abs(predict_known(model, user, group["item_id"]) - group["rating"].to_numpy())
        for user, group in test.groupby("user_id")])
    test = test.sort_values("user_id", kind="stable")
    counts = ratings.groupby("user_id").size()
    in_range = test["user_id"].map(counts).between(size.min_ratings, max_ratings).to_numpy()
    per_user = pd.Series(errors[in_range]).groupby(test["user_id"].to_numpy()[in_range]).mean()
    return {"mae": errors.mean(), "rmse": np.sqrt((errors ** 2).mean()),
            "mae_in_range": errors[in_range].mean(), "mae_in_range_per_user": per_user.mean(),
            "test_ratings": len(test), "users_in_range": len(per_user)}


def new_user_errors(dataset, seed, query_size=10) -> dict:
    """Score ALS on the new-user benchmark's test queries at K=all, cold and warm.

    ``cold`` folds each test user in from the support ratings, as the ``mf-als``
    baseline does. ``warm`` is ALS refitted with every test user's support ratings added
    to the meta-train ratings, so it learns the test users' factors together with the
    items'. Both are averaged per user.
    """
    split = make_scenario(dataset, "new-user", seed=seed)
    train = split.training_ratings(dataset.ratings)[COLUMNS]
    tasks = make_tasks(split.held_out_ratings(dataset.ratings, "test"), split.users.test, ALL,
                       query_size=query_size, seed=seed)
    support = pd.DataFrame(
        [(t.user_id, item, rating) for t in tasks
         for item, rating in zip(t.support_items, t.support_ratings)], columns=COLUMNS)
    cold = ALSMatrixFactorization(random_state=seed).fit(train)
    warm = ALSMatrixFactorization(random_state=seed).fit(
        pd.concat([train, support], ignore_index=True))
    cold_errors, warm_errors = [], []
    for task in tasks:
        cold_errors.append(np.abs(cold.predict(task.support_items, task.support_ratings,
                                               task.query_items) - task.query_ratings).mean())
        warm_errors.append(np.abs(predict_known(warm, task.user_id, task.query_items)
                                  - task.query_ratings).mean())
    return {"cold": np.mean(cold_errors), "warm": np.mean(warm_errors), "users": len(tasks)}


def cell(values) -> str:
    values = np.asarray(values, dtype=float)
    if len(values) == 1:
        return f"{values[0]:.3f}"
    mean, half = mean_confidence_interval(values)
    return f"{mean:.3f} ± {half:.3f}"


def report(command, dataset, seeds, warm_rows, new_user_rows) -> str:
    warm = pd.DataFrame(warm_rows)
    new_user = pd.DataFrame(new_user_rows)
    spread = "Cells show the mean over seeds ± the 95% confidence half-width (Student's t)."
    if len(seeds) == 1:
        spread = "Cells show one seed's value."
    gap = warm["mae_in_range_per_user"] - warm["mae"]
    lines = [
        "## How hard the new-user protocol is: a warm reference", "",
        header(command, [dataset]),
        "MovieLens-100K figures are usually the MAE over every rating of a random 20% "
        "test split, with every test user known in training. The new-user section scores "
        "users with 13 to 100 ratings, none seen in training, and averages MAE per user. "
        "This section scores one model both ways: ALS matrix factorisation as the "
        "`mf-als` baseline fits it (10 factors, ridge penalty 5), for the seeds "
        f"{', '.join(map(str, seeds))}. {spread}", "",
        "### Warm split: 20% of all ratings held out, every user known in training", "",
        "| scored on | MAE | RMSE |", "|---|---|---|",
        f"| every test rating (the usual figure) | {cell(warm['mae'])} | {cell(warm['rmse'])} |",
        f"| test ratings of users with 13 to 100 ratings in the whole dataset | "
        f"{cell(warm['mae_in_range'])} | – |",
        f"| the same, averaged per user, as the new-user section averages | "
        f"{cell(warm['mae_in_range_per_user'])} | – |", "",
        f"Test ratings per seed: {int(warm['test_ratings'].mean()):,}; users with 13 to "
        f"100 ratings in the whole dataset among them: "
        f"{int(warm['users_in_range'].mean())}. For the same "
        f"model, restricting to those users and averaging per user raises MAE by "
        f"{cell(gap)} over the usual figure.", "",
        "### New-user split of the benchmark, test queries at K=all", "",
        "| ALS | MAE |", "|---|---|",
        f"| folded in from the support ratings (the `mf-als` baseline) | "
        f"{cell(new_user['cold'])} |",
        f"| refitted with the test users' support ratings among its training ratings | "
        f"{cell(new_user['warm'])} |", "",
        f"Test users per seed: {int(new_user['users'].mean())}. Folded in minus "
        f"refitted: {cell(new_user['cold'] - new_user['warm'])}.",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("METAREC_DATA_DIR"),
                        help="MovieLens-100K folder (default: $METAREC_DATA_DIR)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2],
                        help="seeds of the splits and of ALS (default: 0 1 2)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"),
                        help="Markdown file whose warm-reference section is replaced "
                             "(default: benchmarks/RESULTS.md)")
    parser.add_argument("--no-write", action="store_true",
                        help="print the section without rewriting the file")
    args = parser.parse_args(argv)
    if not args.data:
        parser.error("pass --data or set METAREC_DATA_DIR to a MovieLens-100K folder")
    if any(seed < 0 for seed in args.seeds):
        parser.error(f"--seeds must be 0 or more, got {' '.join(map(str, args.seeds))}")
    command = "python benchmarks/run_warm_reference.py " + " ".join(
        a if a != args.data else "path/to/ml-100k" for a in (argv or sys.argv[1:]))

    dataset = load_movielens_100k(args.data)
    warm_rows = [warm_split_errors(dataset, seed) for seed in args.seeds]
    new_user_rows = [new_user_errors(dataset, seed) for seed in args.seeds]
    text = report(command, dataset, args.seeds, warm_rows, new_user_rows)
    print(text)
    if not args.no_write:
        update_section("warm-reference", text, Path(args.out))


if __name__ == "__main__":
    main()
