"""Save the README's screenshots of the dashboard pages, used as a new user would use them.

    python benchmarks/capture_screenshots.py --data path/to/ml-100k \\
        --models path/to/models [--results OUT.json] [--out docs/screenshots]

The home page is shown as it opens. The New user page is shown after the "Sci-fi fan"
persona, once from its recommendations and once from its explanations. The Dynamic
session page is shown after 8 revealed ratings. The Model comparison page is shown from
its metric table, with ``--results`` or else with an evaluation of ``--models`` run
first. Each screenshot is one window of 1400 by 1100 pixels, scrolled to that part.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from metarec.cli import SAMPLE_DIR, main as cli_main  # noqa: E402

from dashboard_browser import chromium, dashboard, new_page, visit  # noqa: E402
from run_dashboard_benchmark import settle  # noqa: E402

PERSONA = "Sci-fi fan"
REVEALED = 8
WINDOW = {"width": 1400, "height": 1100}


def window_at(page, heading, path):
    """Save the window scrolled so that ``heading`` (None: the page top) is at its top."""
    if heading is not None:
        page.get_by_role("heading", name=heading, exact=True).first.evaluate(
            "node => node.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(800)
    page.screenshot(path=str(path))


def capture(url, browser, results_json, out: Path):
    page = new_page(browser, WINDOW)
    visit(page, url, "Models")
    window_at(page, None, out / "home.png")

    visit(page, f"{url}/New_user", "New user")
    page.get_by_role("button", name="Add this persona's ratings").click()
    page.get_by_text("Your ratings (8)").wait_for()
    settle(page)
    page.get_by_text("Show how each variant adapted").click()
    page.locator(".js-plotly-plot", has_text="Adaptation time").wait_for()
    settle(page)
    window_at(page, "Recommendations", out / "new_user.png")
    page.get_by_text("Explain a top list").click()
    page.locator(".js-plotly-plot", has_text="Effect of each rating").wait_for()
    settle(page)
    window_at(page, "Why these recommendations?", out / "new_user_explanation.png")

    visit(page, f"{url}/Dynamic_session", "Dynamic session")
    for step in range(1, REVEALED + 1):
        page.get_by_role("button", name="Reveal next rating").click()
        page.get_by_text(f"{step} of ").first.wait_for()
    settle(page)
    window_at(page, None, out / "dynamic_session.png")

    visit(page, f"{url}/Model_comparison", "Model comparison")
    page.locator("[data-testid='stFileUploader'] input[type=file]").set_input_files(
        str(results_json))
    page.locator(".js-plotly-plot", has_text="Adapting to one user").wait_for()
    settle(page)
    window_at(page, "Metrics", out / "model_comparison.png")
    page.context.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SAMPLE_DIR),
                        help="folder in the MovieLens-100K layout (default: the sample)")
    parser.add_argument("--models", required=True, help="models folder written by train")
    parser.add_argument("--results", help="OUT.json of 'python -m metarec evaluate --out "
                                          "OUT' (default: evaluate --models first)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"),
                        help="folder for the PNG files (default: docs/screenshots)")
    args = parser.parse_args(argv)

    results = Path(args.results) if args.results else None
    if results is None:
        results = Path(tempfile.mkdtemp(prefix="metarec-screens-")) / "evaluation"
        cli_main(["evaluate", "--data", args.data, "--models", args.models, "--shots", "1",
                  "5", "all", "--out", str(results)])
        results = results.with_suffix(".json")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = None if Path(args.data).resolve() == SAMPLE_DIR.resolve() else args.data
    with dashboard(args.models, data_dir) as url, chromium() as browser:
        capture(url, browser, results, out)
    print(f"wrote {', '.join(sorted(p.name for p in out.glob('*.png')))} to {out}")


if __name__ == "__main__":
    main()
