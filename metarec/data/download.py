"""Download the MovieLens archives from GroupLens on request, verify them and cache them.

A dataset is looked for, and downloaded to, :func:`dataset_dir`. A folder that already
contains the dataset's files is used as is and nothing is downloaded. Otherwise the
archive is streamed to a temporary file beside the target folder, its size and MD5 are
checked against the published ones, and only then is it unpacked and moved into place
in one rename. A download that fails, ends early or has the wrong checksum is deleted
and raises :class:`DownloadError`; it is never unpacked.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .movielens import DATA_DIR_ENV

logger = logging.getLogger("metarec")

CHUNK_BYTES = 1 << 16
DEFAULT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Archive:
    """A published zip archive of a dataset.

    Attributes
    ----------
    name : str
        Dataset name, also the name of the folder it is unpacked to.
    url : str
    md5 : str
        Published MD5 digest of the archive, lower-case hex. MD5 detects a damaged,
        truncated or replaced file, but not a deliberate forgery.
    size : int or None
        Archive size in bytes, when published.
    folder : str
        Top-level folder inside the archive that contains the data files.
    files : tuple of str
        Files the unpacked folder must contain to be used.
    """

    name: str
    url: str
    md5: str
    size: int | None
    folder: str
    files: tuple[str, ...]


# The GroupLens archives under https://files.grouplens.org/datasets/movielens/, with
# their MD5 digests and the size of ml-100k.zip.
# NOTE: the size of ml-1m.zip is not checked, because no published figure was at hand.
# Its MD5 still is, so a truncated file is caught all the same.
MOVIELENS_ARCHIVES = {
    "ml-100k": Archive(
        name="ml-100k",
        url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        md5="0e33842e24a9c977be4e0107933c0723",
        size=4_924_029,
        folder="ml-100k",
        files=("u.data", "u.item", "u.user"),
    ),
    "ml-1m": Archive(
        name="ml-1m",
        url="https://files.grouplens.org/datasets/movielens/ml-1m.zip",
        md5="c4d9eecfca2ab87c1945afe126590906",
        size=None,
        folder="ml-1m",
        files=("ratings.dat", "movies.dat", "users.dat"),
    ),
}


class DownloadError(OSError):
    """A dataset could not be downloaded, or the download failed verification."""


def user_cache_dir() -> Path:
    """Return metarec's folder in the platform's user cache directory.

    ``%LOCALAPPDATA%\\metarec`` on Windows, ``~/Library/Caches/metarec`` on macOS and
    ``$XDG_CACHE_HOME/metarec`` (default ``~/.cache/metarec``) elsewhere.
    """
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "metarec"


def archive_for(name) -> Archive:
    """Return the :class:`Archive` of a dataset name, e.g. ``"ml-100k"``.

    Raises
    ------
    ValueError
        If ``name`` is not a dataset that metarec can download.
    """
    try:
        return MOVIELENS_ARCHIVES[name]
    except KeyError:
        raise ValueError(
            f"unknown dataset {name!r}; metarec can download {', '.join(MOVIELENS_ARCHIVES)}"
        ) from None


def has_files(directory, archive: Archive) -> bool:
    """Return True when ``directory`` contains every file of ``archive``."""
    directory = Path(directory)
    return all((directory / name).is_file() for name in archive.files)


def dataset_dir(name) -> Path:
    """Return the folder where dataset ``name`` is looked for and downloaded to.

    When ``METAREC_DATA_DIR`` is set, that folder itself if it contains the dataset's
    files, else its subfolder ``name``. Otherwise ``name`` in :func:`user_cache_dir`.
    """
    archive = archive_for(name)
    value = os.environ.get(DATA_DIR_ENV)
    if value:
        folder = Path(value).expanduser()
        return folder if has_files(folder, archive) else folder / name
    return user_cache_dir() / name


def manual_instructions(archive: Archive, target) -> str:
    """Return how to put the files in place by hand, for error messages.

    The advice names the published GroupLens address even when ``archive`` points at a
    mirror, because the mirror may be what failed.
    """
    published = MOVIELENS_ARCHIVES.get(archive.name)
    source = archive.url
    if published is not None and published.url != archive.url:
        source = f"{published.url} (the GroupLens address, not the mirror {archive.url})"
    return (
        f"To install {archive.name} by hand, download {source} on a machine with "
        f"internet access, check that its MD5 is {archive.md5}, and unzip it so that "
        f"'{target}' contains {', '.join(archive.files)}. Or pass a folder that already "
        f"contains them with --data or {DATA_DIR_ENV}."
    )


def download_dataset(name, directory=None, *, timeout=DEFAULT_TIMEOUT_S, progress=None,
             archive: Archive | None = None) -> Path:
    """Download, verify and unpack a dataset, or return the folder that already has it.

    Parameters
    ----------
    name : str
        ``"ml-100k"`` or ``"ml-1m"``.
    directory : str or path-like, optional
        Folder to unpack into; defaults to :func:`dataset_dir`. A folder that already
        contains the dataset's files is returned as is, without any network access.
    timeout : float, default 30
        Seconds to wait for the connection and for each block of data.
    progress : callable, optional
        Called as ``progress(bytes_done, bytes_total)`` after each block; the total is
        None when the server does not send it and no size is published.
    archive : Archive, optional
        Replaces the published archive of ``name`` (tests use a local server).

    Returns
    -------
    pathlib.Path
        Folder that contains the dataset's files.

    Raises
    ------
    DownloadError
        If the server cannot be reached, the transfer fails, times out or ends early, or
        the archive has the wrong size or MD5 or lacks a file. The message names the
        folder to put the files in by hand. Nothing partial is left behind.
    FileExistsError
        If the target folder exists with other files but lacks some of the dataset's.
    NotADirectoryError
        If the target, or a folder above it, is a file. Raised before any download.
    ValueError
        If ``name`` is unknown, or the archive's address is not an http:// or https://
        address with a valid port.
    """
    archive = archive or archive_for(name)
    check_url(archive.url)
    target = Path(directory).expanduser() if directory else dataset_dir(name)
    _check_not_file(target)
    if has_files(target, archive):
        logger.info("using %s from %s as is", archive.name, target)
        return target
    if target.is_dir() and any(target.iterdir()):
        raise FileExistsError(_occupied_message(target, archive))

    # Folders made here are removed again if the download fails, so a failure leaves
    # nothing behind (an empty ~/.cache/metarec, say).
    created = [folder for folder in (target.parent, *target.parent.parents)
               if not folder.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, part = tempfile.mkstemp(prefix=f".{archive.name}-", suffix=".zip.part",
                                    dir=target.parent)
    part = Path(part)
    succeeded = False
    try:
        with os.fdopen(handle, "wb") as out:
            _fetch(archive, target, out, timeout, progress)
        _unpack(archive, part, target)
        succeeded = True
    finally:
        if part.exists():
            part.unlink()
        if not succeeded:
            _remove_empty(created)
    return target


def check_url(url):
    """Raise ValueError unless ``url`` is an http:// or https:// address with a valid port.

    A port above 65535 would otherwise fail as "connection refused", as if no server
    listened there.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not a full http:// or https:// address; pass the whole "
                         f"address of the zip file, such as http://127.0.0.1:8000/ml-100k.zip")
    try:
        parts.port
    except ValueError:
        port = parts.netloc.rpartition(":")[2]
        raise ValueError(f"{url!r} has the port {port!r}, which is not a whole number from "
                         f"0 to 65535; check the port the server listens on") from None


def _check_not_file(target: Path):
    """Raise NotADirectoryError when ``target`` or a folder above it is a file."""
    for path in (target, *target.absolute().parents):
        if not path.exists():
            continue
        if path.is_dir():
            return
        if path == target:
            raise NotADirectoryError(
                f"'{target}' is a file, not a folder; pass a folder to unzip into (--dir), "
                f"which is created if missing")
        raise NotADirectoryError(
            f"'{target}' cannot be created, because '{path}' is a file; pass a folder to "
            f"unzip into (--dir) whose path is inside a folder")


def _occupied_message(target: Path, archive: Archive) -> str:
    """Return why a folder with other files cannot take ``archive``, and what to do.

    Removing the folder is suggested only when it contains some of ``archive``'s own files
    and none of another dataset's, because it may contain other data.
    """
    present = [f for f in archive.files if (target / f).is_file()]
    missing = [f for f in archive.files if f not in present]
    others = [other.name for other in MOVIELENS_ARCHIVES.values()
              if other.name != archive.name and has_files(target, other)]
    if present and not others:
        return (f"'{target}' exists but lacks {', '.join(missing)} of {archive.name}. It "
                f"contains {', '.join(present)}, so it looks like a partial copy: add the "
                f"missing files, or remove the folder and download again.")
    if others:
        found = f"the {' and '.join(others)} dataset"
    else:
        names = sorted(entry.name for entry in target.iterdir())
        found = "other files (" + ", ".join(names[:5]) + (
            f" and {len(names) - 5} more" if len(names) > 5 else "") + ")"
    return (f"'{target}' contains {found}, not the {archive.name} files "
            f"{', '.join(archive.files)}. Pass an empty or new folder to unzip "
            f"{archive.name} into (--dir), so that these files are left as they are.")


def _remove_empty(folders):
    """Remove ``folders``, deepest first, as long as each is empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            break


def _fetch(archive: Archive, target, out, timeout, progress):
    """Stream the archive into ``out``, then check its size and MD5."""
    hint = manual_instructions(archive, target)
    digest = hashlib.md5(usedforsecurity=False)
    done = 0
    logger.info("downloading %s from %s", archive.name, archive.url)
    try:
        with urllib.request.urlopen(archive.url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else archive.size
            while True:
                block = response.read(CHUNK_BYTES)
                if not block:
                    break
                out.write(block)
                digest.update(block)
                done += len(block)
                if progress is not None:
                    progress(done, total)
    except urllib.error.HTTPError as error:
        raise DownloadError(
            f"Download of {archive.name} failed: {archive.url} returned HTTP {error.code} "
            f"{error.reason}. {hint}"
        ) from error
    except TimeoutError as error:
        raise DownloadError(
            f"Download of {archive.name} from {archive.url} timed out: no data for "
            f"{timeout:g} s after {done:,} bytes. The partial file was deleted. Try again "
            f"later or with a longer timeout (--timeout SECONDS). {hint}"
        ) from error
    except http.client.IncompleteRead as error:
        raise DownloadError(
            f"Download of {archive.name} from {archive.url} ended early, after about "
            f"{done + len(error.partial):,} bytes. The partial file was deleted. Try "
            f"again. {hint}"
        ) from error
    except urllib.error.URLError as error:
        if isinstance(error.reason, ConnectionRefusedError):
            # A refused connection comes from a reachable host, so the machine is online
            # and the address or port is wrong, or the server is down.
            guess = "Check the address and port, and that the server is running."
        else:
            guess = "This machine may be offline."
        raise DownloadError(
            f"Could not download {archive.name} from {archive.url}: {error.reason}. "
            f"{guess} {hint}"
        ) from error
    except OSError as error:
        raise DownloadError(
            f"Download of {archive.name} from {archive.url} failed after {done:,} bytes: "
            f"{error}. The partial file was deleted. {hint}"
        ) from error

    expected_size = total if total is not None else archive.size
    if expected_size is not None and done != expected_size:
        raise DownloadError(
            f"Download of {archive.name} from {archive.url} has {done:,} bytes, expected "
            f"{expected_size:,}. The file was deleted and not used; try again. {hint}"
        )
    if digest.hexdigest() != archive.md5.lower():
        raise DownloadError(
            f"The {archive.name} archive from {archive.url} has MD5 {digest.hexdigest()}, "
            f"expected {archive.md5}: it is damaged or differs from the published file. It "
            f"was deleted and not used. {hint}"
        )
    logger.info("verified %s: %d bytes, MD5 %s", archive.name, done, archive.md5)


def _unpack(archive: Archive, part: Path, target: Path):
    """Unpack the archive's data folder next to ``target``, then rename it into place."""
    hint = manual_instructions(archive, target)
    # mkdtemp makes a private folder (mode 700). The data goes into a folder made inside
    # it with the usual mode, which follows the umask, and that one is renamed to target.
    private = Path(tempfile.mkdtemp(prefix=f".{archive.name}-", dir=target.parent))
    staging = private / archive.name
    try:
        staging.mkdir()
        try:
            with zipfile.ZipFile(part) as bundle:
                members = _data_members(bundle, archive)
                missing = [f for f in archive.files if f not in members]
                if missing:
                    raise DownloadError(
                        f"The {archive.name} archive from {archive.url} lacks "
                        f"{', '.join(f'{archive.folder}/{f}' for f in missing)}. {hint}"
                    )
                for file_name, info in members.items():
                    with bundle.open(info) as source, open(staging / file_name, "wb") as sink:
                        shutil.copyfileobj(source, sink)
        except zipfile.BadZipFile as error:
            raise DownloadError(
                f"The {archive.name} archive from {archive.url} is not a valid zip file "
                f"({error}). It was deleted and not used. {hint}"
            ) from error

        try:
            if target.is_dir():
                target.rmdir()  # download_dataset() checked that it is empty.
            staging.rename(target)
        except OSError as error:
            # Another process may have put the dataset in place meanwhile.
            if not has_files(target, archive):
                # The error names the temporary folder, so the message names target.
                raise DownloadError(
                    f"The {archive.name} archive was verified but could not be moved "
                    f"into '{target}': {error.strerror or error}. Check that '{target}' "
                    f"is an empty folder or missing, and try again. {hint}"
                ) from error
            logger.info("%s appeared in %s during the download; using it", archive.name,
                        target)
        else:
            logger.info("unpacked %s into %s", archive.name, target)
    finally:
        if private.exists():
            shutil.rmtree(private)


def _data_members(bundle: zipfile.ZipFile, archive: Archive) -> dict:
    """Return ``{file name: ZipInfo}`` of the plain files directly in the data folder.

    Other entries (subfolders, files outside the folder, names with ``..``) are skipped,
    so nothing is written outside the staging folder.
    """
    members = {}
    for info in bundle.infolist():
        path = PurePosixPath(info.filename)
        if info.is_dir() or len(path.parts) != 2 or path.parts[0] != archive.folder:
            continue
        if path.name in ("..", ".") or "\\" in path.name:
            continue
        members[path.name] = info
    return members
