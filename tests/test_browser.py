"""The dashboard in a real browser: Debian's Chromium driven by Playwright.

A Streamlit server is started on 127.0.0.1 against tiny models trained on the sample.
Screenshots go to ``test-artifacts/``.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
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


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_models):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}; install Debian's chromium package")
    pytest.importorskip("playwright.sync_api")
    port = free_port()
    env = {**os.environ, "METAREC_MODELS_DIR": str(tiny_models)}
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
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    yield page
    context.close()


def screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_home_page_lists_models(server, page):
    page.goto(server)
    page.get_by_role("heading", name="Models").wait_for()
    page.get_by_text("Validation error").wait_for()
    for variant in ("teacher", "student", "ensemble"):
        page.get_by_role("cell", name=variant, exact=True).first.wait_for()
    screenshot(page, "home")


def test_new_user_gets_recommendations_from_every_variant(server, page):
    page.goto(f"{server}/New_user")
    page.get_by_role("button", name="Add this persona's ratings").click()
    page.get_by_text("Your ratings (").first.wait_for()
    for variant in ("teacher", "student", "user-bias", "ensemble"):
        page.get_by_role("heading", name=variant, exact=True).wait_for()
    # One table of 10 recommendations per featured variant.
    tables = page.locator("[data-testid='stTable']")
    tables.first.wait_for()
    assert tables.count() >= 4
    assert tables.first.locator("tbody tr").count() == 10
    page.locator(".js-plotly-plot").first.wait_for()
    screenshot(page, "new_user")


def test_new_user_adds_a_rating_by_search(server, page):
    page.goto(f"{server}/New_user")
    page.get_by_label("Search titles").fill("the")
    page.get_by_label("Search titles").press("Enter")
    page.get_by_role("button", name="Add rating").click()
    page.get_by_text("Your ratings (1)").wait_for()
    page.get_by_role("heading", name="student", exact=True).wait_for()
    screenshot(page, "new_user_search")
