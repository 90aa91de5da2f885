"""Cached loaders and the data choice shared by every dashboard page."""

from __future__ import annotations

import gc
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import streamlit as st
import torch

from ..cli import MODELS_DIR_ENV, SAMPLE_DIR, resolve_models_dir
from ..data import DATA_DIR_ENV, DataPathError, Dataset, registry
from ..serving.recommender import Recommender
from ..serving.store import MANIFEST, ModelsDirectoryError
from . import upload
from .compare import Comparison, compare_variants
from .training_runs import TrainingRuns

logger = logging.getLogger("metarec")

SAMPLE, FOLDER = "Bundled sample", "MovieLens-100K folder"
ML1M_FOLDER, DOWNLOAD, UPLOAD = "MovieLens-1M folder", "Download MovieLens", "Your own CSV"
DATA_SOURCE_KEY = "data.source"
DATA_FOLDER_KEY = "data.folder"
ML1M_FOLDER_KEY = "data.ml1m_folder"


# Remembered widgets ----------------------------------------------------------------------

def remembered(key: str, default):
    """Keep a widget's value in ``st.session_state[key]`` across pages.

    Streamlit drops a widget's state on a page switch, and a widget with the same key on
    two pages does not reliably share its value. So the value lives under ``key``, and
    the widget uses its own key, seeded from ``key`` before every run. Call this just
    before drawing the widget and pass the returned key and ``on_change`` callback.

    Returns
    -------
    widget_key : str
    save : callable
        Copies the widget's new value to ``key``.
    """
    widget_key = f"_widget.{key}"
    if key not in st.session_state:
        st.session_state[key] = default
    st.session_state[widget_key] = st.session_state[key]

    def save():
        st.session_state[key] = st.session_state[widget_key]

    return widget_key, save


# Data ------------------------------------------------------------------------------------

def dataset_controls() -> Path | None:
    """Draw the data choice in the sidebar and return the chosen file or folder.

    The choice starts at ``METAREC_DATA_DIR`` when that is set, else at the bundled
    sample, and is kept in ``st.session_state`` for every page. Returns None while a
    folder path is empty, a dataset is not downloaded or nothing is uploaded.
    """
    from_env = os.environ.get(DATA_DIR_ENV, "")
    sidebar = st.sidebar
    sidebar.header("Data")

    source_key, save_source = remembered(DATA_SOURCE_KEY, FOLDER if from_env else SAMPLE)
    source = sidebar.radio("Ratings data", [SAMPLE, FOLDER, ML1M_FOLDER, DOWNLOAD, UPLOAD],
                           key=source_key, on_change=save_source,
                           help="The bundled sample is a small synthetic catalogue. A "
                                "MovieLens-100K folder contains u.data, u.item and u.user, "
                                "a MovieLens-1M folder ratings.dat, movies.dat and "
                                "users.dat. Your own CSV needs user_id, item_id and rating "
                                "columns.")
    if source == SAMPLE:
        return SAMPLE_DIR
    if source == DOWNLOAD:
        return upload.download_controls(remembered)
    if source == UPLOAD:
        return upload.csv_upload_controls()

    if source == FOLDER:
        key, default, layout, label = DATA_FOLDER_KEY, from_env, "ml-100k", "MovieLens-100K"
    else:
        key, default, layout, label = ML1M_FOLDER_KEY, "", "ml-1m", "MovieLens-1M"
    folder_key, save_folder = remembered(key, default)
    folder = sidebar.text_input("Folder path", key=folder_key, on_change=save_folder,
                                placeholder=f"/path/to/{layout}")
    if not folder.strip():
        sidebar.info(f"Type the path of a folder in the {label} layout.")
        return None
    return Path(folder.strip()).expanduser()


def _files_stamp(path) -> tuple:
    """Modification times and sizes of the data files, so edited files are read again."""
    path = Path(path)
    try:
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    except OSError:
        return ()
    stamp = []
    for file in files:
        try:
            status = file.stat()
        except OSError:
            stamp.append((file.name, None))
            continue
        stamp.append((file.name, status.st_mtime_ns, status.st_size))
    return tuple(stamp)


# st.cache_data would unpickle a copy of the whole dataset on every rerun, which took
# 0.3 ms for the sample but 10 ms for the 487,650 ratings of MovieLens-1M users 1-2999
# on a 2-core CPU. So every session shares one Dataset as a resource, and no page may
# change it.
@st.cache_resource(show_spinner="Reading the ratings…", max_entries=4)
def _read_dataset(directory: str, stamp: tuple) -> Dataset:
    # An upload with a rating scale set in the sidebar records it beside the files.
    dataset = registry.load_dataset(directory, **upload.csv_options(directory))
    _freeze_long_lived_objects()
    return dataset


def load_dataset(directory) -> Dataset:
    """Load a data folder or ratings CSV once per version of its files.

    The returned Dataset is shared by every session and must be treated as read-only:
    derive new frames from its tables instead of changing them.

    Raises the errors of :func:`metarec.data.load_dataset`.
    """
    return _read_dataset(str(directory), _files_stamp(directory))


def selected_dataset() -> Dataset | None:
    """Draw :func:`dataset_controls` and load the chosen data.

    Shows the reason and returns None when the folder is empty, missing or malformed.
    """
    directory = dataset_controls()
    if directory is None:
        st.info("Choose the ratings data in the sidebar.")
        return None
    if not directory.exists():
        st.error(f"Folder '{directory}' does not exist. Type the path of a folder that "
                 "contains u.data, u.item and u.user (MovieLens-100K) or ratings.dat, "
                 "movies.dat and users.dat (MovieLens-1M).")
        return None
    try:
        dataset = load_dataset(directory)
    except DataPathError as error:
        # The error's own advice is for the command line.
        logger.warning("no data in %s: %s", directory, error)
        st.error(f"Could not load the ratings data. {error.reason} "
                 f"{data_path_advice(error.folders)}")
        return None
    except (OSError, ValueError) as error:
        logger.warning("failed to load data from %s: %s", directory, error)
        message = upload.load_error_message(directory, error) or str(error)
        st.error(f"Could not load the ratings data. {message}")
        return None
    st.sidebar.caption(dataset.summary())
    return dataset


def data_path_advice(folders) -> str:
    """Return how to fix a :class:`DataPathError` in the sidebar, naming ``folders``."""
    if len(folders) == 1:
        return f"Type the folder '{folders[0]}' in 'Folder path' in the sidebar."
    if folders:
        return ("Type the path of one of those sub-folders in 'Folder path' in the "
                f"sidebar, such as '{folders[0]}'.")
    return "Type the path of a folder that contains one of those files in 'Folder path'."


def _freeze_long_lived_objects():
    """Hide every object alive now, such as modules, models and data, from the cyclic GC.

    Streamlit runs a full garbage collection after every script run (the
    ``runner.postScriptGC`` option, on by default in Streamlit 1.67). With torch, pandas,
    plotly and the sample's models loaded, it walked about 300,000 objects in 160 to
    210 ms on a busy 2-core CPU. It holds the GIL all that time, so the server thread
    that sends the finished page to the browser waits. Frozen objects are still freed by
    reference counting. Only reference cycles among them, such as an evicted cache entry
    or a closed session, wait until the next load, which unfreezes and collects
    everything before it freezes again.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


# Models ----------------------------------------------------------------------------------

def models_dir_for(dataset: Dataset) -> Path:
    """Return ``METAREC_MODELS_DIR`` if set, else ``models/<dataset name>``."""
    return resolve_models_dir(None, dataset.name)


def _manifest_stamp(models_dir: Path):
    try:
        return (models_dir / MANIFEST).stat().st_mtime_ns
    except OSError:
        return None


@st.cache_resource
def _adaptation_worker() -> ThreadPoolExecutor:
    """Return the one thread that runs every adaptation of this server process.

    Streamlit runs each rerun in a new thread, and torch pays a set-up cost the first
    time a thread computes, so a long-lived thread keeps the first variant of a run from
    looking slower than the rest.

    The thread computes with one torch thread, because the networks are too small to
    gain from a second. On a busy 2-core CPU, two threads made each adaptation of the
    sample's teacher take about 250 ms instead of 1.5 ms, as every parallel region
    waited for a free core. ``torch.set_num_threads`` also sets the default of threads
    started later, so script threads (training on the home page) use one thread too;
    training the sample for 2 epochs took 8.0 s that way against 7.5 s with two.
    """
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="metarec-adapt",
                              initializer=torch.set_num_threads, initargs=(1,))


def _warm_up(recommender: Recommender):
    """Adapt every variant once to a single rating.

    The first adaptation in a process pays torch's one-time set-up, which would distort
    the first timings the dashboard shows. With the sample's teacher on a 2-core CPU it
    took about a second, against 5 to 15 ms for later adaptations.
    """
    ratings = {int(recommender.item_ids[0]): recommender.rating_scale[1]}
    for variant in recommender.variants:
        recommender.adapt(ratings, variant)


@st.cache_resource(show_spinner="Loading the models…", max_entries=4)
def _load_recommender(models_dir: str, manifest_stamp, data_source: str, data_stamp: tuple,
                      _dataset: Dataset) -> Recommender:
    recommender = Recommender.load(models_dir, dataset=_dataset)
    _adaptation_worker().submit(_warm_up, recommender).result()
    _freeze_long_lived_objects()
    return recommender


def load_recommender(dataset: Dataset) -> Recommender:
    """Load the models of ``dataset``, shared read-only by every session.

    The cache entry is keyed by the models directory, the manifest's modification time
    and the data files, so retraining or editing the data loads again.

    Raises
    ------
    ModelsDirectoryError
        If there are no complete models for ``dataset`` in :func:`models_dir_for`.
    """
    models_dir = models_dir_for(dataset).resolve()
    stamp = _manifest_stamp(models_dir)
    try:
        return _load_recommender(str(models_dir), stamp, dataset.source,
                                 _files_stamp(dataset.source), dataset)
    except (ModelsDirectoryError, OSError, RuntimeError, KeyError):
        if _manifest_stamp(models_dir) == stamp:
            raise
    # A training saved new models while these loaded; the new set is complete.
    logger.info("the models in %s changed while loading; loading them again", models_dir)
    return _load_recommender(str(models_dir), _manifest_stamp(models_dir), dataset.source,
                             _files_stamp(dataset.source), dataset)


def recommender_or_message(dataset: Dataset) -> Recommender | None:
    """Return :func:`load_recommender`, or show why it failed and return None."""
    models_dir = models_dir_for(dataset)
    try:
        return load_recommender(dataset)
    except ModelsDirectoryError as error:
        logger.warning("no usable models in %s: %s", models_dir, error)
        if not (models_dir / MANIFEST).is_file():
            st.info(f"No trained models for {dataset.name!r} in '{models_dir}' yet. "
                    "Train them on the home page.")
            return None
        st.error(str(error))
        if os.environ.get(MODELS_DIR_ENV):
            st.caption(f"The dashboard reads models from {MODELS_DIR_ENV} ('{models_dir}') "
                       f"for every dataset. Unset it to use models/{dataset.name}, or point "
                       "it at models trained on this data.")
        return None
    except (OSError, RuntimeError, KeyError) as error:
        # A damaged file: torch raises RuntimeError, a manifest missing fields KeyError.
        logger.warning("failed to load models from %s: %r", models_dir, error)
        st.error(f"Could not load the models in '{models_dir}' "
                 f"({type(error).__name__}: {error}). Retrain them on the home page.")
        return None


def train_with_progress(dataset: Dataset, epochs=None) -> Path:
    """Train every variant on ``dataset`` into :func:`models_dir_for`, with a progress bar.

    ``epochs`` caps every variant's epoch budget; None keeps each variant's own. When
    another session is already training models into the same folder, this follows its
    progress instead of starting a second training (see :class:`TrainingRuns`).
    Returns the written manifest.
    """
    from ..pipeline import train_models

    models_dir = models_dir_for(dataset)

    def train(report):
        path = train_models(dataset, models_dir, epochs=epochs, callback=report)
        logger.info("dashboard trained models for %s into %s", dataset.name, path.parent)
        return path

    return training_runs().train(models_dir, "user", train, progress_bar())


@st.cache_resource
def training_runs() -> TrainingRuns:
    """Return the trainings in progress in this server process, shared by every session."""
    return TrainingRuns()


def progress_bar():
    """Draw a progress bar and return ``show(message, fraction)``, which moves it."""
    bar = st.progress(0.0, text="Training; the bar moves on after each epoch…")

    def show(message, fraction):
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=message)

    return show


# Adaptation ------------------------------------------------------------------------------

def run_in_worker(function, *args):
    """Run ``function(*args)`` on the adaptation thread and return its result.

    The pages adapt through this one thread, so a measured time does not depend on which
    script thread asked. A full evaluation on the Model comparison page is the exception:
    it runs in its script thread, which updates the progress bar.
    """
    return _adaptation_worker().submit(function, *args).result()


def models_key(dataset: Dataset) -> tuple:
    """Return a cache key of the models of ``dataset``: folder, manifest time and data."""
    models_dir = models_dir_for(dataset).resolve()
    return (str(models_dir), _manifest_stamp(models_dir), dataset.source)


@st.cache_data(show_spinner="Adapting…", max_entries=64)
def _compare(models: tuple, ratings: tuple, variants: tuple, user: tuple, k: int,
             _recommender: Recommender) -> Comparison:
    return run_in_worker(compare_variants, _recommender, dict(ratings), variants, dict(user), k)


def compare_cached(dataset: Dataset, recommender: Recommender, ratings: dict, variants,
                   user: dict, k=10) -> Comparison:
    """Return :func:`metarec.ui.compare.compare_variants`, cached per input.

    A rerun that changes nothing the models see (typing in the search box, say) reuses
    the adaptations, and with them their measured times.

    Raises the errors of :func:`metarec.ui.compare.compare_variants`.
    """
    return _compare(models_key(dataset), tuple(sorted(ratings.items())), tuple(variants),
                    tuple(sorted(user.items())), k, recommender)
