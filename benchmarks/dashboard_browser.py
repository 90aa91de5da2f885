"""Start the dashboard on 127.0.0.1 and drive it in Chromium, for the dashboard scripts.

``run_dashboard_benchmark.py`` times interactions with :func:`timed`, and
``capture_screenshots.py`` saves the README's screenshots.

Both scripts also import the dashboard's cached helpers outside a Streamlit server, where
each ``st.cache_data`` function logs "No runtime found" as it is defined. The cache still
works, in memory, so importing this module first turns those warnings off.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import streamlit.logger

streamlit.logger.get_logger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("METAREC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1000}
START_TIMEOUT_S = 120
PAGE_TIMEOUT_MS = 180_000
# A run counts as finished when no new run has started this long after it ended.
QUIET_MS = 300

# Records, in the page's own clock, when the person last pressed a pointer and every
# change of the script state that Streamlit shows on its root element. A finished run
# also gets the time two animation frames later, when the browser has painted it.
TIMING_SCRIPT = """
window.__metarecTiming = {start: null, events: []};
document.addEventListener('pointerdown', () => {
  window.__metarecTiming.start = performance.now();
  window.__metarecTiming.events = [];
}, true);
(function watch() {
  const app = document.querySelector('[data-testid=stApp]');
  if (!app) { requestAnimationFrame(watch); return; }
  new MutationObserver(() => {
    const event = {state: app.dataset.testScriptState, at: performance.now()};
    window.__metarecTiming.events.push(event);
    if (event.state === 'notRunning') {
      requestAnimationFrame(() => requestAnimationFrame(() => {
        event.painted = performance.now();
      }));
    }
  }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
})();
"""

FINISHED = """quiet => {
  const timing = window.__metarecTiming;
  if (timing.start === null) return false;
  const events = timing.events;
  if (!events.some(e => e.state === 'running')) return false;
  const last = events[events.length - 1];
  return last.state === 'notRunning' && last.painted !== undefined
      && performance.now() - last.painted > quiet;
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def dashboard(models_dir, data_dir=None):
    """Run ``streamlit run app.py`` on a free port of 127.0.0.1 and yield its URL."""
    env = {**os.environ, "METAREC_MODELS_DIR": str(models_dir)}
    env.pop("METAREC_DATA_DIR", None)
    if data_dir is not None:
        env["METAREC_DATA_DIR"] = str(data_dir)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode(errors="replace") if process.poll() \
                    is not None else ""
                raise RuntimeError(f"streamlit did not start on {url}: {output[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def chromium():
    """Yield a Playwright Chromium browser started from ``CHROMIUM``."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"Chromium not found at {CHROMIUM}; install Debian's chromium "
                           "package or set METAREC_CHROMIUM")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser, viewport=VIEWPORT):
    """Open a fresh context (a new Streamlit session) with the timing script installed."""
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    context.add_init_script(TIMING_SCRIPT)
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    return page


def finish_run(page, quiet_ms=QUIET_MS):
    """Wait until the script runs started by the last pointer press have finished."""
    page.wait_for_function(FINISHED, arg=quiet_ms, polling=50)


def visit(page, url, heading):
    """Open ``url`` and wait until its first run has drawn ``heading``."""
    page.goto(url)
    page.get_by_role("heading", name=heading, exact=True).first.wait_for()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=stApp]').dataset.testScriptState"
        " === 'notRunning'")
    page.wait_for_timeout(QUIET_MS)


def timed(page, action) -> float:
    """Run ``action`` (one click) and return milliseconds until the page is repainted.

    The time runs from the pointer press to two animation frames after the last
    script run it caused, so it covers the server's rerun, the transfer and the
    browser's drawing of every chart.
    """
    action()
    finish_run(page)
    return page.evaluate("""() => {
      const timing = window.__metarecTiming;
      return timing.events[timing.events.length - 1].painted - timing.start;
    }""")
