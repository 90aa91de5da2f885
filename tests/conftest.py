"""Shared fixtures: the bundled sample, a tiny trained models directory, MovieLens paths."""

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO / "sample_data"
ML100K_DIR = Path(os.environ.get("METAREC_ML100K_DIR", REPO.parent / "shared/data/ml-100k"))


@pytest.fixture(autouse=True)
def restore_main_module():
    """Put back ``__main__`` after each test: AppTest leaves its script there.

    Processes started with the spawn method run ``__main__``'s file again, so a page
    script left there ran in every worker of the distributed tests, and a script made by
    ``AppTest.from_function`` failed in them.
    """
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture(scope="session")
def sample_dataset():
    from metarec.data import load_movielens_100k

    return load_movielens_100k(SAMPLE_DIR)


@pytest.fixture(scope="session")
def ml100k_dataset():
    from metarec.data import load_movielens_100k

    if not (ML100K_DIR / "u.data").is_file():
        pytest.skip(f"MovieLens-100K not found at {ML100K_DIR}; set METAREC_ML100K_DIR")
    return load_movielens_100k(ML100K_DIR)


@pytest.fixture(scope="session")
def tiny_models(sample_dataset, tmp_path_factory):
    """Teacher, student, baseline and ensemble trained for 2 epochs on the sample."""
    from metarec.pipeline import train_models

    out = tmp_path_factory.mktemp("models")
    train_models(sample_dataset, out, seed=0, epochs=2)
    return out


@pytest.fixture(scope="session")
def tiny_item_models(sample_dataset, tmp_path_factory):
    """Item-side variants for the New item page, trained for 2 epochs on the sample."""
    from metarec.item_pipeline import train_item_models

    out = tmp_path_factory.mktemp("item-models")
    train_item_models(sample_dataset, out, seed=0, epochs=2)
    return out


@pytest.fixture(scope="session")
def recommender(tiny_models, sample_dataset):
    """The :func:`tiny_models`, loaded with the sample; modules may define their own."""
    from metarec.serving import Recommender

    return Recommender.load(tiny_models, sample_dataset)


@pytest.fixture(scope="session")
def item_recommender(tiny_item_models, sample_dataset):
    """The :func:`tiny_item_models`, loaded with the sample; modules may define their own."""
    from metarec.serving.items import ItemRecommender

    return ItemRecommender.load(tiny_item_models, sample_dataset)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A dashboard with no data folder or models configured, its uploads in ``tmp_path``."""
    from metarec.cli import MODELS_DIR_ENV
    from metarec.data import DATA_DIR_ENV
    from metarec.ui.item_state import ITEM_MODELS_DIR_ENV

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "no-models"))
    monkeypatch.delenv(ITEM_MODELS_DIR_ENV, raising=False)
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    return tmp_path


@pytest.fixture
def app_env(tiny_models, monkeypatch):
    """A dashboard on the sample with :func:`tiny_models`; modules may define their own."""
    from metarec.cli import MODELS_DIR_ENV
    from metarec.data import DATA_DIR_ENV

    monkeypatch.setenv(MODELS_DIR_ENV, str(tiny_models))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    return tiny_models


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """Run in ``tmp_path`` with the sample and no models or data folder configured."""
    from metarec.cli import MODELS_DIR_ENV
    from metarec.data import DATA_DIR_ENV

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(MODELS_DIR_ENV, raising=False)
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    return tmp_path
