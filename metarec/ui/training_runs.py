"""One dashboard training per models folder at a time; a second press follows the first.

Streamlit serves every browser tab from one process, each rerun in its own thread. When
two people press *Train models* for the same data, the second press would start a second
identical training into the same folder, and both would take twice as long on a shared
CPU. :class:`TrainingRuns` lets the first press train and makes any later press follow
its progress until it ends, then hand back the same manifest.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


class TrainingStopped(RuntimeError):
    """The training another session started ended without writing models."""


@dataclass
class Run:
    """A training in progress: when it started and the last progress it reported."""

    started: float = field(default_factory=time.time)
    message: str = "starting"
    fraction: float = 0.0


class TrainingRuns:
    """Runs in progress, keyed by models folder and kind (``"user"`` or ``"item"``)."""

    def __init__(self, poll_seconds=0.5):
        self.poll_seconds = poll_seconds
        self._lock = threading.Lock()
        self._running: dict[tuple, Run] = {}
        self._outcomes: dict[tuple, tuple] = {}

    def train(self, folder, kind, train, show):
        """Return the manifest path that ``train(report)`` writes, training once per folder.

        Parameters
        ----------
        folder : path-like
            The models folder the training writes into.
        kind : str
            Which models: user-side and item-side runs of one folder are separate.
        train : callable
            ``train(report)`` trains and returns the manifest path. It calls
            ``report(message, fraction)`` as it goes.
        show : callable
            ``show(message, fraction)`` draws progress on the page; for a follower it is
            called with the running training's progress every ``poll_seconds``.

        Raises
        ------
        TrainingStopped
            When this call followed another session's training and that one ended
            without a manifest (it failed, or its page was left, which stops it).
        """
        key = (str(Path(folder).expanduser().resolve()), kind)
        with self._lock:
            run = self._running.get(key)
            if run is None:
                run = self._running[key] = Run()
                leading = True
            else:
                leading = False
        if not leading:
            return self._follow(key, run, show)

        def report(message, fraction):
            run.message, run.fraction = message, fraction
            show(message, fraction)

        # Streamlit stops a script, and the training it runs, with an exception outside
        # Exception, so the outcome stays "stopped" then.
        outcome = ("stopped", None, run.started)
        try:
            path = train(report)
            outcome = ("done", path, run.started)
            return path
        except Exception as error:
            outcome = ("failed", error, run.started)
            raise
        finally:
            with self._lock:
                del self._running[key]
                self._outcomes[key] = outcome

    def running(self, folder, kind) -> Run | None:
        """Return the run in progress for ``folder`` and ``kind``, if any."""
        with self._lock:
            return self._running.get((str(Path(folder).expanduser().resolve()), kind))

    def stopped(self, folder, kind) -> float | None:
        """Return when the last training of ``folder`` and ``kind`` started, if it stopped.

        A training stops when the page that runs it is left, changed or stopped. None
        when the last training finished or failed, while one is running, or when there
        was none in this server process.
        """
        key = (str(Path(folder).expanduser().resolve()), kind)
        with self._lock:
            if key in self._running:
                return None
            outcome = self._outcomes.get(key)
        if outcome is None or outcome[0] != "stopped":
            return None
        return outcome[2]

    def forget_stopped(self, folder, kind):
        """Drop the record of a stopped training of ``folder`` and ``kind``, if any."""
        key = (str(Path(folder).expanduser().resolve()), kind)
        with self._lock:
            if self._outcomes.get(key, ("",))[0] == "stopped":
                del self._outcomes[key]

    def _follow(self, key, run, show):
        started = time.strftime("%H:%M:%S", time.localtime(run.started))
        while True:
            with self._lock:
                active = self._running.get(key) is run
                outcome = self._outcomes.get(key)
            if not active:
                break
            show(f"Another session started this training at {started}: {run.message}",
                 run.fraction)
            time.sleep(self.poll_seconds)
        status, value, _ = outcome
        if status == "done":
            return value
        reason = (f"it failed: {value}" if status == "failed"
                  else "its page was closed or left, which stops a training")
        raise TrainingStopped(
            f"The training another session started at {started} ended without saving "
            f"models ({reason}). Press the button again to train here.")
