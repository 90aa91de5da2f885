"""The Dynamic session page: the held-out table's score columns and kept settings."""

import json

import pytest

from page_helpers import click, open_page

SESSION = "pages/3_Dynamic_session.py"
RUN_TIMEOUT = 60


@pytest.fixture
def session_app(app_env):
    return open_page(SESSION, RUN_TIMEOUT)


def held_out_columns(app) -> dict:
    [table] = [frame for frame in app.dataframe if "rating" in frame.value.columns
               and "title" in frame.value.columns and len(frame.value) == 10]
    return json.loads(table.proto.columns)


def test_held_out_columns_name_score_kinds(session_app):
    app = session_app
    app.multiselect(key="session.variants").set_value(["student", "popularity"]).run()
    click(app, "Reveal next rating")
    columns = held_out_columns(app)

    # Popularity's counts showed as "313.00" under a bare variant name.
    assert columns["popularity"]["label"] == "popularity (ranking score)"
    assert columns["popularity"]["type_config"]["format"] == "%d"
    assert columns["student"]["label"] == "student"
    assert columns["student"]["type_config"]["format"] == "%.2f"


def test_interval_survives_page_switch(session_app):
    app = session_app
    app.select_slider(key="session.interval").set_value(2.0).run()
    app.switch_page("app.py").run()
    app.switch_page(SESSION).run()

    assert app.select_slider(key="session.interval").value == 2.0
