"""Saving a models folder: all files replaced together, one writer at a time.

Also the dashboard's rule of one training per models folder, whatever the number of
sessions that press *Train models*.
"""

import os
import threading
import time

import numpy as np
import pytest

from metarec.serving.staging import LOCK_NAME, FolderLock, FolderLockTimeout, StagedFiles
from metarec.serving.store import MANIFEST, read_manifest
from metarec.ui.training_runs import TrainingRuns, TrainingStopped


def write_set(directory, version, fail_after=None):
    """Save weights, an array and a manifest that all carry ``version``."""
    with StagedFiles(directory) as staged:
        staged.path("teacher.pt").write_text(f"weights {version}")
        np.save(staged.path("item_features.npy"), np.full(3, version))
        if fail_after == "array":
            raise RuntimeError("stopped half-way")
        staged.path(MANIFEST).write_text(f'{{"version": {version}}}')


def read_set(directory):
    return ((directory / "teacher.pt").read_text(),
            np.load(directory / "item_features.npy").tolist(),
            (directory / MANIFEST).read_text())


def test_staged_set_replaces_old_set(tmp_path):
    write_set(tmp_path, 1)
    (tmp_path / "notes.txt").write_text("mine")
    write_set(tmp_path, 2)
    assert read_set(tmp_path) == ("weights 2", [2, 2, 2], '{"version": 2}')
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "item_features.npy", MANIFEST, "notes.txt", "teacher.pt"]


def test_failed_write_keeps_old_set(tmp_path):
    write_set(tmp_path, 1)
    with pytest.raises(RuntimeError, match="half-way"):
        write_set(tmp_path, 2, fail_after="array")
    assert read_set(tmp_path) == ("weights 1", [1, 1, 1], '{"version": 1}')
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "item_features.npy", MANIFEST, "teacher.pt"]


def test_staged_files_publish_the_manifest_last(tmp_path, monkeypatch):
    moved = []
    replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (moved.append(os.path.basename(b)),
                                                     replace(a, b)))
    write_set(tmp_path, 1)
    assert moved == ["teacher.pt", "item_features.npy", MANIFEST]


def test_staged_files_reject_an_unwritten_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="teacher.pt"):
        with StagedFiles(tmp_path) as staged:
            staged.path("teacher.pt")
    assert list(tmp_path.iterdir()) == []


def test_concurrent_writers_each_leave_a_whole_set(tmp_path):
    errors = []

    def writer(version):
        try:
            for _ in range(20):
                write_set(tmp_path, version)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(v,)) for v in (1, 2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    weights, array, manifest = read_set(tmp_path)
    version = int(weights.split()[1])
    assert array == [version] * 3
    assert manifest == f'{{"version": {version}}}'
    assert not (tmp_path / LOCK_NAME).exists()
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]


def test_folder_lock_waits_then_names_the_lock_file(tmp_path):
    with FolderLock(tmp_path):
        with pytest.raises(FolderLockTimeout, match=LOCK_NAME) as caught:
            with FolderLock(tmp_path, timeout=0.2):
                pass
    assert str(tmp_path) in str(caught.value)
    assert "delete" in str(caught.value)
    with FolderLock(tmp_path, timeout=0.2):
        pass


def test_folder_lock_removes_a_stale_lock(tmp_path):
    lock = tmp_path / LOCK_NAME
    lock.write_text("12345\n")
    old = time.time() - 600
    os.utime(lock, (old, old))
    with FolderLock(tmp_path, timeout=1.0, stale_after=120.0):
        assert lock.read_text().strip() == str(os.getpid())
    assert not lock.exists()


def test_saved_models_leave_no_temporary_files(tiny_models):
    names = [p.name for p in tiny_models.iterdir()]
    assert MANIFEST in names
    assert "teacher.pt" in names
    assert "student.pt" in names
    assert not [n for n in names if n.startswith(".")]
    for entry in read_manifest(tiny_models)["variants"].values():
        if "file" in entry:
            assert (tiny_models / entry["file"]).is_file()


# Dashboard trainings ---------------------------------------------------------------------

def test_second_press_follows_the_running_training(tmp_path):
    runs = TrainingRuns(poll_seconds=0.01)
    started, release = threading.Event(), threading.Event()
    calls, shown = [], []

    def train(report):
        calls.append("train")
        report("epoch 1 of 2", 0.5)
        started.set()
        release.wait(5)
        return tmp_path / MANIFEST

    results = {}
    first = threading.Thread(target=lambda: results.setdefault(
        "first", runs.train(tmp_path, "user", train, lambda m, f: None)))
    first.start()
    started.wait(5)
    assert runs.running(tmp_path, "user").message == "epoch 1 of 2"
    assert runs.running(tmp_path, "item") is None

    def follow():
        results["second"] = runs.train(tmp_path, "user", train,
                                       lambda m, f: shown.append((m, f)))

    second = threading.Thread(target=follow)
    second.start()
    time.sleep(0.1)
    release.set()
    first.join(5)
    second.join(5)
    assert calls == ["train"]
    assert results == {"first": tmp_path / MANIFEST, "second": tmp_path / MANIFEST}
    assert shown and shown[0][1] == 0.5
    assert shown[0][0].startswith("Another session started this training at ")
    assert shown[0][0].endswith("epoch 1 of 2")
    assert runs.running(tmp_path, "user") is None


class PageLeft(BaseException):
    """Stands in for Streamlit's StopException, which is not an Exception either."""


@pytest.mark.parametrize("error, reason", [
    (ValueError("no ratings left"), "it failed: no ratings left"),
    (PageLeft(), "its page was closed or left"),
])
def test_follower_hears_why_training_ended(tmp_path, error, reason):
    runs = TrainingRuns(poll_seconds=0.01)
    started, release = threading.Event(), threading.Event()

    def train(report):
        started.set()
        release.wait(5)
        raise error

    def lead():
        with pytest.raises(type(error)):
            runs.train(tmp_path, "user", train, lambda m, f: None)

    leader = threading.Thread(target=lead)
    leader.start()
    started.wait(5)
    outcome = {}

    def follow():
        try:
            runs.train(tmp_path, "user", train, lambda m, f: None)
        except TrainingStopped as stopped:
            outcome["error"] = str(stopped)

    follower = threading.Thread(target=follow)
    follower.start()
    time.sleep(0.05)
    release.set()
    leader.join(5)
    follower.join(5)
    assert reason in outcome["error"]
    assert "Press the button again" in outcome["error"]
    # The folder is free again: the next press trains.
    assert runs.train(tmp_path, "user", lambda report: "trained", lambda m, f: None) == "trained"
