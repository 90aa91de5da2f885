"""Cached loading, training and adaptation of the item-side models for the dashboard."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import streamlit as st
import torch

from ..cli import ITEMS_SUBDIR
from ..data import Dataset
from ..serving.item_store import ITEM_MANIFEST
from ..serving.items import ItemRecommender
from ..serving.store import MANIFEST, ModelsDirectoryError
from .item_compare import ItemComparison, compare_item_variants, new_user_ratings
from .state import (
    ITEM_MODELS_DIR_ENV,
    dashboard_advice,
    data_models_dir,
    folder_variable_advice,
    models_dir_for,
    other_data_sentence,
    progress_bar,
    trained_scenario,
    training_runs,
)

logger = logging.getLogger("metarec")


def configured_item_models_dir(dataset: Dataset) -> Path:
    """Return ``METAREC_ITEM_MODELS_DIR`` if set, else the ``items`` folder of the models.

    A ``METAREC_ITEM_MODELS_DIR`` that contains user models and no item models is
    replaced by its ``items`` folder, where item models go by default. Without the
    variable, a models folder that contains item models itself (written by ``train
    --scenario new-item``) is used as it is.
    """
    if not os.environ.get(ITEM_MODELS_DIR_ENV):
        models_dir = models_dir_for(dataset)
        if (models_dir / ITEM_MANIFEST).is_file():
            return models_dir
        return models_dir / ITEMS_SUBDIR
    folder = Path(os.environ[ITEM_MODELS_DIR_ENV]).expanduser()
    if user_models_instead(folder):
        return folder / ITEMS_SUBDIR
    return folder


def item_models_dir_for(dataset: Dataset) -> Path:
    """Return the folder of the item models of ``dataset``.

    That is :func:`configured_item_models_dir`, or a subfolder of it when it contains
    item models trained on other data, so that training for this data never replaces them.
    """
    return data_models_dir(configured_item_models_dir(dataset), ITEM_MANIFEST, dataset)


def user_models_instead(folder: Path) -> bool:
    """Return whether ``folder`` contains user models and no item models."""
    return (folder / MANIFEST).is_file() and not (folder / ITEM_MANIFEST).is_file()


def missing_item_models_message(dataset: Dataset, next_step: str) -> str:
    """Return that there are no item models for ``dataset`` yet, where they go and why.

    ``next_step`` is a sentence on how to train them, put before the advice on
    ``METAREC_ITEM_MODELS_DIR``.
    """
    directory = item_models_dir_for(dataset)
    configured = configured_item_models_dir(dataset)
    text = f"No item models for {dataset.name!r} in '{directory}' yet."
    from_env = Path(os.environ.get(ITEM_MODELS_DIR_ENV, "")).expanduser()
    if os.environ.get(ITEM_MODELS_DIR_ENV) and configured != from_env:
        scenario = trained_scenario(from_env, MANIFEST)
        text += (f" '{from_env}', set by {ITEM_MODELS_DIR_ENV}, contains models trained "
                 f"for scenario {scenario!r}: user models, not item models. So the item "
                 f"models go to its '{ITEMS_SUBDIR}' subfolder, as they do beside any user "
                 "models.")
    text += other_data_sentence(configured, directory, ITEM_MANIFEST, "item models")
    return (f"{text} {next_step} "
            f"{folder_variable_advice(ITEM_MODELS_DIR_ENV, 'item models')}")


def _manifest_stamp(directory: Path):
    try:
        return (directory / ITEM_MANIFEST).stat().st_mtime_ns
    except OSError:
        return None


@st.cache_resource
def _item_worker() -> ThreadPoolExecutor:
    """Return the one long-lived thread that adapts item models in this server process.

    torch pays a set-up cost the first time a thread computes, and Streamlit runs each
    rerun in a new thread, so adapting in a fresh thread would inflate the timings. The
    thread computes with one torch thread: on a 2-core machine busy with other jobs, the
    ML-100K teacher took 817 ms to adapt with two threads, against a median of 9 ms with
    one in the item benchmark.
    """
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="metarec-items",
                              initializer=torch.set_num_threads, initargs=(1,))


def _warm_up(recommender: ItemRecommender):
    """Load the sentence encoder and adapt every variant once, before timings are shown."""
    user = int(recommender.user_ids[0])
    content = recommender.new_item_content("Warm-up", (), None, "A first item.")
    for variant in recommender.variants:
        recommender.adapt_item(variant, {user: recommender.rating_scale[1]}, content=content)


@st.cache_resource(show_spinner="Loading the item models and the sentence encoder…",
                   max_entries=4)
def _load(directory: str, manifest_stamp, data_source: str, _dataset: Dataset):
    recommender = ItemRecommender.load(directory, dataset=_dataset)
    _item_worker().submit(_warm_up, recommender).result()
    return recommender


def item_recommender_or_message(dataset: Dataset) -> ItemRecommender | None:
    """Return the item models of ``dataset``, or show why there are none and return None."""
    directory = item_models_dir_for(dataset).resolve()
    try:
        return _load(str(directory), _manifest_stamp(directory), dataset.source, dataset)
    except ModelsDirectoryError as error:
        logger.warning("no usable item models in %s: %s", directory, error)
        if (directory / ITEM_MANIFEST).is_file():
            st.error(dashboard_advice(error, "item models", ITEM_MODELS_DIR_ENV))
        else:
            st.info(missing_item_models_message(dataset, "Train them below."))
        return None
    except (OSError, RuntimeError, KeyError) as error:
        # A damaged file: torch raises RuntimeError, a manifest missing fields KeyError.
        logger.warning("failed to load item models from %s: %r", directory, error)
        st.error(f"Could not load the item models in '{directory}' "
                 f"({type(error).__name__}: {error}). Retrain them below.")
        return None


def train_items_with_progress(dataset: Dataset, epochs=None, seed=0) -> Path:
    """Train the item-side variants into :func:`item_models_dir_for`, with a progress bar."""
    from ..item_pipeline import train_item_models

    models_dir = item_models_dir_for(dataset)

    def train(report):
        path = train_item_models(dataset, models_dir, seed=seed, epochs=epochs,
                                 callback=report)
        logger.info("dashboard trained item models for %s into %s", dataset.name,
                    path.parent)
        return path

    return training_runs().train(models_dir, "item", train, progress_bar())


@st.cache_data(show_spinner="Adapting…", max_entries=64)
def _compare(models_key: tuple, ratings: tuple, variants: tuple, content: tuple, k: int,
             _recommender: ItemRecommender) -> ItemComparison:
    title, genres, year, description = content
    job = _item_worker().submit(compare_item_variants, _recommender, variants, dict(ratings),
                                title=title, genres=genres, year=year,
                                description=description, k=k)
    return job.result()


@st.cache_data(show_spinner=False, max_entries=64)
def _new_user(models_key: tuple, ratings: tuple, variants: tuple, content: tuple,
              person: tuple, _recommender: ItemRecommender) -> pd.DataFrame:
    title, genres, year, description = content
    job = _item_worker().submit(new_user_ratings, _recommender, variants, dict(ratings),
                                title=title, genres=genres, year=year,
                                description=description, person=dict(person))
    return job.result()


def new_user_ratings_cached(dataset: Dataset, recommender: ItemRecommender, ratings: dict,
                            variants, content: dict, person: dict) -> pd.DataFrame:
    """Return :func:`new_user_ratings`, cached per input like :func:`compare_items_cached`."""
    directory = item_models_dir_for(dataset).resolve()
    models_key = (str(directory), _manifest_stamp(directory), dataset.source)
    fields = (content["title"], tuple(content["genres"]), content["year"],
              content["description"])
    return _new_user(models_key, tuple(sorted(ratings.items())), tuple(variants), fields,
                     tuple(sorted(person.items())), recommender)


def compare_items_cached(dataset: Dataset, recommender: ItemRecommender, ratings: dict,
                         variants, content: dict, k=10) -> ItemComparison:
    """Return :func:`compare_item_variants`, cached per input.

    A rerun that changes nothing the models see reuses the adaptations and their
    measured times. Raises the errors of :func:`compare_item_variants`.
    """
    directory = item_models_dir_for(dataset).resolve()
    models_key = (str(directory), _manifest_stamp(directory), dataset.source)
    fields = (content["title"], tuple(content["genres"]), content["year"],
              content["description"])
    return _compare(models_key, tuple(sorted(ratings.items())), tuple(variants), fields, k,
                    recommender)
