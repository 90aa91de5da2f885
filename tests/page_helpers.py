"""Helpers for the tests that run dashboard pages with Streamlit's AppTest."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from metarec.cli import SAMPLE_DIR

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def open_page(page, timeout, ratings_key=None, ratings=None) -> AppTest:
    """Run ``page`` of the dashboard, with ``ratings`` of the sample already entered.

    The ratings go under ``ratings_key`` in the session state, for the sample's folder,
    as the page keeps them per data set.
    """
    app = AppTest.from_file(APP, default_timeout=timeout)
    app.switch_page(page)
    if ratings is not None:
        app.session_state[ratings_key] = {str(SAMPLE_DIR): dict(ratings)}
    return app.run()


def click(app, label):
    """Click the button labelled ``label`` and run the page again."""
    matches = [button for button in app.button if button.label == label]
    assert matches, f"no button {label!r} among {[b.label for b in app.button]}"
    return matches[0].click().run()
