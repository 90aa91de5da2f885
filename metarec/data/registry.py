"""Load a dataset from a name (``sample``, ``ml-100k``, ``ml-1m``) or a path.

A path may be a folder in the MovieLens-100K layout (``u.data``), a folder in the
MovieLens-1M layout (``ratings.dat``, ``movies.dat``, ``users.dat``), a folder with
``ratings.csv`` and optionally ``items.csv`` and ``users.csv``, or a ratings CSV file.
"""

from __future__ import annotations

import os
from pathlib import Path

from .custom import CSV_FILES, load_csv_dataset
from .dataset import Dataset
from .download import MOVIELENS_ARCHIVES, dataset_dir, has_files, manual_instructions
from .ml1m import ML1M_FILES, load_movielens_1m
from .movielens import DATA_DIR_ENV, load_movielens_100k

SAMPLE_NAME = "sample"
SAMPLE_DIR = Path(__file__).resolve().parent.parent.parent / "sample_data"
DATASET_NAMES = (SAMPLE_NAME, *MOVIELENS_ARCHIVES)
LAYOUTS = ("ml-100k", "ml-1m", "csv")


def default_data() -> str | Path:
    """Return ``METAREC_DATA_DIR`` when it is set, else the bundled sample's name."""
    value = os.environ.get(DATA_DIR_ENV)
    return Path(value).expanduser() if value else SAMPLE_NAME


def resolve_data(name_or_path=None) -> Path:
    """Return the file or folder that a dataset name or path stands for.

    An existing path wins over a name, so a folder called ``ml-100k`` in the working
    directory is read as that folder. ``ml-100k`` and ``ml-1m`` stand for their folder
    in :func:`metarec.data.download.dataset_dir`. None stands for :func:`default_data`.

    Raises
    ------
    FileNotFoundError
        If the path does not exist, or a MovieLens dataset is not downloaded yet.
    """
    if name_or_path is None or str(name_or_path).strip() == "":
        name_or_path = default_data()
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    text = str(name_or_path)
    if text == SAMPLE_NAME:
        return SAMPLE_DIR
    if text in MOVIELENS_ARCHIVES:
        archive = MOVIELENS_ARCHIVES[text]
        folder = dataset_dir(text)
        if not has_files(folder, archive):
            raise FileNotFoundError(
                f"{text} is not downloaded yet: '{folder}' lacks "
                f"{', '.join(f for f in archive.files if not (folder / f).is_file())}. Run "
                f"'python -m metarec download {text}'. "
                f"{manual_instructions(archive, folder)}"
            )
        return folder
    raise FileNotFoundError(
        f"{text!r} does not exist and is not a dataset name. Pass one of "
        f"{', '.join(DATASET_NAMES)}, a folder in the MovieLens-100K or MovieLens-1M "
        f"layout, a folder with {CSV_FILES[0]}, or a ratings CSV file, with --data or "
        f"{DATA_DIR_ENV}."
    )


# Files of the MovieLens layouts, which name a dataset only together with their folder.
MOVIELENS_FILES = {**{name: "MovieLens-100K" for name in
                      ("u.data", "u.item", "u.user", "u.genre", "u.occupation", "u.info")},
                   **{name: "MovieLens-1M" for name in ML1M_FILES}}
LAYOUT_FILES = ("u.data (MovieLens-100K, with u.item and u.user), ratings.dat "
                f"(MovieLens-1M, with movies.dat and users.dat) or {CSV_FILES[0]} (own data)")


class DataPathError(FileNotFoundError):
    """A path that is not a dataset, with what is wrong apart from how to fix it.

    ``str(error)`` ends with the command-line advice; the dashboard shows ``reason``
    with advice of its own.

    Attributes
    ----------
    path : pathlib.Path
    reason : str
        What is wrong, with no advice.
    folders : list of pathlib.Path
        Folders to use instead: the folder of a MovieLens file, or the sub-folders of a
        folder that contain a dataset. May be empty.
    """

    def __init__(self, path, reason: str, advice: str, folders=()):
        self.path = Path(path)
        self.reason = reason
        self.folders = list(folders)
        super().__init__(f"{reason} {advice}")


def _has_layout(folder: Path) -> bool:
    return any((folder / name).is_file() for name in ("u.data", *ML1M_FILES, CSV_FILES[0]))


def data_subfolders(path, limit=5) -> list[Path]:
    """Return up to ``limit`` sub-folders of ``path`` that contain a dataset, by name."""
    try:
        children = sorted(p for p in Path(path).iterdir() if p.is_dir())
    except OSError:
        return []
    return [child for child in children if _has_layout(child)][:limit]


def detect_layout(path) -> str:
    """Return ``"ml-100k"``, ``"ml-1m"`` or ``"csv"`` for an existing file or folder.

    Raises
    ------
    DataPathError
        If a folder contains none of the layouts' files, or the path is a file of a
        MovieLens layout (``u.data``, ``ratings.dat`` …) instead of its folder.
    """
    path = Path(path)
    if path.is_file():
        layout = MOVIELENS_FILES.get(path.name)
        if layout is None:
            return "csv"
        raise DataPathError(
            path, f"'{path}' is a file of the {layout} layout, not a dataset: the "
                  f"dataset is the folder that contains it.",
            f"Pass its folder '{path.parent}' with --data.", folders=[path.parent])
    if (path / "u.data").is_file():
        return "ml-100k"
    if any((path / name).is_file() for name in ML1M_FILES):
        return "ml-1m"
    if (path / CSV_FILES[0]).is_file():
        return "csv"
    folders = data_subfolders(path)
    found = ""
    if folders:
        found = (" These sub-folders of it do: "
                 + ", ".join(f"'{folder.name}'" for folder in folders) + ".")
    raise DataPathError(
        path, f"'{path}' contains no ratings file that metarec reads: {LAYOUT_FILES}."
              + found,
        f"Pass --data with one of those folders or set {DATA_DIR_ENV}.", folders=folders)


def load_dataset(name_or_path=None, *, items=None, users=None, **csv_options) -> Dataset:
    """Load a dataset by name or path, see the module docstring.

    Parameters
    ----------
    name_or_path : str or path-like, optional
        ``"sample"``, ``"ml-100k"``, ``"ml-1m"`` or a path; None stands for
        :func:`default_data`.
    items, users : str or path-like, optional
        Items and users CSVs for a ratings CSV file. A CSV folder uses its own
        ``items.csv`` and ``users.csv``.
    **csv_options
        ``rating_scale``, ``max_rejected_share`` and ``encoding`` of
        :func:`metarec.data.custom.read_csv_dataset`, for CSV data only.

    Raises
    ------
    FileNotFoundError
        If the name or path stands for nothing readable, or a file is missing.
    ValueError
        If CSV options or extra files are passed for MovieLens data.
    DataFormatError, CsvRejectedError
        If the files are malformed.
    """
    path = resolve_data(name_or_path)
    layout = detect_layout(path)
    extra = {key: value for key, value in {"items": items, "users": users,
                                           **csv_options}.items() if value is not None}
    if layout != "csv" and extra:
        raise ValueError(
            f"{', '.join(sorted(extra))} apply to CSV data only, but '{path}' is in the "
            f"{'MovieLens-100K' if layout == 'ml-100k' else 'MovieLens-1M'} layout"
        )
    if layout == "ml-100k":
        return load_movielens_100k(path)
    if layout == "ml-1m":
        return load_movielens_1m(path)
    if path.is_dir():
        if items or users:
            raise ValueError(
                f"'{path}' is a CSV folder, which uses its own {CSV_FILES[1]} and "
                f"{CSV_FILES[2]}; pass its {CSV_FILES[0]} to name other files"
            )
        ratings, items, users = (path / name for name in CSV_FILES)
        return load_csv_dataset(ratings, items if items.is_file() else None,
                                users if users.is_file() else None, name=path.name,
                                source=str(path), **csv_options)
    return load_csv_dataset(path, items, users, **csv_options)
