"""Save the README's screenshots of the dashboard pages, used as a new user would use them.

    python benchmarks/capture_screenshots.py --data path/to/ml-100k \\
        --models path/to/models [--item-models DIR] [--results OUT.json] \\
        [--pages home new-user new-item dynamic-session model-comparison] \\
        [--out docs/screenshots]

The home page is shown as it opens. The New user page is shown after the "Sci-fi fan"
persona, once from its recommendations and once from its explanations. The New item page
is shown after the "Teenage sci-fi fans loved it" audience three times: from its audience
tables, from its distribution and top-audience charts, and from its demographic breakdown,
adaptation curves and times. It reads the item models of ``--item-models``
(default: the ``items`` folder of ``--models``), which ``python -m metarec train
--scenario new-item`` writes. The Dynamic session page is shown after 8 revealed
ratings. The Model comparison page is shown from its metric table, with ``--results`` or
else with an evaluation of ``--models`` run first. Each screenshot is one window of 1400
by 1100 pixels, scrolled to that part. ``--pages`` takes only the named pages.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard_browser import chromium, dashboard, new_page, visit  # noqa: E402
from metarec.cli import SAMPLE_DIR, main as cli_main  # noqa: E402
from metarec.serving.item_store import ITEM_MANIFEST  # noqa: E402
from metarec.ui.item_state import ITEM_MODELS_DIR_ENV, ITEMS_SUBDIR  # noqa: E402

from run_dashboard_benchmark import settle  # noqa: E402

PERSONA = "Sci-fi fan"
AUDIENCE = "Teenage sci-fi fans loved it"
REVEALED = 8
PAGES = ("home", "new-user", "new-item", "dynamic-session", "model-comparison")
WINDOW = {"width": 1400, "height": 1100}
# Space kept above an element scrolled to the top, where Streamlit's fixed header is.
HEADER_PX = 80


def window_at(page, heading, path):
    """Save the window scrolled so that ``heading`` is at its top (None: not scrolled)."""
    if heading is not None:
        page.get_by_role("heading", name=heading, exact=True).first.evaluate(
            "node => node.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(800)
    page.screenshot(path=str(path))


def scroll_to_top(locator):
    """Scroll ``locator``'s element to the window's top, below Streamlit's fixed header."""
    locator.first.evaluate("""node => {
          node.scrollIntoView({block: 'start'});
          node.closest('[data-testid=stMain]').scrollBy(0, -HEADER_PX);
        }""".replace("HEADER_PX", str(HEADER_PX)))


def capture_home(page, url, out: Path):
    visit(page, url, "Models")
    window_at(page, None, out / "home.png")


def capture_new_user(page, url, out: Path):
    visit(page, f"{url}/New_user", "New user")
    page.get_by_role("button", name="Add this persona's ratings").click()
    page.get_by_text("Your ratings (8)").wait_for()
    settle(page)
    page.get_by_text("Chart the predicted ratings of every listed title").click()
    page.locator(".js-plotly-plot").first.wait_for()
    settle(page)
    page.get_by_text("Show how each variant adapted").click()
    page.locator(".js-plotly-plot", has_text="Adaptation time").wait_for()
    settle(page)
    window_at(page, "Recommendations", out / "new_user.png")
    page.get_by_text("Explain a top list").click()
    page.locator(".js-plotly-plot", has_text="Effect of each rating").wait_for()
    settle(page)
    window_at(page, "Why these recommendations?", out / "new_user_explanation.png")


def capture_new_item(page, url, out: Path):
    visit(page, f"{url}/New_item", "New item")
    page.get_by_label("Audience", exact=True).click()
    page.get_by_role("option", name=AUDIENCE, exact=True).click()
    settle(page)
    page.get_by_role("button", name="Add this audience's ratings").click()
    page.get_by_text("Ratings of the new item (8)").wait_for()
    page.locator(".js-plotly-plot", has_text="Adaptation time").wait_for()
    settle(page)
    window_at(page, "Predicted audience", out / "new_item.png")
    page.mouse.move(0, 0)
    scroll_to_top(page.locator(".js-plotly-plot").filter(
        has=page.locator(".gtitle", has_text="Predicted rating of every user")))
    window_at(page, None, out / "new_item_charts.png")
    scroll_to_top(page.get_by_text("Break down by", exact=True))
    window_at(page, None, out / "new_item_adaptation.png")


def capture_dynamic_session(page, url, out: Path):
    visit(page, f"{url}/Dynamic_session", "Dynamic session")
    for step in range(1, REVEALED + 1):
        page.get_by_role("button", name="Reveal next rating").click()
        page.get_by_text(f"{step} of ").first.wait_for()
    settle(page)
    window_at(page, None, out / "dynamic_session.png")


def capture_model_comparison(page, url, out: Path, results_json):
    visit(page, f"{url}/Model_comparison", "Model comparison")
    page.locator("[data-testid='stFileUploader'] input[type=file]").set_input_files(
        str(results_json))
    page.locator(".js-plotly-plot", has_text="Adapting to one user").wait_for()
    settle(page)
    window_at(page, "Metrics", out / "model_comparison.png")


def capture(url, browser, results_json, out: Path, pages=PAGES):
    """Save the screenshots of each page in ``pages``, in a single browser session."""
    page = new_page(browser, WINDOW)
    if "home" in pages:
        capture_home(page, url, out)
    if "new-user" in pages:
        capture_new_user(page, url, out)
    if "new-item" in pages:
        capture_new_item(page, url, out)
    if "dynamic-session" in pages:
        capture_dynamic_session(page, url, out)
    if "model-comparison" in pages:
        capture_model_comparison(page, url, out, results_json)
    page.context.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SAMPLE_DIR),
                        help="folder in the MovieLens-100K layout (default: the sample)")
    parser.add_argument("--models", required=True, help="models folder written by train")
    parser.add_argument("--item-models",
                        help="item models folder written by 'train --scenario new-item' "
                             "(default: the items folder of --models)")
    parser.add_argument("--results", help="OUT.json of 'python -m metarec evaluate --out "
                                          "OUT' (default: evaluate --models first)")
    parser.add_argument("--pages", nargs="+", choices=PAGES, default=list(PAGES),
                        help="pages to take screenshots of (default: all)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"),
                        help="folder for the PNG files (default: docs/screenshots)")
    args = parser.parse_args(argv)

    if "new-item" in args.pages:
        item_models = Path(args.item_models or Path(args.models) / ITEMS_SUBDIR)
        if not (item_models / ITEM_MANIFEST).is_file():
            parser.error(f"no item models in '{item_models}' ({ITEM_MANIFEST} is missing); "
                         f"train them with 'python -m metarec train --scenario new-item "
                         f"--data {args.data} --out {item_models}', pass --item-models, "
                         "or leave new-item out of --pages")
        # The dashboard started below inherits this environment.
        os.environ[ITEM_MODELS_DIR_ENV] = str(item_models.resolve())
    results = Path(args.results) if args.results else None
    if results is None and "model-comparison" in args.pages:
        results = Path(tempfile.mkdtemp(prefix="metarec-screens-")) / "evaluation"
        cli_main(["evaluate", "--data", args.data, "--models", args.models, "--shots", "1",
                  "5", "all", "--out", str(results)])
        results = results.with_suffix(".json")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = None if Path(args.data).resolve() == SAMPLE_DIR.resolve() else args.data
    with dashboard(args.models, data_dir) as url, chromium() as browser:
        capture(url, browser, results, out, args.pages)
    print(f"wrote the screenshots of {', '.join(args.pages)} to {out}")


if __name__ == "__main__":
    main()
