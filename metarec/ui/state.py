"""Cached loaders and the data choice shared by every dashboard page."""

from __future__ import annotations

import gc
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import streamlit as st
import torch

from ..cli import MODELS_DIR_ENV, SAMPLE_DIR, resolve_models_dir
from ..data import DATA_DIR_ENV, DataPathError, Dataset, registry
from ..serving.item_store import ITEM_MANIFEST
from ..serving.recommender import Recommender
from ..serving.store import MANIFEST, PICK_FOLDER_ADVICE, ModelsDirectoryError
from . import upload
from .compare import Comparison, compare_variants
from .training_runs import TrainingRuns, TrainingStopped

logger = logging.getLogger("metarec")

SAMPLE, FOLDER = "Bundled sample", "MovieLens-100K folder"
ML1M_FOLDER, DOWNLOAD, UPLOAD = "MovieLens-1M folder", "Download MovieLens", "Your own CSV"
DATA_SOURCE_KEY = "data.source"
DATA_FOLDER_KEY = "data.folder"
ML1M_FOLDER_KEY = "data.ml1m_folder"
ITEM_MODELS_DIR_ENV = "METAREC_ITEM_MODELS_DIR"
# When a models folder contains the models of other data, those of each further data set
# go to a subfolder of this folder, named after the data set and its fingerprint.
OTHER_DATA_SUBDIR = "by-data"
# Session-state keys where the New user and New item pages keep the ratings a person
# entered, as {data source: {id: rating}}, with the page that shows them.
ENTERED_RATINGS = {"new_user.ratings": "New user", "new_item.ratings": "New item"}


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

    The choice starts at ``METAREC_DATA_DIR`` when that is set, in the folder option of
    its layout (:func:`env_data_source`), else at the bundled sample, and is kept in
    ``st.session_state`` for every page. Returns None while a folder path is empty, a
    dataset is not downloaded or nothing is uploaded.
    """
    from_env = os.environ.get(DATA_DIR_ENV, "")
    env_source = env_data_source(from_env) if from_env else None
    sidebar = st.sidebar
    sidebar.header("Data")

    source_key, save_source = remembered(DATA_SOURCE_KEY, env_source or SAMPLE)
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
        key, layout, label = DATA_FOLDER_KEY, "ml-100k", "MovieLens-100K"
    else:
        key, layout, label = ML1M_FOLDER_KEY, "ml-1m", "MovieLens-1M"
    folder_key, save_folder = remembered(key, from_env if source == env_source else "")
    folder = sidebar.text_input("Folder path", key=folder_key, on_change=save_folder,
                                placeholder=f"/path/to/{layout}")
    if not folder.strip():
        sidebar.info(f"Type the path of a folder in the {label} layout.")
        return None
    path = Path(folder.strip()).expanduser()
    csv_reports(path)
    return path


def env_data_source(from_env: str) -> str:
    """Return the data source option whose path box shows ``METAREC_DATA_DIR``.

    That is the MovieLens-1M folder option for a folder in that layout, as
    :func:`metarec.data.registry.detect_layout` finds it, else the MovieLens-100K folder
    option, whose path box also reads CSV data. For a path that does not exist or
    contains no data, :func:`selected_dataset` then shows why it cannot be read.
    """
    path = Path(from_env).expanduser()
    try:
        layout = registry.detect_layout(path) if path.exists() else None
    except (DataPathError, OSError):
        layout = None
    return ML1M_FOLDER if layout == "ml-1m" else FOLDER


def csv_reports(path: Path):
    """Show the rating scale and rejected rows of CSV data at a typed path, like uploads."""
    try:
        layout = registry.detect_layout(path) if path.exists() else None
    except (DataPathError, OSError):
        # selected_dataset shows why the path cannot be read.
        return
    if layout == "csv":
        stamp = _files_stamp(path)
        upload.inferred_scale_report(path, stamp)
        upload.rejected_rows_report(path, stamp)


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
        # The sidebar shows what is missing: a folder path, a download or an upload.
        st.info("No ratings data is chosen yet: complete the choice in the sidebar, as "
                "its note says.")
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
    kept = kept_ratings_text(dataset)
    if kept:
        st.sidebar.info(kept)
    return dataset


def kept_ratings_text(dataset: Dataset) -> str | None:
    """Return where the ratings entered for other data are, or None.

    The pages keep a person's ratings per data source, so choosing other data shows none
    of them. The sentence names those kept for other data on each page where ``dataset``
    has no ratings yet, and states that they come back with their data.
    """
    kept = []
    for key, page in ENTERED_RATINGS.items():
        by_source = st.session_state.get(key) or {}
        if by_source.get(dataset.source):
            continue
        for source, ratings in by_source.items():
            if source != dataset.source and ratings:
                count = "1 rating" if len(ratings) == 1 else f"{len(ratings)} ratings"
                kept.append(f"{count} on {page} for '{data_label(source)}'")
    if not kept:
        return None
    return ("Ratings you entered for other data are kept: " + ", ".join(kept) + ". They "
            "come back when you choose that data again.")


def data_label(source) -> str:
    """Return the name of the data set read from ``source``, as the loaders name it.

    That is the folder's name (for an upload, its ratings file's name without ``.csv``),
    or the file name without its extension for a ratings CSV file.
    """
    path = Path(source)
    return path.name if path.is_dir() else path.stem


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
    """Return the folder of the models of ``dataset``.

    That is ``METAREC_MODELS_DIR`` if set, else ``models/<dataset name>``, unless that
    folder contains models trained on other data. Then it is a subfolder of it
    (:func:`data_models_dir`), so that training for this data never replaces them.
    """
    return data_models_dir(resolve_models_dir(None, dataset.name), MANIFEST, dataset)


def data_models_dir(configured: Path, manifest_name: str, dataset: Dataset) -> Path:
    """Return ``configured``, or a subfolder of it when it contains other data's models.

    ``manifest_name`` is the manifest of the kind of models looked for (``MANIFEST`` or
    ``ITEM_MANIFEST``). The subfolder is ``by-data/<name>-<fingerprint start>``, so two
    data sets of one name, such as an upload and its edited version, get one each.
    """
    trained_on = trained_on_data(configured, manifest_name)
    fingerprint = dataset_fingerprint(dataset)
    if trained_on is None or trained_on["fingerprint"] == fingerprint:
        return configured
    return configured / OTHER_DATA_SUBDIR / f"{dataset.name}-{fingerprint[:12]}"


def trained_on_data(folder: Path, manifest_name: str) -> dict | None:
    """Return the ``dataset`` entry of a models folder's manifest.

    Returns None when the manifest is missing or unreadable, so that loading reports why.
    """
    path = Path(folder) / manifest_name
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return None
    return _read_trained_on(str(path), stamp)


@st.cache_data(max_entries=32, show_spinner=False)
def _read_trained_on(path: str, stamp) -> dict | None:
    try:
        manifest = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    trained_on = manifest.get("dataset") if isinstance(manifest, dict) else None
    if not isinstance(trained_on, dict):
        return None
    if not isinstance(trained_on.get("fingerprint"), str):
        return None
    return trained_on


@st.cache_data(max_entries=8, show_spinner=False)
def _fingerprint(dataset_id: int, source: str, stamp: tuple, _dataset: Dataset) -> str:
    return _dataset.fingerprint()


def dataset_fingerprint(dataset: Dataset) -> str:
    """Return :meth:`Dataset.fingerprint`, computed once per loaded version of the data.

    The shared datasets of :func:`load_dataset` live on, so their ``id`` stays theirs,
    and the source and file stamps tell apart a new object that reuses a freed ``id``.
    """
    return _fingerprint(id(dataset), dataset.source, _files_stamp(dataset.source), dataset)


def trained_scenario(folder: Path, manifest_name: str) -> str:
    """Return the scenario that the models in ``folder`` were trained for."""
    from ..evaluation.evaluate import saved_scenario

    try:
        return saved_scenario(json.loads((folder / manifest_name).read_text())).scenario
    except (OSError, ValueError, KeyError, TypeError):
        return "new-item" if manifest_name == ITEM_MANIFEST else "new-user"


def item_models_instead(folder: Path) -> str | None:
    """Return why ``folder`` has no user models but item models, or None.

    The user models' pages cannot use item models, and training user models beside them
    would make ``python -m metarec evaluate`` read the item models of that folder.
    """
    folder = Path(folder)
    if (folder / MANIFEST).is_file() or not (folder / ITEM_MANIFEST).is_file():
        return None
    source = (f", set by {MODELS_DIR_ENV}," if os.environ.get(MODELS_DIR_ENV) else "")
    scenario = trained_scenario(folder, ITEM_MANIFEST)
    return (f"The models in '{folder}'{source} were trained for scenario {scenario!r}: "
            "they are item models for the New item page, not the user models this page "
            f"needs. Set {MODELS_DIR_ENV} to a folder of user models, or to an empty "
            f"folder to train them there, and {ITEM_MODELS_DIR_ENV} to '{folder}'. Then "
            "restart the dashboard.")


def missing_models_message(dataset: Dataset, next_step: str) -> str:
    """Return that there are no models for ``dataset`` yet, where they go and why.

    ``next_step`` is a sentence on how to train them, put before the advice on
    ``METAREC_MODELS_DIR``.
    """
    models_dir = models_dir_for(dataset)
    configured = resolve_models_dir(None, dataset.name)
    text = f"No trained models for {dataset.name!r} in '{models_dir}' yet."
    text += other_data_sentence(configured, models_dir, MANIFEST, "models")
    return f"{text} {next_step} {folder_variable_advice(MODELS_DIR_ENV, 'models')}"


def folder_variable_advice(env: str, models_kind: str) -> str:
    """Return how to point the dashboard at ``models_kind`` trained elsewhere."""
    if os.environ.get(env):
        configured = Path(os.environ[env]).expanduser()
        return (f"The dashboard reads {models_kind} from {env} ('{configured}'). To use "
                f"{models_kind} trained elsewhere, set it to their folder and restart the "
                "dashboard.")
    return (f"To use {models_kind} trained elsewhere, set {env} to their folder and restart "
            "the dashboard.")


def other_data_sentence(configured: Path, models_dir: Path, manifest_name: str,
                        models_kind: str) -> str:
    """Return why ``models_dir`` is a subfolder of ``configured``, or "" when it is not."""
    trained_on = trained_on_data(configured, manifest_name)
    if Path(models_dir) == Path(configured) or trained_on is None:
        return ""
    ratings = trained_on.get("ratings")
    count = f"{ratings:,} ratings, " if isinstance(ratings, int) else ""
    return (f" '{configured}' contains {models_kind} trained on "
            f"{trained_on.get('name', 'unnamed data')!r} ({count}fingerprint "
            f"{trained_on['fingerprint'][:12]}), other data, so the {models_kind} of this "
            "data go to a subfolder of their own.")


def dashboard_advice(error: ModelsDirectoryError, models_kind: str, env: str) -> str:
    """Return a loading error with advice that fits the dashboard.

    The command line's advice for models of other data is to pick another models folder,
    which the dashboard can only do through ``env``.
    """
    if error.advice != PICK_FOLDER_ADVICE.format(kind=models_kind):
        return str(error)
    return (f"{error.reason} Train {models_kind} for this data, or set {env} to the folder "
            f"of {models_kind} trained on it and restart the dashboard.")


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
        instead = item_models_instead(models_dir)
        if instead is not None:
            st.error(instead)
            return None
        if not (models_dir / MANIFEST).is_file():
            st.info(missing_models_message(dataset, "Train them on the home page."))
            return None
        st.error(dashboard_advice(error, "models", MODELS_DIR_ENV))
        return None
    except (OSError, RuntimeError, KeyError) as error:
        # A damaged file: torch raises RuntimeError, a manifest missing fields KeyError.
        logger.warning("failed to load models from %s: %r", models_dir, error)
        st.error(f"Could not load the models in '{models_dir}' "
                 f"({type(error).__name__}: {error}). Retrain them on the home page.")
        return None


def seed_input(key: str | None = None, default: int = 0) -> int:
    """Draw the training seed field and return its value, ``default`` until changed."""
    seed = st.number_input(
        "Seed", min_value=0, max_value=2**31 - 1, value=int(default), step=1, key=key,
        help="Seeds the random split of the data into training, validation and test, "
             "and the starting weights. Train with several seeds to see how much results vary; "
             "the command line's 'train --seed' takes the same number.")
    return int(seed)


def train_with_progress(dataset: Dataset, epochs=None, seed=0) -> Path:
    """Train every variant on ``dataset`` into :func:`models_dir_for`, with a progress bar.

    ``epochs`` caps every variant's epoch budget; None keeps each variant's own. When
    another session is already training models into the same folder, this follows its
    progress instead of starting a second training (see :class:`TrainingRuns`).
    Returns the written manifest.
    """
    from ..pipeline import train_models

    models_dir = models_dir_for(dataset)
    instead = item_models_instead(models_dir)
    if instead is not None:
        raise ValueError(instead)

    def train(report):
        path = train_models(dataset, models_dir, seed=seed, epochs=epochs,
                            callback=report)
        logger.info("dashboard trained models for %s into %s", dataset.name, path.parent)
        return path

    return training_runs().train(models_dir, "user", train, progress_bar())


def run_training(train):
    """Call ``train()`` for a pressed training button, then rerun the page on success.

    A failure is shown on the page. A training that leaving the page stopped is
    reported by :func:`stopped_training_warning` on the page's next run.
    """
    try:
        train()
    except TrainingStopped as error:
        st.warning(str(error))
    except (ValueError, RuntimeError, OSError) as error:
        st.error(f"Training failed: {error}")
    else:
        st.rerun()


def forget_stopped_training(folder, kind: str):
    """Drop the stopped training's record, as a training button's ``on_click``.

    The callback runs before the page runs for the press, so the new run shows no
    warning about the previous training while the new one trains.
    """
    training_runs().forget_stopped(folder, kind)


def stopped_training_warning(folder, kind: str):
    """Warn that the last training into ``folder`` stopped before it finished.

    Streamlit stops a page's script when the person leaves the page, changes a widget on
    it or presses Stop, and the training that the script runs stops with it and saves
    nothing. The server remembers that (see :meth:`TrainingRuns.stopped`), so the
    warning reaches every session, also one that a slow reconnect started afresh.
    ``kind`` is ``"user"`` or ``"item"``. There is no warning once models newer than
    that training are in ``folder``. While a training into it runs, an info note reports
    that instead, because a training whose page was left runs on until its next
    progress report.
    """
    run = training_runs().running(folder, kind)
    if run is not None:
        clock = time.strftime("%H:%M:%S", time.localtime(run.started))
        st.info(f"A training into '{folder}' started at {clock} is running, in this "
                f"session or another ({run.message}). If its page was left, it stops at "
                "its next progress step. Reload this page to see how it ended.")
        return
    started = training_runs().stopped(folder, kind)
    if started is None:
        return
    manifest = Path(folder) / (ITEM_MANIFEST if kind == "item" else MANIFEST)
    if manifest.is_file() and manifest.stat().st_mtime >= started:
        return
    clock = time.strftime("%H:%M:%S", time.localtime(started))
    st.warning(f"The last training into '{folder}', started at {clock}, stopped before "
               "it finished, because its page was left, a field on it changed or Stop "
               "was pressed while it ran. It saved no models. To train, press the button "
               "again and stay on the page until the bar is full.")


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
