"""Time the dashboard from a person's input to the repainted page, in a real browser.

The script starts ``streamlit run app.py`` on 127.0.0.1 and drives Debian's Chromium
through Playwright, as a person would:

* New user: add ratings one at a time (search a title, pick stars, press "Add rating")
  with student, teacher and ensemble chosen, then again with the explanation switched on.
* New item: add ratings of the page's default item one at a time (pick a user, pick
  stars, press "Add rating") with the page's featured variants chosen.
* Dynamic session: press "Reveal next rating" again and again.
* Model comparison: load the results of ``python -m metarec evaluate --out``, then change
  the support size of the accuracy/cost chart.

Each time runs from the pointer press to two animation frames after the last script run
it caused (see ``dashboard_browser.timed``). The first press in a fresh session is
reported on its own, and p50/p95 cover every press. Server and browser share the
machine, so the load average is recorded with the numbers.

    python benchmarks/run_dashboard_benchmark.py [--data DIR] [--models DIR] \\
        [--item-models DIR]

Models are trained into ``--models`` first when it contains none, and item models
(``train --scenario new-item``) into ``--item-models`` (default: the ``items`` folder of
``--models``) likewise. The script rewrites the "dashboard" section of
benchmarks/RESULTS.md unless ``--no-write`` is given.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard_browser import chromium, new_page, timed, visit  # noqa: E402
from metarec.cli import SAMPLE_DIR, main as cli_main, resolve_models_dir  # noqa: E402
from metarec.data import load_movielens_100k  # noqa: E402
from metarec.serving.item_store import ITEM_MANIFEST  # noqa: E402
from metarec.serving.items import FEATURED as ITEM_FEATURED  # noqa: E402
from metarec.ui.item_state import ITEM_MODELS_DIR_ENV, ITEMS_SUBDIR  # noqa: E402

from results import header, update_section  # noqa: E402

TARGET_VARIANTS = ("student", "teacher", "ensemble")
# Consecutive values differ, also across the wrap: a second press on the chosen star
# clears it.
STARS = (5, 4, 2, 5, 3, 1, 4, 2)
TARGET_P50_MS = 300


def settle(page):
    """Wait for the rerun that typing or a widget change started, without timing it."""
    page.wait_for_timeout(250)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=stApp]').dataset.testScriptState"
        " === 'notRunning'")


def unique_titles(dataset, count) -> list[str]:
    """Return ``count`` titles, most rated first, that no other title contains."""
    titles = dataset.item_titles()
    counts = dataset.ratings["item_id"].value_counts()
    lowered = [title.lower() for title in titles.values()]
    chosen = []
    for item in counts.index:
        title = titles[int(item)]
        if sum(title.lower() in other for other in lowered) == 1:
            chosen.append(title)
        if len(chosen) == count:
            break
    return chosen


def choose_variants(page, wanted):
    """Leave exactly ``wanted`` in the New user page's variants choice."""
    chosen = page.locator("[data-testid=stMultiSelect] [aria-label^='Remove ']")
    names = [label.removeprefix("Remove ")
             for label in chosen.evaluate_all("nodes => nodes.map(n => n.ariaLabel)")]
    for name in names:
        if name not in wanted:
            page.locator(f"[data-testid=stMultiSelect] [aria-label='Remove {name}']").click()
            settle(page)


def new_user_times(browser, url, titles, explain=False) -> list[float]:
    """Add one rating per title in a fresh session and time each "Add rating" press.

    With ``explain`` the explanation is switched on after the first rating, whose
    press is then left out.
    """
    page = new_page(browser)
    visit(page, f"{url}/New_user", "New user")
    choose_variants(page, TARGET_VARIANTS)
    times = []
    for count, (title, stars) in enumerate(zip(titles, itertools.cycle(STARS)), start=1):
        page.get_by_label("Search titles").fill(title)
        page.get_by_label("Search titles").press("Enter")
        settle(page)
        page.get_by_role("radiogroup", name="Your rating").get_by_text(f"{stars} ★").click()
        settle(page)
        milliseconds = timed(page, page.get_by_role("button", name="Add rating").click)
        page.get_by_text(f"Your ratings ({count})").wait_for()
        if explain and count == 1:
            page.get_by_text("Explain a top list").click()
            page.get_by_text("pushed up by").wait_for()
            settle(page)
            continue
        times.append(milliseconds)
    page.context.close()
    return times


def new_item_times(browser, url, user_ids) -> list[float]:
    """Add one rating of the new item per user in a fresh session and time each press."""
    page = new_page(browser)
    visit(page, f"{url}/New_item", "New item")
    page.get_by_role("heading", name=ITEM_FEATURED[0], exact=True).wait_for()
    times = []
    for count, (user_id, stars) in enumerate(zip(user_ids, itertools.cycle(STARS)),
                                              start=1):
        # The open list renders only its first options, so typing filters it first.
        page.get_by_label("User", exact=True).fill(f"user {user_id} ·")
        page.get_by_role("option").first.click()
        settle(page)
        page.get_by_role("radiogroup", name="Their rating").get_by_text(f"{stars} ★").click()
        settle(page)
        times.append(timed(page, page.get_by_role("button", name="Add rating").click))
        page.get_by_text(f"Ratings of the new item ({count})").wait_for()
    page.context.close()
    return times


def session_times(browser, url, steps) -> list[float]:
    page = new_page(browser)
    visit(page, f"{url}/Dynamic_session", "Dynamic session")
    reveal = page.get_by_role("button", name="Reveal next rating")
    times = []
    for step in range(1, steps + 1):
        times.append(timed(page, reveal.click))
        page.get_by_text(f"{step} of ").first.wait_for()
    page.context.close()
    return times


def comparison_times(browser, url, results_json, repeats) -> list[float]:
    page = new_page(browser)
    visit(page, f"{url}/Model_comparison", "Model comparison")
    page.locator("[data-testid='stFileUploader'] input[type=file]").set_input_files(
        str(results_json))
    page.get_by_role("heading", name="Timing").wait_for()
    settle(page)
    times = []
    choice = page.get_by_label("At K")
    for repeat in range(repeats):
        choice.click()
        if not page.get_by_role("option").count():
            # A click on this selectbox does not always open it; the arrow key does.
            choice.press("ArrowDown")
        option = page.get_by_role("option").nth(repeat % 2)
        times.append(timed(page, option.click))
    page.context.close()
    return times


def summarise(name, interaction, variants, times) -> dict:
    times = np.asarray(times, dtype=float)
    return {"page": name, "interaction": interaction, "variants": variants,
            "presses": len(times), "first ms": times[0],
            "p50 ms": float(np.percentile(times, 50)),
            "p95 ms": float(np.percentile(times, 95)), "max ms": times.max()}


def persona_overlap(dataset, models_dir) -> pd.DataFrame:
    """Return how much the personas' top 10s overlap, and how far they follow taste.

    ``shared of 10`` is the mean number of items two personas' top 10s share, and
    ``genre shift`` the mean change (after minus before the ratings) of predicted
    ratings of the loved genres' movies minus that of the disliked genres' movies.
    """
    from metarec.serving.recommender import Recommender
    from metarec.ui.personas import PERSONAS, persona_ratings

    recommender = Recommender.load(models_dir, dataset=dataset)
    genres = dict(zip(dataset.items["item_id"], dataset.items["genres"]))
    catalogue = recommender.item_ids
    rows = []
    for variant in recommender.featured_variants:
        tops, shifts = {}, []
        start = recommender.adapt({}, variant).predict(catalogue)
        for name, persona in PERSONAS.items():
            adaptation = recommender.adapt(persona_ratings(dataset, persona), variant)
            tops[name] = set(adaptation.top_k(10)["item_id"])
            change = adaptation.predict(catalogue) - start
            loved = np.array([bool(set(genres[i]) & set(persona.loved)) for i in catalogue])
            disliked = np.array([bool(set(genres[i]) & set(persona.disliked))
                                 for i in catalogue])
            shifts.append(change[loved & ~disliked].mean() - change[disliked & ~loved].mean())
        shared = [len(tops[a] & tops[b]) for a, b in itertools.combinations(tops, 2)]
        rows.append({"variant": variant, "shared of 10": np.mean(shared),
                     "genre shift": np.mean(shifts)})
    return pd.DataFrame(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SAMPLE_DIR),
                        help="folder in the MovieLens-100K layout (default: the sample)")
    parser.add_argument("--models", help="models folder (default: models/DATASET_NAME); "
                                         "trained there first when it holds none")
    parser.add_argument("--item-models",
                        help="item models folder (default: the items folder of --models); "
                             "trained there first when it holds none")
    parser.add_argument("--ratings", type=int, default=20,
                        help="ratings added on the New user page (default 20)")
    parser.add_argument("--item-ratings", type=int, default=20,
                        help="ratings added on the New item page (default 20)")
    parser.add_argument("--steps", type=int, default=20,
                        help="ratings revealed on the Dynamic session page (default 20)")
    parser.add_argument("--repeats", type=int, default=10,
                        help="changes on the Model comparison page (default 10)")
    parser.add_argument("--no-write", action="store_true",
                        help="print the results without rewriting RESULTS.md")
    args = parser.parse_args(argv)

    dataset = load_movielens_100k(args.data)
    models_dir = Path(args.models) if args.models else resolve_models_dir(None, dataset.name)
    if not (models_dir / "manifest.json").is_file():
        from metarec.pipeline import train_models

        print(f"training models into {models_dir}")
        train_models(dataset, models_dir)
    item_models_dir = Path(args.item_models or models_dir / ITEMS_SUBDIR)
    if not (item_models_dir / ITEM_MANIFEST).is_file():
        from metarec.item_pipeline import train_item_models

        print(f"training item models into {item_models_dir}")
        train_item_models(dataset, item_models_dir)
    # The dashboard started below inherits this environment.
    os.environ[ITEM_MODELS_DIR_ENV] = str(item_models_dir.resolve())
    scratch = Path(tempfile.mkdtemp(prefix="metarec-dashboard-"))
    results = scratch / "evaluation"
    cli_main(["evaluate", "--data", args.data, "--models", str(models_dir), "--shots", "1",
              "5", "all", "--out", str(results)])

    load_before = os.getloadavg()
    started = time.perf_counter()
    data_dir = None if Path(args.data).resolve() == SAMPLE_DIR.resolve() else args.data
    titles = unique_titles(dataset, args.ratings)
    raters = dataset.users["user_id"].head(args.item_ratings).tolist()
    from dashboard_browser import dashboard

    with dashboard(models_dir, data_dir) as url, chromium() as browser:
        variants = ", ".join(TARGET_VARIANTS)
        rows = [
            summarise("New user", "add a rating", variants,
                      new_user_times(browser, url, titles)),
            summarise("New user", "add a rating, explanation on", variants,
                      new_user_times(browser, url, titles[:max(3, args.ratings // 2 + 1)],
                                     explain=True)),
            summarise("New item", "add a rating", ", ".join(ITEM_FEATURED),
                      new_item_times(browser, url, raters)),
            summarise("Dynamic session", "reveal the next rating",
                      "teacher, student, user-bias, ensemble",
                      session_times(browser, url, args.steps)),
            summarise("Model comparison", "change K of the accuracy/cost chart",
                      "all in the results file",
                      comparison_times(browser, url, results.with_suffix(".json"),
                                       args.repeats)),
        ]
    load_after = os.getloadavg()
    table = pd.DataFrame(rows)
    overlap = persona_overlap(dataset, models_dir)
    print(table.to_string(index=False, float_format="{:.0f}".format))
    print(overlap.to_string(index=False, float_format="{:.3f}".format))

    target = table.iloc[0]["p50 ms"]
    command = "python benchmarks/run_dashboard_benchmark.py" + (
        f" --data {args.data}" if data_dir else "")
    text = (
        "## Dashboard responsiveness\n\n"
        + header(command)
        + f"\nData: {dataset.summary()}; models trained with the default settings. Load "
        f"average (1, 5, 15 min) {load_before[0]:.1f}, {load_before[1]:.1f}, "
        f"{load_before[2]:.1f} before and {load_after[0]:.1f}, {load_after[1]:.1f}, "
        f"{load_after[2]:.1f} after the {time.perf_counter() - started:.0f} s run; the "
        "Streamlit server and Chromium ran on the same machine.\n\n"
        "Milliseconds from the pointer press to two animation frames after the last "
        "script run it caused, in Chromium through Playwright; each row is one fresh "
        "session, and `first` is its first press.\n\n"
        + _markdown(table)
        + f"\n\nTarget: p50 at most {TARGET_P50_MS} ms on the New user page with "
        f"{variants} chosen; measured {target:.0f} ms, so the target is "
        f"{'met' if target <= TARGET_P50_MS else 'not met'}.\n\n"
        "How much the personas' top 10s differ on the New user page (mean items that two "
        "of the four personas' top 10s share, and the loved-minus-disliked change of "
        "predicted ratings after the persona's 8 ratings):\n\n"
        + _markdown(overlap, "{:.3f}")
    )
    if args.no_write:
        print(text)
    else:
        update_section("dashboard", text)
        print("updated the dashboard section of benchmarks/RESULTS.md")


def _markdown(frame, number="{:.0f}") -> str:
    columns = list(frame.columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in frame.itertuples(index=False):
        cells = [number.format(v) if isinstance(v, (float, np.floating)) else str(v)
                 for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
