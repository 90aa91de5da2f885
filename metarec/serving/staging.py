"""Write the files of a models folder so that readers see the old set or the new one.

A run writes several files (network weights, baseline arrays, a manifest). Written one
by one into the folder, a page that loads the folder meanwhile could read a new weights
file beside the old manifest, and a run stopped half-way would leave such a mix behind.
:class:`StagedFiles` writes every file under a hidden temporary name first, then moves
them all into place while it holds the folder's write lock, the manifest last. Two runs
that save into one folder at the same time therefore take turns, and each leaves a
complete set.

    with StagedFiles(directory) as staged:
        torch.save(weights, staged.path("teacher.pt"))
        staged.path("manifest.json").write_text(text)

Other files in the folder are left alone.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from pathlib import Path

logger = logging.getLogger("metarec")

LOCK_NAME = ".metarec-write.lock"
PARTIAL = ".partial"


class FolderLockTimeout(TimeoutError):
    """Another process held a models folder's write lock for too long."""


class StagedFiles:
    """Collect files written under temporary names and move them into ``directory`` together.

    Parameters
    ----------
    directory : path-like
        The models folder; created when missing.
    lock_timeout : float
        Seconds to wait for another writer's lock before giving up.
    stale_after : float
        A lock file older than this many seconds is taken to be left by a process that
        died while publishing, and is removed. Publishing only renames files, so a live
        writer holds the lock for milliseconds.

    Files are published in the order :meth:`path` was first called for them, so name the
    manifest last. When the ``with`` block raises, the temporary files are deleted and the
    folder keeps what it had.
    """

    def __init__(self, directory, lock_timeout=60.0, stale_after=120.0):
        self.directory = Path(directory)
        self.lock_timeout = lock_timeout
        self.stale_after = stale_after
        self._token = secrets.token_hex(4)
        self._staged: dict[str, Path] = {}

    def path(self, name: str) -> Path:
        """Return the temporary path to write the file ``name`` to.

        The temporary name keeps the suffix (``.teacher.1a2b3c4d.partial.pt``), because
        ``numpy.save`` and ``numpy.savez`` add their own suffix to a name without it.
        """
        if Path(name).name != name:
            raise ValueError(f"staged file names have no folder part, got {name!r}")
        if name not in self._staged:
            stem, suffix = os.path.splitext(name)
            self._staged[name] = self.directory / f".{stem}.{self._token}{PARTIAL}{suffix}"
        return self._staged[name]

    def __enter__(self) -> StagedFiles:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, kind, error, traceback):
        if kind is None:
            self.publish()
        else:
            self.discard()
        return False

    def discard(self):
        """Delete the temporary files written so far."""
        for temporary in self._staged.values():
            temporary.unlink(missing_ok=True)
        self._staged.clear()

    def publish(self):
        """Move every staged file into place under the folder's write lock."""
        missing = [name for name, temporary in self._staged.items() if not temporary.is_file()]
        if missing:
            self.discard()
            raise FileNotFoundError(f"staged files were never written: {', '.join(missing)}")
        with FolderLock(self.directory, self.lock_timeout, self.stale_after):
            for name, temporary in self._staged.items():
                os.replace(temporary, self.directory / name)
        self._staged.clear()


class FolderLock:
    """Hold ``directory``'s write lock: a file created exclusively, removed on exit.

    A lock file is portable across operating systems and visible to every process that
    writes the folder, whether the dashboard or ``python -m metarec train``.
    """

    def __init__(self, directory, timeout=60.0, stale_after=120.0):
        self.path = Path(directory) / LOCK_NAME
        self.timeout = timeout
        self.stale_after = stale_after

    def __enter__(self):
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                handle = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                self._remove_if_stale()
                if time.monotonic() > deadline:
                    raise FolderLockTimeout(
                        f"another process has been saving models into '{self.path.parent}' "
                        f"for over {self.timeout:.0f} s. If no training is running, delete "
                        f"'{self.path}' and try again."
                    ) from None
                time.sleep(0.05)
                continue
            with os.fdopen(handle, "w") as lock:
                lock.write(f"{os.getpid()}\n")
            return self

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)
        return False

    def _remove_if_stale(self):
        try:
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return
        if age > self.stale_after:
            logger.warning("removing the write lock '%s', left %.0f s ago by a process that "
                           "did not finish saving", self.path, age)
            self.path.unlink(missing_ok=True)
