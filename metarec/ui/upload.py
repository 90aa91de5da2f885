"""Sidebar controls for data people bring: a MovieLens download and their own CSV files.

Each control returns the folder to load, or None while there is nothing to load yet.
Uploaded files are written to a folder named by their content hash under the user
cache directory, so the same upload is read and cached once. Pages opened later keep
using that folder after the upload widget has been cleared.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pandas as pd
import streamlit as st

from ..data.csv_rows import CsvRejectedError
from ..data.custom import CSV_FILES, read_csv_dataset
from ..data.download import (
    MOVIELENS_ARCHIVES,
    DownloadError,
    dataset_dir,
    download_dataset,
    has_files,
    user_cache_dir,
)
from ..data.movielens import DataFormatError

logger = logging.getLogger("metarec")

DOWNLOAD_NAME_KEY = "data.download"
UPLOAD_KEY = "data.upload"
UPLOADED_FOLDER_KEY = "data.upload.folder"
DOWNLOAD_LABELS = {"ml-100k": "MovieLens-100K (100,000 ratings, 4.9 MB)",
                   "ml-1m": "MovieLens-1M (1,000,209 ratings, about 6 MB)"}


# Download --------------------------------------------------------------------------------

def download_controls(remembered) -> Path | None:
    """Draw the MovieLens choice and, until it is stored, a download button.

    ``remembered`` is :func:`metarec.ui.state.remembered`, passed in to avoid an import
    cycle. Returns the dataset's folder once it contains the files.
    """
    sidebar = st.sidebar
    key, save = remembered(DOWNLOAD_NAME_KEY, "ml-100k")
    name = sidebar.selectbox("MovieLens dataset", list(MOVIELENS_ARCHIVES), key=key,
                             on_change=save, format_func=DOWNLOAD_LABELS.get)
    archive = MOVIELENS_ARCHIVES[name]
    folder = dataset_dir(name)
    if has_files(folder, archive):
        sidebar.caption(f"Stored in '{folder}'.")
        return folder

    sidebar.caption(f"Not downloaded yet. The button fetches {archive.url} from GroupLens, "
                    f"checks its MD5 and stores it in '{folder}'. MovieLens may be used "
                    "for research but not redistributed; see its README.")
    if not sidebar.button(f"Download {name}", type="primary"):
        return None

    bar = sidebar.progress(0.0, text=f"Downloading {name}…")

    def progress(done, total):
        if total:
            bar.progress(min(done / total, 1.0),
                         text=f"{done / 1e6:.1f} of {total / 1e6:.1f} MB")
        else:
            bar.progress(0.0, text=f"{done / 1e6:.1f} MB")

    try:
        folder = download_dataset(name, progress=progress)
    except (DownloadError, FileExistsError) as error:
        logger.warning("download of %s failed: %s", name, error)
        bar.empty()
        sidebar.error(str(error))
        return None
    bar.empty()
    return folder


# Upload ----------------------------------------------------------------------------------

def csv_upload_controls() -> Path | None:
    """Draw uploads for a ratings CSV and optional items and users CSVs.

    Returns the folder the files were saved to: the latest upload, or the one saved
    earlier in this session while the widgets are empty (after a page switch).
    """
    sidebar = st.sidebar
    ratings = sidebar.file_uploader(
        "Ratings CSV", type="csv", key=f"{UPLOAD_KEY}.ratings",
        help="Columns user_id, item_id, rating and optionally timestamp. Ids may be any "
             "text; the rating scale is read from the data.")
    items = sidebar.file_uploader(
        "Items CSV (optional)", type="csv", key=f"{UPLOAD_KEY}.items",
        help="Columns item_id and optionally title, genres (separated by |) and year.")
    users = sidebar.file_uploader(
        "Users CSV (optional)", type="csv", key=f"{UPLOAD_KEY}.users",
        help="Columns user_id and optionally age, gender, occupation and zip_code.")

    if ratings is not None:
        folder = save_upload(ratings.name, ratings.getvalue(),
                             items.getvalue() if items is not None else None,
                             users.getvalue() if users is not None else None)
        st.session_state[UPLOADED_FOLDER_KEY] = str(folder)
    elif UPLOADED_FOLDER_KEY in st.session_state:
        folder = Path(st.session_state[UPLOADED_FOLDER_KEY])
        sidebar.caption(f"Using the ratings uploaded earlier ('{folder.name}'). Upload "
                        "another file to replace them.")
    else:
        sidebar.info("Upload a ratings CSV to use your own data.")
        return None

    rejected_rows_report(folder)
    return folder


def save_upload(file_name, ratings: bytes, items: bytes | None = None,
                users: bytes | None = None) -> Path:
    """Write uploaded files as a CSV folder and return it.

    The folder is ``uploads/<hash>/<ratings file name without .csv>`` in the user cache
    directory, so the dataset is named after the uploaded file.
    """
    digest = hashlib.sha256()
    for content in (ratings, items, users):
        digest.update(b"\0" if content is None else hashlib.sha256(content).digest())
    stem = Path(file_name).stem.strip() or "ratings"
    folder = user_cache_dir() / "uploads" / digest.hexdigest()[:16] / stem
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in zip(CSV_FILES, (ratings, items, users)):
        path = folder / name
        if content is not None and not path.is_file():
            path.write_bytes(content)
    return folder


@st.cache_data(max_entries=8, show_spinner=False)
def _rejected_rows(folder: str) -> list:
    """Return the rejected rows of a saved upload. Load errors are shown elsewhere."""
    ratings, items, users = (Path(folder) / name for name in CSV_FILES)
    try:
        result = read_csv_dataset(ratings, items if items.is_file() else None,
                                  users if users.is_file() else None)
    except (CsvRejectedError, DataFormatError, ValueError, OSError):
        return []
    return [(row.file, row.line, row.reason) for row in result.rejected]


def rejected_rows_report(folder: Path):
    """Show how many rows of an upload were rejected, and each one's line and reason."""
    rejected = _rejected_rows(str(folder))
    if not rejected:
        return
    sidebar = st.sidebar
    rows = "row" if len(rejected) == 1 else "rows"
    sidebar.warning(f"Left out {len(rejected)} invalid {rows} of the upload.")
    with sidebar.expander("Rejected rows"):
        st.dataframe(pd.DataFrame(rejected, columns=["file", "line", "reason"]),
                     hide_index=True)
