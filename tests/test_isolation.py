"""Two dashboard sessions at once: neither sees the other's input, the models stay put.

Both sessions run in this process, as two browser tabs share one Streamlit server, so
they share the cached models and the adaptation thread. Their script runs take turns:
AppTest swaps process-wide state (the runtime instance, the pages manager) for each run,
so two AppTest runs cannot overlap in one process. Overlapping runs are the browser
test's job (``test_two_browser_sessions_isolated``), where each tab has its own
script thread in one server.
"""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from metarec.cli import MODELS_DIR_ENV, SAMPLE_DIR
from metarec.data import DATA_DIR_ENV
from metarec.ui.compare import compare_variants
from metarec.ui.personas import persona_ratings

from test_dashboard import APP, NEW_USER, RATINGS_KEY, RUN_TIMEOUT, click

SESSION_PAGE = "pages/3_Dynamic_session.py"
# mf-als changes its top list most between personas, so a leaked rating would show.
VARIANTS = ["teacher", "mf-als", "ensemble"]
PERSONAS = ("Sci-fi fan", "Romance lover")


@pytest.fixture
def app_env(tiny_models, monkeypatch):
    monkeypatch.setenv(MODELS_DIR_ENV, str(tiny_models))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    return tiny_models


def run_both(apps):
    """Run each app's pending rerun, one after the other."""
    for app in apps:
        app.run()
        assert not app.exception, [e.value for e in app.exception]


def weights(recommender) -> dict:
    """Copy every network tensor and baseline array of ``recommender``."""
    state = {f"{name}.{key}": value.detach().numpy().copy()
             for name, learner in recommender.learners.items()
             for key, value in learner.state_dict().items()}
    for name, model in recommender.classical.items():
        for key, value in model.get_state().items():
            state[f"{name}.{key}"] = np.array(value, copy=True)
    return state


def new_user_app(persona):
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)
    app.switch_page(NEW_USER)
    app.run()
    app.selectbox(key="new_user.persona").set_value(persona)
    app.multiselect(key="new_user.variants").set_value(VARIANTS)
    return app


def shown_top_lists(app) -> list:
    return [table.value["title"].tolist() for table in app.table]


def test_sessions_keep_own_ratings_and_lists(app_env, sample_dataset):
    from metarec.ui.state import load_recommender

    apps = [new_user_app(persona) for persona in PERSONAS]
    run_both(apps)
    for app in apps:
        [button for button in app.button if button.label == "Add this persona's ratings"][0] \
            .click()
    run_both(apps)
    run_both(apps)

    recommender = load_recommender(sample_dataset)
    lists = []
    for app, persona in zip(apps, PERSONAS):
        expected_ratings = persona_ratings(sample_dataset, persona)
        assert app.session_state[RATINGS_KEY] == {str(SAMPLE_DIR): expected_ratings}
        expected = compare_variants(recommender, expected_ratings, VARIANTS, {}, k=10)
        shown = shown_top_lists(app)
        assert shown == [r.top["title"].tolist() for r in expected.results.values()]
        lists.append(shown)
    assert lists[0] != lists[1]


def test_cleared_ratings_stay_in_one_session(app_env):
    first, second = (new_user_app(persona) for persona in PERSONAS)
    click(first, "Add this persona's ratings")
    click(second, "Add this persona's ratings")
    before = dict(second.session_state[RATINGS_KEY])

    click(first, "Clear all")
    second.run()

    assert first.session_state[RATINGS_KEY] == {str(SAMPLE_DIR): {}}
    assert second.session_state[RATINGS_KEY] == before
    assert len(second.table) == len(VARIANTS)


def test_replays_stay_in_one_session(app_env):
    apps = []
    for _ in range(2):
        app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)
        app.switch_page(SESSION_PAGE)
        apps.append(app)
    run_both(apps)
    for _ in range(3):
        click(apps[0], "Reveal next rating")
    run_both(apps)

    assert apps[0].session_state["session.revealed"] == 3
    assert apps[1].session_state["session.revealed"] == 0
    assert "session.records" in apps[0].session_state
    assert {n for _, n in apps[1].session_state["session.records"]["records"]} == {0}


def test_shared_weights_unchanged_by_sessions(app_env, tiny_models, sample_dataset):
    from metarec.serving.recommender import Recommender
    from metarec.ui.state import load_recommender

    shared = load_recommender(sample_dataset)
    before = weights(shared)
    apps = [new_user_app(persona) for persona in PERSONAS]
    for app in apps:
        [button for button in app.button if button.label == "Add this persona's ratings"][0] \
            .click()
    run_both(apps)
    for app in apps:
        app.toggle(key="new_user.explain").set_value(True)
    run_both(apps)
    assert all(app.get("plotly_chart") for app in apps)

    assert load_recommender(sample_dataset) is shared
    after = weights(shared)
    on_disk = weights(Recommender.load(tiny_models, sample_dataset))
    assert before.keys() == after.keys() == on_disk.keys()
    for key in before:
        assert np.array_equal(before[key], after[key]), key
        assert np.array_equal(after[key], on_disk[key]), key
