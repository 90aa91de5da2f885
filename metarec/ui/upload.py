"""Sidebar controls for data people bring: a MovieLens download and their own CSV files.

Each control returns the folder to load, or None while there is nothing to load yet.
Uploaded files are written to a folder named by their content hash under the user
cache directory, so the same upload is read and cached once. Pages opened later keep
using that folder after the upload widget has been cleared.

A rating scale set in the upload controls goes into a copy of that folder, as
``read_options.json``, because the folder path is all that the data loader receives.
:func:`csv_options` returns the keyword arguments of
:func:`metarec.data.load_dataset` that such a folder needs.

The folder stores the files under the names the loader reads (``ratings.csv`` …), and
``upload_names.json`` maps them to the names the files were uploaded with, so that
messages name each file as the person uploaded it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import streamlit as st

from ..data.csv_rows import CsvRejectedError
from ..data.custom import (
    COMMON_SCALES,
    CSV_FILES,
    DEFAULT_MAX_REJECTED_SHARE,
    RatingScaleError,
    infer_rating_scale,
    read_csv_dataset,
    stretched_scale,
)
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
SCALE_KEY = "data.upload.scale"
OPTIONS_FILE = "read_options.json"
NAMES_FILE = "upload_names.json"
# Rejected rows listed in the sidebar; the rest are counted.
REJECTED_SHOWN = 50
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
    except (DownloadError, FileExistsError, NotADirectoryError) as error:
        logger.warning("download of %s failed: %s", name, error)
        bar.empty()
        sidebar.error(str(error))
        return None
    bar.empty()
    return folder


# Upload ----------------------------------------------------------------------------------

def csv_upload_controls() -> Path | None:
    """Draw uploads for a ratings CSV and optional items and users CSVs.

    Returns the folder the files were saved to, or None before any ratings upload. An
    empty upload box (after a page switch, which empties every box) keeps the file
    uploaded earlier in this session, so replacing only the ratings keeps the items and
    users files. With a valid rating scale set, the folder is a copy that records it.
    """
    sidebar = st.sidebar
    ratings = sidebar.file_uploader(
        "Ratings CSV", type="csv", key=f"{UPLOAD_KEY}.ratings",
        help="Columns user_id, item_id, rating and optionally timestamp. Ids may be any "
             "text. The rating scale is read from the data unless you set it below.")
    # Filled once the files are read, so that the note sits under the ratings upload.
    files_note = sidebar.container()
    items = sidebar.file_uploader(
        "Items CSV (optional)", type="csv", key=f"{UPLOAD_KEY}.items",
        on_change=_forget_removed_file, args=(CSV_FILES[1],),
        help="Columns item_id and optionally title, genres (separated by |, ; or ,) and "
             "year.")
    users = sidebar.file_uploader(
        "Users CSV (optional)", type="csv", key=f"{UPLOAD_KEY}.users",
        on_change=_forget_removed_file, args=(CSV_FILES[2],),
        help="Columns user_id and optionally age, gender, occupation and zip_code.")
    scale = rating_scale_controls()

    uploads = dict(zip(CSV_FILES, (ratings, items, users)))
    earlier = Path(st.session_state.get(UPLOADED_FOLDER_KEY) or "")
    if not (earlier / CSV_FILES[0]).is_file():
        # Nothing was uploaded yet, or the cache folder was deleted since.
        earlier = None
    if ratings is None and earlier is None:
        waiting = [upload.name for upload in (items, users) if upload is not None]
        sidebar.info("Upload a ratings CSV to use your own data."
                     + (f" {' and '.join(map(repr, waiting))} will be used with it."
                        if waiting else ""))
        return None
    if any(upload is not None for upload in uploads.values()):
        folder = merge_upload(uploads, earlier)
        st.session_state[UPLOADED_FOLDER_KEY] = str(folder)
    else:
        folder = earlier
    kept = [stored for stored in CSV_FILES
            if uploads[stored] is None and (folder / stored).is_file()]

    loaded = folder
    if scale is not None:
        problem = rating_scale_problem(folder, scale)
        if problem is None:
            loaded = with_rating_scale(folder, scale)
        else:
            sidebar.error(problem)
    else:
        inferred_scale_report(folder)

    # The note names the files in use only when they load, else the file at fault.
    names = uploaded_names(folder) or {}
    invalid = _read_upload(str(loaded))[3]
    if invalid is None:
        files_note.caption(used_files_text(names, kept))
    else:
        files_note.caption(unused_files_text(names, invalid, kept))
    for stored in kept:
        if stored != CSV_FILES[0]:
            _drop_button(files_note, folder, stored)
    rejected_rows_report(loaded)
    return loaded


def merge_upload(uploads: dict, earlier: Path | None) -> Path:
    """Save the files in the upload boxes, with earlier files for the empty boxes.

    ``uploads`` maps each stored name (``ratings.csv`` …) to its uploaded file or None.
    ``earlier`` is the folder saved before in this session, or None.
    """
    names = (uploaded_names(earlier) or {}) if earlier is not None else {}
    contents, file_names = [], []
    for stored, upload in uploads.items():
        if upload is not None:
            contents.append(upload.getvalue())
            file_names.append(upload.name)
        elif earlier is not None and (earlier / stored).is_file():
            contents.append((earlier / stored).read_bytes())
            file_names.append(names.get(stored, stored))
        else:
            contents.append(None)
            file_names.append(None)
    return save_upload(file_names[0], *contents, items_name=file_names[1],
                       users_name=file_names[2])


def without_file(folder: Path, stored: str) -> Path:
    """Return the upload ``folder`` saved again without its file ``stored``."""
    names = uploaded_names(folder) or {}
    contents = [(folder / name).read_bytes() if name != stored and (folder / name).is_file()
                else None for name in CSV_FILES]
    return save_upload(names.get(CSV_FILES[0], CSV_FILES[0]), *contents,
                       items_name=names.get(CSV_FILES[1]),
                       users_name=names.get(CSV_FILES[2]))


def _forget_removed_file(stored: str):
    """Stop using an items or users file once its × removed it from the upload box.

    A page switch empties the boxes without this callback, so an empty box alone keeps
    the earlier file.
    """
    role = stored.removesuffix(".csv")
    earlier = st.session_state.get(UPLOADED_FOLDER_KEY)
    if st.session_state.get(f"{UPLOAD_KEY}.{role}") is None and earlier:
        st.session_state[UPLOADED_FOLDER_KEY] = str(without_file(Path(earlier), stored))


def _drop_button(container, folder: Path, stored: str):
    """Draw a button that stops using the earlier file ``stored`` of the upload."""
    name = (uploaded_names(folder) or {}).get(stored, stored)
    role = stored.removesuffix(".csv")

    def drop():
        st.session_state[UPLOADED_FOLDER_KEY] = str(without_file(folder, stored))

    container.button(f"Stop using '{name}'", key=f"{UPLOAD_KEY}.drop.{role}", on_click=drop,
                     help=f"Use the data without the {role} file uploaded earlier.")


def used_files_text(names: dict, kept=()) -> str:
    """Return which uploaded files the data comes from.

    ``names`` maps each stored file name to its uploaded name, and ``kept`` lists the
    stored names whose upload box is empty, so that the file comes from an earlier
    upload. An uploader keeps a file of a type it does not allow on screen, and lists the
    next file under it, so the sentence names every file in use.
    """
    roles = dict(zip(CSV_FILES, ("ratings", "items", "users")))
    described = {stored: f"'{names.get(stored, stored)}' as the {role}"
                 for stored, role in roles.items() if stored in names}
    if CSV_FILES[0] in kept and set(kept) == set(names):
        # Every box is empty, as after a page switch.
        others = [described[stored] for stored in kept if stored != CSV_FILES[0]]
        if not others:
            return (f"Using the ratings uploaded earlier ('{names[CSV_FILES[0]]}'). Upload "
                    "another file to replace them.")
        return (f"Using the ratings uploaded earlier ('{names[CSV_FILES[0]]}'), with "
                f"{' and '.join(others)}. Upload another file to replace one of them.")
    new = [text for stored, text in described.items() if stored not in kept]
    text = "Using " + ", ".join(new) + "."
    if kept:
        text += (" Kept from the earlier upload: "
                 + ", ".join(described[stored] for stored in kept) + ".")
    return (text + " A file marked as not allowed is never used, and the × beside its "
            "name removes it.")


def unused_files_text(names: dict, invalid: str, kept=()) -> str:
    """Return that the upload cannot be loaded, naming its invalid file and the others.

    ``names`` and ``kept`` are as for :func:`used_files_text`, and ``invalid`` is the
    stored name of the file at fault. The main area shows the load error, so this
    sentence only names the file and how to replace it, and lists the other files,
    which stay in the upload for use with the fixed file.
    """
    roles = dict(zip(CSV_FILES, ("ratings", "items", "users")))
    name = names.get(invalid, invalid)
    if invalid in kept:
        text = (f"Could not use the {roles[invalid]} uploaded earlier ('{name}'). The "
                "error on the page explains why. Upload a fixed file to replace it")
        # Only the items and users files get a button, drawn under this note, that
        # stops using them.
        drop = (", or leave it out with the button below." if invalid != CSV_FILES[0]
                else ".")
    else:
        text = (f"Could not use '{name}' as the {roles[invalid]}. The error on the page "
                "explains why. Upload a fixed file in its place")
        # An empty ratings box keeps using the saved ratings, so the × leaves out only
        # an items or users file.
        drop = (", or remove it with the × beside its name." if invalid != CSV_FILES[0]
                else ".")
    text += drop
    others = [f"'{names[stored]}' as the {role}" for stored, role in roles.items()
              if stored in names and stored != invalid]
    if others:
        text += " Kept for use with the fixed file: " + ", ".join(others) + "."
    return text


def inferred_scale_message(ratings, uploaded=True) -> tuple[str, bool]:
    """Return the rating scale read from ``ratings`` as a sentence, and whether to warn.

    The warning names the ratings that stretch a common scale, such as one 11 among
    ratings of 1 to 5, because every rating is then read on the longer scale. Its advice
    is to upload the fixed file again, or with ``uploaded=False`` to fix the file, which
    the dashboard reads again once it changed.
    """
    low, high = infer_rating_scale(ratings)
    stretched = stretched_scale(ratings, (low, high))
    if stretched is None:
        return f"Rating scale, read from the data: {low:g} to {high:g}.", False
    (common_low, common_high), outliers = stretched
    values = np.unique(outliers)
    examples = ", ".join(f"{value:g}" for value in values[:5])
    more = f" and {values.size - 5} more values" if values.size > 5 else ""
    return (f"Rating scale, read from the data: {low:g} to {high:g}, because "
            f"{outliers.size:,} of {np.size(ratings):,} ratings lie outside {common_low:g} to "
            f"{common_high:g}: {examples}{more}. If those are mistakes, fix or remove them"
            + (" and upload the file again." if uploaded else " in the file.")), True


def inferred_scale_report(folder: Path, stamp: tuple = ()):
    """Show the rating scale read from CSV data, with a warning when outliers stretch it.

    ``folder`` and ``stamp`` are as for :func:`_read_upload`.
    """
    ratings = _read_upload(str(folder), stamp)[0]
    if ratings is None or ratings.size == 0:
        return
    message, warn = inferred_scale_message(ratings,
                                           uploaded=uploaded_names(folder) is not None)
    if warn:
        st.sidebar.warning(message, icon=":material/warning:")
    else:
        st.sidebar.caption(message)


def rating_scale_controls() -> tuple[float, float] | None:
    """Draw an optional rating scale and return ``(lowest, highest)``, or None to infer it."""
    sidebar = st.sidebar
    common = ", ".join(f"{low:g} to {high:g}" for low, high, _ in COMMON_SCALES)
    if not sidebar.checkbox(
            "Set the rating scale", key=f"{SCALE_KEY}.set", persist_state="session",
            help=f"Without it the scale is the first of {common} that contains every "
                 "rating, else the lowest to the highest rating. Set it when the data "
                 "does not reach the ends of its scale."):
        return None
    low_column, high_column = sidebar.columns(2)
    low = low_column.number_input("Lowest rating", value=1.0, step=0.5,
                                  key=f"{SCALE_KEY}.low", persist_state="session")
    high = high_column.number_input("Highest rating", value=5.0, step=0.5,
                                    key=f"{SCALE_KEY}.high", persist_state="session")
    return (float(low), float(high))


def rating_scale_problem(folder: Path, scale) -> str | None:
    """Return why ``scale`` does not fit the upload in ``folder``, or None when it fits.

    It fits when at most a tenth of the ratings lie outside it; those are left out.
    """
    low, high = scale
    keep = ("Until then the scale is read from the data, or clear 'Set the rating scale' "
            "to keep it that way.")
    if not low < high:
        return (f"The lowest rating ({low:g}) must be below the highest rating "
                f"({high:g}). Lower the lowest or raise the highest rating. {keep}")
    ratings = _read_upload(str(folder))[0]
    if ratings is None:
        # The upload itself is unreadable, and the page shows why.
        return None
    outside = ratings[(ratings < low) | (ratings > high)]
    if outside.size <= DEFAULT_MAX_REJECTED_SHARE * ratings.size:
        # A few stray ratings, such as one 11 on a 1-to-10 scale, are left out as
        # invalid rows when the data is read, as the command line's --rating-scale does.
        return None
    examples = ", ".join(f"{value:g}" for value in np.unique(outside)[:5])
    return (f"{outside.size:,} of {ratings.size:,} ratings are outside the scale {low:g} "
            f"to {high:g}: {examples}. The ratings range from {ratings.min():g} to "
            f"{ratings.max():g}, so set a scale that contains that range. {keep}")


def with_rating_scale(folder: Path, scale) -> Path:
    """Return a copy of the upload ``folder`` whose ``read_options.json`` sets ``scale``.

    The copy is a sibling of the upload's hash folder, named by the scale, so each
    scale of one upload gets a folder of its own and sessions never share a changing one.
    """
    low, high = scale
    target = (folder.parent.parent / f"{folder.parent.name}-scale-{low:g}-{high:g}"
              / folder.name)
    target.mkdir(parents=True, exist_ok=True)
    for name in (*CSV_FILES, NAMES_FILE):
        if (folder / name).is_file() and not (target / name).is_file():
            shutil.copyfile(folder / name, target / name)
    options = target / OPTIONS_FILE
    if not options.is_file():
        options.write_text(json.dumps({"rating_scale": [low, high]}))
    return target


def csv_options(folder) -> dict:
    """Return the :func:`metarec.data.load_dataset` options recorded in an upload folder.

    That is ``{"rating_scale": (lowest, highest)}`` for a folder from
    :func:`with_rating_scale`, else an empty dict. :func:`metarec.ui.state.load_dataset`
    passes them to the loader, so every page uses the scale the person set.
    """
    path = Path(folder) / OPTIONS_FILE
    if not path.is_file():
        return {}
    low, high = json.loads(path.read_text())["rating_scale"]
    return {"rating_scale": (float(low), float(high))}


def save_upload(file_name, ratings: bytes, items: bytes | None = None,
                users: bytes | None = None, *, items_name=None, users_name=None) -> Path:
    """Write uploaded files as a CSV folder and return it.

    The folder is ``uploads/<hash>/<ratings file name without .csv>`` in the user cache
    directory, so the dataset is named after the uploaded file. The hash covers the
    contents and the uploaded names, which the folder records in ``upload_names.json``.
    """
    uploaded = {}
    for stored, name, content in zip(CSV_FILES, (file_name, items_name, users_name),
                                     (ratings, items, users)):
        if content is not None:
            uploaded[stored] = str(name or stored)
    digest = hashlib.sha256(json.dumps(uploaded, sort_keys=True).encode())
    for content in (ratings, items, users):
        digest.update(b"\0" if content is None else hashlib.sha256(content).digest())
    stem = Path(file_name).stem.strip() or "ratings"
    folder = user_cache_dir() / "uploads" / digest.hexdigest()[:16] / stem
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in zip(CSV_FILES, (ratings, items, users)):
        path = folder / name
        if content is not None and not path.is_file():
            path.write_bytes(content)
    names = folder / NAMES_FILE
    if not names.is_file():
        names.write_text(json.dumps(uploaded))
    return folder


def uploaded_names(folder) -> dict | None:
    """Return ``{stored file name: uploaded file name}`` of an upload folder.

    Returns None for a folder that :func:`save_upload` did not write.
    """
    path = Path(folder) / NAMES_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def load_error_message(folder, error: Exception) -> str | None:
    """Return why the upload in ``folder`` failed to load, naming the uploaded files.

    The loader's messages name the files inside the cache folder and point to
    ``max_rejected_share``, which the dashboard does not offer. This message names the
    files as uploaded, and its fix is to correct them and upload them again. Returns
    None when ``folder`` is not an upload, so the caller shows the loader's message.
    """
    names = uploaded_names(folder)
    if names is None:
        return None
    stored = Path(getattr(error, "path", "")).name
    name = names.get(stored, stored)
    if isinstance(error, CsvRejectedError):
        return (f"'{name}' was rejected as a whole because {error.reason}. Rejected rows: "
                f"{error.listed}. Fix or remove these rows and upload the file again.")
    if isinstance(error, DataFormatError):
        found = f", found {error.found!r}" if error.found else ""
        return (f"'{name}' is invalid at line {error.line_number}: expected "
                f"{error.expected}{found}. Fix the file and upload it again.")
    if isinstance(error, RatingScaleError):
        return (f"Every rating in '{names[CSV_FILES[0]]}' is {error.value:g}, which fits no "
                "common rating scale. Tick 'Set the rating scale' in the sidebar and enter "
                "the lowest and highest rating.")

    # Other errors name no line, so show them with the uploaded names in place of paths.
    message = str(error)
    for stored, uploaded in names.items():
        message = message.replace(str(Path(folder) / stored), uploaded)
    return message if message.endswith(".") else f"{message}."


@st.cache_data(max_entries=8, show_spinner=False)
def _read_upload(folder: str, stamp: tuple = ()) -> tuple[np.ndarray | None, list, list,
                                                          str | None]:
    """Return every kept rating of CSV data, its rejected rows and left-out fields.

    ``folder`` is a saved upload, or CSV data typed as a path: a folder with
    ``ratings.csv`` or a ratings CSV file. ``stamp`` changes when such files are edited.
    An upload needs none, because its folder is named by the hash of its content. The data
    is read with the options that :func:`csv_options` finds. When it is invalid the
    ratings are None and no rows are listed, because the page shows the load error, and
    the fourth item is the name of the invalid file (the ratings file when the error
    names none). It is None when the data loads. Rejected rows are ``(file, line,
    reason)`` and left-out fields ``(file, line, message)``, where the line is None for a
    whole column.
    """
    path = Path(folder)
    if path.is_file():
        ratings, items, users = path, None, None
    else:
        ratings, items, users = (path / name for name in CSV_FILES)
        items, users = (file if file.is_file() else None for file in (items, users))
    try:
        result = read_csv_dataset(ratings, items, users, **csv_options(folder))
    except (CsvRejectedError, DataFormatError, ValueError, OSError) as error:
        invalid = Path(getattr(error, "path", "") or ratings).name
        return None, [], [], invalid if invalid in CSV_FILES else ratings.name
    names = uploaded_names(folder) or {}
    rejected = [(names.get(row.file, row.file), row.line, row.reason)
                for row in result.rejected]
    left_out = [(names.get(warning.file, warning.file), warning.line, warning.message)
                for warning in result.warnings]
    return result.dataset.ratings["rating"].to_numpy(), rejected, left_out, None


def rejected_rows_report(folder: Path, stamp: tuple = ()):
    """Show how many rows of CSV data were rejected, and each one's line and reason.

    ``folder`` and ``stamp`` are as for :func:`_read_upload`.
    """
    _, rejected, left_out, _ = _read_upload(str(folder), stamp)
    sidebar = st.sidebar
    source = "the upload" if uploaded_names(folder) is not None else f"'{folder}'"
    if rejected:
        rows = "row" if len(rejected) == 1 else "rows"
        sidebar.warning(f"Left out {len(rejected)} invalid {rows} of {source}.")
        # A list, not a table: the sidebar is too narrow for a reason column.
        with sidebar.expander("Rejected rows"):
            st.markdown("\n".join(rejected_rows_lines(rejected)))
    if left_out:
        fields = "field or column" if len(left_out) == 1 else "fields or columns"
        sidebar.warning(f"Kept every row of {source} but left out {len(left_out)} invalid "
                        f"{fields}.")
        with sidebar.expander("Left-out fields"):
            st.markdown("\n".join(rejected_rows_lines(left_out)))


def rejected_rows_lines(rejected, limit=REJECTED_SHOWN) -> list[str]:
    """Return one Markdown list item per rejected ``(file, line, reason)``, up to ``limit``."""
    lines = [f"- **{_escape(file)}**" + (f", line {line}" if line is not None else "")
             + f": {_escape(reason)}" for file, line, reason in rejected[:limit]]
    if len(rejected) > limit:
        lines.append(f"- … and {len(rejected) - limit:,} more rows")
    return lines


def _escape(text) -> str:
    """Escape the Markdown characters of a file name or reason."""
    return "".join("\\" + c if c in "\\`*_{}[]<>()#+-.!|$~" else c for c in str(text))
