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


def stop_training_at(monkeypatch, target) -> list:
    """Replace the training function ``target`` by one that records its seed and stops.

    Returns the list that each call appends its ``seed`` to. The call then raises
    ValueError("stopped before training"), which the page shows as a training error.
    """
    seeds = []

    def record(dataset, out_dir, seed=0, **kwargs):
        seeds.append(seed)
        raise ValueError("stopped before training")

    monkeypatch.setattr(target, record)
    return seeds


def flat(text):
    """Return ``text`` with every run of whitespace as one space, so wrapped text matches."""
    return " ".join(text.split())


def captions(app) -> list[str]:
    """Return the text of every caption on the page."""
    return [caption.value for caption in app.caption]
