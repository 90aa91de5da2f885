"""The dashboard in a real browser: Debian's Chromium driven by Playwright.

A Streamlit server is started on 127.0.0.1 against tiny user-side and item-side models
trained on the sample.
Each page is used as a new user would use it, through its widgets, and a screenshot of
it goes to ``test-artifacts/``.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("METAREC_CHROMIUM", "/usr/bin/chromium")
REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
START_TIMEOUT_S = 90
PAGE_TIMEOUT_MS = 120_000
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1000}
FEATURED = ("teacher", "student", "user-bias", "ensemble")
ITEM_FEATURED = ("teacher", "student", "content-only", "genre-mean", "ensemble")
PAGES = ("Home", "New user", "New item", "Dynamic session", "Model comparison")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(models_dir, item_models_dir):
    """Start the dashboard on 127.0.0.1 with these models folders; yield its URL."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}; install Debian's chromium package")
    pytest.importorskip("playwright.sync_api")
    port = free_port()
    env = {**os.environ, "METAREC_MODELS_DIR": str(models_dir),
           "METAREC_ITEM_MODELS_DIR": str(item_models_dir)}
    env.pop("METAREC_DATA_DIR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            output = process.stdout.read().decode(errors="replace")
            pytest.fail(f"streamlit did not start on {url}:\n{output[-3000:]}")
        time.sleep(0.5)
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def server(tiny_models, tiny_item_models):
    with running_server(tiny_models, tiny_item_models) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser):
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    return context, page


@pytest.fixture
def page(browser):
    context, page = open_page(browser)
    yield page
    context.close()


@pytest.fixture(scope="module")
def results_json(tiny_models, tmp_path_factory):
    """The JSON that 'python -m metarec evaluate --out' writes for the tiny models."""
    from metarec.cli import SAMPLE_DIR, main

    out = tmp_path_factory.mktemp("evaluation") / "sample"
    assert main(["evaluate", "--data", str(SAMPLE_DIR), "--models", str(tiny_models),
                 "--shots", "1", "5", "all", "--out", str(out)]) == 0
    return out.with_suffix(".json")


def finish_run(page):
    """Wait until the script run that the last action started has finished."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=stApp]')"
        ".dataset.testScriptState === 'notRunning'")


def visit(page, url, title):
    """Open ``url`` and wait until its first script run has drawn the page."""
    page.goto(url)
    page.get_by_role("heading", name=title, exact=True).first.wait_for()
    finish_run(page)


def screenshot(page, name):
    """Save the whole page, growing the window to the height of the main area."""
    ARTIFACTS.mkdir(exist_ok=True)
    finish_run(page)
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(height, 600)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(VIEWPORT)


def no_exception(page):
    assert page.locator("[data-testid='stException']").count() == 0


def clear_all(page):
    # The variants multiselect has a "Clear all" button of its own.
    page.locator("[data-testid^='stBaseButton']", has_text="Clear all").click()


def rate_by_search(page, query, option, stars, count):
    """Search titles, pick the ``option``-th match and add it with ``stars``."""
    page.get_by_label("Search titles").fill(query)
    page.get_by_label("Search titles").press("Enter")
    finish_run(page)
    page.get_by_label("Movie (").click()
    page.get_by_role("option").nth(option).click()
    finish_run(page)
    page.get_by_role("radiogroup", name="Your rating").get_by_text(f"{stars} ★").click()
    finish_run(page)
    page.get_by_role("button", name="Add rating").click()
    page.get_by_text(f"Your ratings ({count})").wait_for()
    finish_run(page)


def test_sidebar_lists_titled_pages(server, page):
    visit(page, server, "Models")
    links = page.locator("[data-testid='stSidebarNav'] a")
    titles = [links.nth(i).inner_text() for i in range(links.count())]

    assert titles[0] == "Home"
    assert set(PAGES) <= set(titles)
    assert "app" not in titles


def test_home_page_lists_models(server, page):
    visit(page, server, "Models")
    page.get_by_text("Validation error").wait_for()
    for variant in ("teacher", "student", "ensemble"):
        page.get_by_role("cell", name=variant, exact=True).first.wait_for()
    no_exception(page)
    screenshot(page, "home")


def test_new_user_rates_through_widgets(server, page):
    visit(page, f"{server}/New_user", "New user")
    rate_by_search(page, "the", 0, 5, 1)
    rate_by_search(page, "the", 3, 4, 2)
    rate_by_search(page, "of", 5, 1, 3)

    for variant in FEATURED:
        page.get_by_role("heading", name=variant, exact=True).wait_for()
    tables = page.locator("[data-testid='stTable']")
    assert tables.count() == len(FEATURED)
    for index in range(len(FEATURED)):
        assert tables.nth(index).locator("tbody tr").count() == 10
    # The predicted-rating chart waits behind its switch; the ensemble's mix is shown.
    charts = page.locator(".js-plotly-plot")
    assert charts.count() == 0
    assert page.get_by_text("Your 3 ratings get the mix fitted for 3 to 5 ratings").count() == 1
    page.get_by_text("Chart the predicted ratings of every listed title").click()
    charts.first.wait_for()
    assert charts.count() == 1
    for variant in FEATURED:
        assert charts.locator(".legendtext", has_text=variant).count() == 1

    page.get_by_text("Show how each variant adapted").click()
    page.locator(".js-plotly-plot", has_text="Adaptation time").wait_for()
    # Scores of every variant, then support losses and adaptation times.
    assert charts.count() == 3
    no_exception(page)
    screenshot(page, "new_user")


def test_new_user_persona_and_explanation(server, page):
    visit(page, f"{server}/New_user", "New user")
    page.get_by_role("button", name="Add this persona's ratings").click()
    page.get_by_text("Your ratings (8)").wait_for()
    page.get_by_text("Explain a top list").click()
    page.get_by_text("pushed up by").wait_for()
    page.locator(".js-plotly-plot", has_text="Effect of each rating").wait_for()

    explained = page.locator("[data-testid='stTable']").nth(len(FEATURED))
    assert explained.locator("tbody tr").count() == 10
    no_exception(page)
    screenshot(page, "new_user_explanation")


def test_profile_download_and_upload(server, page, tmp_path):
    visit(page, f"{server}/New_user", "New user")
    page.get_by_role("button", name="Add this persona's ratings").click()
    page.get_by_text("Your ratings (8)").wait_for()
    page.get_by_text("Save or load your profile").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download JSON").click()
    saved = tmp_path / "profile.json"
    download.value.save_as(saved)
    assert len(json.loads(saved.read_text())["ratings"]) == 8

    clear_all(page)
    page.get_by_text("Your ratings (0)").wait_for()
    bad = tmp_path / "broken.json"
    bad.write_text('{"ratings": [{"item_id": 1, "rating": 9}]}')
    upload = page.locator("[data-testid='stFileUploader']", has_text="Load a profile") \
        .locator("input[type=file]")
    upload.set_input_files(str(bad))
    page.get_by_text("Your ratings are unchanged").wait_for()
    page.get_by_text("Your ratings (0)").wait_for()

    upload.set_input_files(str(saved))
    page.get_by_role("button", name="Replace my profile").click()
    page.get_by_text("Your ratings (8)").wait_for()
    page.get_by_role("heading", name="teacher", exact=True).wait_for()
    no_exception(page)


def test_two_browser_sessions_isolated(server, browser):
    first_context, first = open_page(browser)
    second_context, second = open_page(browser)
    try:
        visit(first, f"{server}/New_user", "New user")
        visit(second, f"{server}/New_user", "New user")
        first.get_by_role("button", name="Add this persona's ratings").click()
        rate_by_search(second, "the", 1, 2, 1)
        first.get_by_text("Your ratings (8)").wait_for()

        clear_all(second)
        second.get_by_text("Your ratings (0)").wait_for()
        first.get_by_label("Search titles").fill("a")
        first.get_by_label("Search titles").press("Enter")
        finish_run(first)
        assert first.get_by_text("Your ratings (8)").count() == 1
        assert first.locator("[data-testid='stTable']").count() == len(FEATURED)
    finally:
        first_context.close()
        second_context.close()


def describe_item(page, title, genres, year, description):
    """Type the new item's title, year and description, and pick exactly ``genres``."""
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Title", exact=True).press("Enter")
    finish_run(page)
    page.get_by_role("spinbutton", name="Release year").fill(str(year))
    page.get_by_role("spinbutton", name="Release year").press("Enter")
    finish_run(page)
    chosen = page.locator("[data-testid=stMultiSelect]", has_text="Genres") \
        .locator("[aria-label^='Remove ']")
    while chosen.count():
        chosen.first.click()
        finish_run(page)
    for genre in genres:
        # The open dropdown renders only its first options, so typing filters it first.
        page.get_by_role("combobox", name="Genres").fill(genre)
        page.get_by_role("option", name=genre, exact=True).click()
        finish_run(page)
    page.keyboard.press("Escape")
    page.get_by_label("Description", exact=True).fill(description)
    # A text area keeps its value until it loses focus or Ctrl+Enter is pressed.
    page.get_by_label("Description", exact=True).press("Control+Enter")
    finish_run(page)


def rate_as_user(page, option, stars, count):
    """Pick the ``option``-th user, pick ``stars`` and add that user's rating of the item."""
    page.get_by_label("User", exact=True).click()
    page.get_by_role("option").nth(option).click()
    finish_run(page)
    page.get_by_role("radiogroup", name="Their rating").get_by_text(f"{stars} ★").click()
    finish_run(page)
    page.get_by_role("button", name="Add rating").click()
    page.get_by_text(f"Ratings of the new item ({count})").wait_for()
    finish_run(page)


def chart_titled(page, title):
    """Return the chart whose title starts with ``title``."""
    return page.locator(".js-plotly-plot").filter(
        has=page.locator(".gtitle", has_text=re.compile("^" + re.escape(title))))


def item_audience_shown(page):
    """Check each featured variant's top users, the four charts and the timings."""
    for variant in ITEM_FEATURED:
        page.get_by_role("heading", name=variant, exact=True).wait_for()
    # A new user's section comes last, and it scores no one until turned on.
    page.get_by_role("heading", name="A new user too").wait_for()
    # The audience tables, then the item models' validation table in its expander.
    tables = page.locator("[data-testid='stTable']")
    assert tables.count() == len(ITEM_FEATURED) + 1
    for index in range(len(ITEM_FEATURED)):
        assert tables.nth(index).locator("tbody tr").count() == 10
    assert page.get_by_text("adapted in ").count() == len(ITEM_FEATURED)
    for title in ("Predicted rating of every user", "Top audience",
                  "Mean predicted rating by age band", "Adaptation time"):
        chart_titled(page, title).wait_for()


def test_new_item_rated_by_chosen_users(server, page):
    visit(page, f"{server}/New_item", "New item")
    describe_item(page, "Haunted Lighthouse", ["Horror", "Mystery"], 1987,
                  "A keeper alone on a rock in the North Sea hears voices in the fog.")
    rate_as_user(page, 0, 5, 1)
    rate_as_user(page, 4, 2, 2)
    rate_as_user(page, 9, 5, 3)

    item_audience_shown(page)
    chart_titled(page, "Support loss during adaptation").wait_for()
    assert page.locator(".js-plotly-plot").count() == 5
    # Each added rating reuses the embedding of the unchanged text.
    assert page.get_by_text("The item's text embedding came from the cache").count() == 1
    chart = chart_titled(page, "Adaptation time")
    for variant in ITEM_FEATURED:
        assert chart.locator(".ytick", has_text=variant).count() == 1

    page.get_by_role("radiogroup", name="Break down by").get_by_text("gender").click()
    chart_titled(page, "Mean predicted rating by gender").wait_for()
    no_exception(page)
    screenshot(page, "new_item")

    # Both new: a person the models never saw gets a predicted rating per variant.
    page.get_by_text("Score a new user").click()
    page.get_by_role("spinbutton", name="Age").fill("25")
    page.get_by_role("spinbutton", name="Age").press("Enter")
    finish_run(page)
    person = page.locator("[data-testid='stTable']").nth(len(ITEM_FEATURED))
    person.wait_for()
    assert person.locator("tbody tr").count() == len(ITEM_FEATURED)
    no_exception(page)


def test_new_item_synthetic_audience(server, page):
    visit(page, f"{server}/New_item", "New item")
    page.get_by_label("Audience", exact=True).click()
    page.get_by_role("option", name="Older drama lovers loved it").click()
    finish_run(page)
    page.get_by_role("button", name="Add this audience's ratings").click()
    page.get_by_text("Ratings of the new item (8)").wait_for()
    finish_run(page)

    item_audience_shown(page)
    chart_titled(page, "Support loss during adaptation").wait_for()
    no_exception(page)
    screenshot(page, "new_item_audience")

    # With no ratings the variants predict from the content alone, so no curves.
    clear_all(page)
    page.get_by_text("Ratings of the new item (0)").wait_for()
    page.get_by_text("there are no adaptation curves").wait_for()
    item_audience_shown(page)
    no_exception(page)


def test_new_item_year_can_be_cleared(server, page, sample_dataset):
    # The browser used to snap a cleared year back to its default, so an item of
    # unknown year could not be described.
    from playwright.sync_api import expect

    visit(page, f"{server}/New_item", "New item")
    year = page.get_by_role("spinbutton", name="Release year")
    # expect polls: under load the field can be drawn before its default is filled in.
    expect(year).to_have_value(str(int(sample_dataset.items["year"].max())))
    year.fill("")
    year.press("Enter")
    finish_run(page)
    assert year.input_value() == ""

    rate_as_user(page, 0, 4, 1)
    item_audience_shown(page)
    assert year.input_value() == ""
    no_exception(page)


def test_dynamic_session_steps_and_autoplay(server, page):
    visit(page, f"{server}/Dynamic_session", "Dynamic session")
    page.get_by_text("0 of ").first.wait_for()
    for step in range(1, 4):
        page.get_by_role("button", name="Reveal next rating").click()
        page.get_by_text(f"{step} of ", exact=False).first.wait_for()
    page.get_by_role("heading", name="Top 10 after 3 ratings").wait_for()
    tables = page.locator("[data-testid='stTable']")
    assert tables.count() == len(FEATURED)
    assert tables.first.locator("thead").inner_text().split()[-1] == "move"
    page.locator(".js-plotly-plot", has_text="ratings revealed").wait_for()

    page.get_by_text("Autoplay").click()
    page.get_by_text("6 of ").first.wait_for()
    page.get_by_text("Autoplay").click()
    finish_run(page)
    no_exception(page)
    screenshot(page, "dynamic_session")


def test_model_comparison_loads_results(server, page, results_json):
    visit(page, f"{server}/Model_comparison", "Model comparison")
    upload = page.locator("[data-testid='stFileUploader'] input[type=file]")
    upload.set_input_files(str(results_json))
    page.get_by_role("heading", name="By support size").wait_for()
    page.locator(".js-plotly-plot", has_text="by support size").first.wait_for()
    page.locator(".js-plotly-plot", has_text="Adapting to one user").wait_for()

    assert page.locator("[data-testid='stTable']").count() == 1
    assert page.locator(".js-plotly-plot").count() == 4
    with page.expect_download() as download:
        page.get_by_role("button", name="Download table (CSV)").click()
    assert download.value.suggested_filename == "metarec-comparison.csv"
    no_exception(page)
    screenshot(page, "model_comparison")


def test_model_comparison_runs_evaluation(server, page):
    visit(page, f"{server}/Model_comparison", "Model comparison")
    page.get_by_text("Run an evaluation here", exact=True).click()
    page.get_by_role("button", name="Run evaluation").click()
    page.locator(".js-plotly-plot", has_text="Evaluation time per user").wait_for()

    assert page.locator(".js-plotly-plot").count() == 5
    no_exception(page)


def test_left_training_is_reported(browser, tmp_path):
    # Leaving the page stops a training that its script runs. On return, the page used
    # to look as if nothing had been pressed.
    from playwright.sync_api import expect

    models_dir = tmp_path / "models"
    with running_server(models_dir, tmp_path / "item-models") as url:
        context, page = open_page(browser)
        try:
            visit(page, url, "Models")
            page.get_by_role("button", name="Train models").click()
            page.locator("[data-testid='stProgress']").wait_for()
            page.locator("[data-testid='stSidebarNav'] a", has_text="New user").click()
            page.get_by_role("heading", name="New user", exact=True).wait_for()
            finish_run(page)
            page.locator("[data-testid='stSidebarNav'] a", has_text="Home").click()
            # The left training runs on until its next progress step, and Home notes
            # that meanwhile. Once it has stopped, a reload shows the warning.
            deadline = time.monotonic() + PAGE_TIMEOUT_MS / 1000
            while True:
                page.get_by_role("heading", name="Models", exact=True).wait_for()
                finish_run(page)
                if page.get_by_text("stopped before it finished").count():
                    break
                expect(page.get_by_text("is running, in this session or another")
                       ).to_be_visible()
                assert time.monotonic() < deadline, "the left training did not stop"
                page.wait_for_timeout(1000)
                page.reload()
            screenshot(page, "home_training_stopped")
            assert not (models_dir / "manifest.json").exists()

            # The server remembers it, so a new session (a reload) gets the warning too.
            page.reload()
            page.get_by_role("heading", name="Models", exact=True).wait_for()
            finish_run(page)
            expect(page.get_by_text("stopped before it finished")).to_be_visible(
                timeout=PAGE_TIMEOUT_MS)
            page.get_by_role("button", name="Train models").wait_for()
            no_exception(page)
        finally:
            context.close()
