"""Downloading MovieLens archives, against an HTTP server on 127.0.0.1 started here.

The served archives are zipped synthetic catalogues from ``metarec.data.sample``, never
MovieLens rows. Every request is checked to go to 127.0.0.1.
"""

import dataclasses
import hashlib
import io
import os
import shutil
import socket
import stat
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from metarec.cli import main
from metarec.data import DATA_DIR_ENV, DownloadError, load_dataset, load_movielens_100k
from metarec.data.download import MOVIELENS_ARCHIVES, dataset_dir, download_dataset
from metarec.data.sample import generate_sample

# Seconds the client waits for data; the slow route stalls for SLOW_STALL_S.
SHORT_TIMEOUT_S = 0.5
SLOW_STALL_S = 3.0
# A stalled download must fail within the timeout plus this much.
TIMEOUT_SLACK_S = 2.0
REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "app.py")


# Archives and server --------------------------------------------------------------------

def zip_folder(folder: Path, top: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(folder.iterdir()):
            bundle.write(path, f"{top}/{path.name}")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def sample_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("source") / "ml-100k"
    generate_sample(folder, seed=1, n_users=20, n_items=50)
    return folder


@pytest.fixture(scope="module")
def good_zip(sample_folder):
    return zip_folder(sample_folder, "ml-100k")


class ArchiveHandler(BaseHTTPRequestHandler):
    """Serve ``server.routes[path] = (body, mode)``, shaping the response by mode."""

    def do_GET(self):
        self.server.requests.append(self.path)
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
            return
        body, mode = route
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if mode == "truncated":
                # HTTP/1.0: the connection closes when the handler returns.
                self.wfile.write(body[:len(body) // 2])
            elif mode == "stalls":
                self.wfile.write(body[:1024])
                self.wfile.flush()
                time.sleep(SLOW_STALL_S)
                self.wfile.write(body[1024:])
            elif mode == "trickles":
                for start in range(0, len(body), 4096):
                    self.wfile.write(body[start:start + 4096])
                    self.wfile.flush()
                    time.sleep(0.01)
            else:
                self.wfile.write(body)
        except OSError:
            pass  # The client gave up; that is what the slow route tests.

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def server(good_zip):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ArchiveHandler)
    httpd.daemon_threads = True
    httpd.block_on_close = False
    damaged = bytearray(good_zip)
    damaged[len(damaged) // 2] ^= 0xFF
    httpd.routes = {
        "/good.zip": (good_zip, "full"),
        "/truncated.zip": (good_zip, "truncated"),
        "/damaged.zip": (bytes(damaged), "full"),
        "/stalls.zip": (good_zip, "stalls"),
        "/trickles.zip": (good_zip, "trickles"),
        "/not-a-zip.zip": (b"this is not a zip archive", "full"),
    }
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def url_of(server, path):
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def local_archive(server, path, body):
    """The published ml-100k entry, pointed at ``path`` on the local server."""
    return dataclasses.replace(MOVIELENS_ARCHIVES["ml-100k"], url=url_of(server, path),
                               md5=hashlib.md5(body).hexdigest(), size=None)


@pytest.fixture
def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Keep the cache in tmp_path and refuse any request to a host other than 127.0.0.1."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    real_urlopen = urllib.request.urlopen

    def local_only(url, *args, **kwargs):
        host = urllib.parse.urlsplit(getattr(url, "full_url", url)).hostname
        if host != "127.0.0.1":
            raise AssertionError(f"a test tried to reach {host}")
        return real_urlopen(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", local_only)


def leftovers(folder: Path) -> list:
    """Temporary files or folders a download left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) \
        if folder.is_dir() else []


# The published archives ------------------------------------------------------------------

def test_published_archives_are_grouplens_files():
    ml100k, ml1m = MOVIELENS_ARCHIVES["ml-100k"], MOVIELENS_ARCHIVES["ml-1m"]
    assert ml100k.url == "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
    assert ml100k.md5 == "0e33842e24a9c977be4e0107933c0723"
    assert ml100k.size == 4_924_029
    assert ml1m.url == "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
    assert ml1m.md5 == "c4d9eecfca2ab87c1945afe126590906"
    assert ml1m.files == ("ratings.dat", "movies.dat", "users.dat")


def test_cache_folder_follows_environment(tmp_path, monkeypatch):
    assert dataset_dir("ml-1m") == tmp_path / "cache" / "metarec" / "ml-1m"

    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))
    assert dataset_dir("ml-100k") == tmp_path / "data" / "ml-100k"

    generate_sample(tmp_path / "own", seed=0, n_users=10, n_items=50)
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "own"))
    assert dataset_dir("ml-100k") == tmp_path / "own"


def test_unknown_dataset_name_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'ml-20m'; .* ml-100k, ml-1m"):
        download_dataset("ml-20m", tmp_path)


@pytest.mark.parametrize("url, message", [
    ("http://127.0.0.1:99999/ml-100k.zip", "has the port '99999', which is not a whole number"),
    ("http://127.0.0.1:80a/ml-100k.zip", "has the port '80a', which is not a whole number"),
    ("http:///ml-100k.zip", "is not a full http:// or https:// address"),
])
def test_bad_address_is_named_before_any_download(url, message, tmp_path):
    # Port 99999 used to fail as "connection refused", as if no server listened there.
    archive = dataclasses.replace(MOVIELENS_ARCHIVES["ml-100k"], url=url)
    with pytest.raises(ValueError, match=message):
        download_dataset("ml-100k", tmp_path / "ml-100k", archive=archive)
    assert not (tmp_path / "ml-100k").exists()


def test_cli_names_an_out_of_range_port(tmp_path, capsys):
    assert main(["download", "ml-100k", "--dir", str(tmp_path / "ml"),
                 "--url", "http://127.0.0.1:99999/ml-100k.zip"]) == 2
    assert "has the port '99999'" in capsys.readouterr().err


# Downloads against the local server ------------------------------------------------------

def test_good_archive_is_unpacked_and_loads(server, good_zip, sample_folder, tmp_path):
    reports = []
    target = tmp_path / "data" / "ml-100k"
    archive = local_archive(server, "/good.zip", good_zip)
    folder = download_dataset("ml-100k", target, archive=archive,
                      progress=lambda done, total: reports.append((done, total)))

    assert folder == target
    assert reports[-1] == (len(good_zip), len(good_zip))
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)
    loaded = load_movielens_100k(folder)
    assert loaded.fingerprint() == load_movielens_100k(sample_folder).fingerprint()
    assert leftovers(target.parent) == []


def test_trickling_download_within_timeout_succeeds(server, good_zip, tmp_path):
    archive = local_archive(server, "/trickles.zip", good_zip)
    folder = download_dataset("ml-100k", tmp_path / "ml-100k", archive=archive, timeout=5)
    assert (folder / "u.data").is_file()


def test_truncated_download_is_deleted(server, good_zip, tmp_path):
    archive = local_archive(server, "/truncated.zip", good_zip)
    expected = f"has {len(good_zip) // 2:,} bytes, expected {len(good_zip):,}"
    with pytest.raises(DownloadError, match=expected):
        download_dataset("ml-100k", tmp_path / "ml-100k", archive=archive)
    assert not (tmp_path / "ml-100k").exists()
    assert leftovers(tmp_path) == []


def test_wrong_checksum_is_deleted(server, good_zip, tmp_path):
    archive = local_archive(server, "/damaged.zip", good_zip)
    with pytest.raises(DownloadError, match=f"has MD5 [0-9a-f]{{32}}, expected {archive.md5}"):
        download_dataset("ml-100k", tmp_path / "ml-100k", archive=archive)
    assert not (tmp_path / "ml-100k").exists()
    assert leftovers(tmp_path) == []


def test_failed_download_removes_folders_it_made(server, good_zip, tmp_path):
    archive = local_archive(server, "/damaged.zip", good_zip)
    (tmp_path / "kept").mkdir()
    with pytest.raises(DownloadError, match="has MD5"):
        download_dataset("ml-100k", tmp_path / "kept" / "cache" / "metarec" / "ml-100k",
                         archive=archive)
    assert not (tmp_path / "kept" / "cache").exists()
    assert (tmp_path / "kept").is_dir()


def test_stalled_download_times_out(server, good_zip, tmp_path):
    archive = local_archive(server, "/stalls.zip", good_zip)
    started = time.monotonic()
    with pytest.raises(DownloadError, match=f"timed out: no data for {SHORT_TIMEOUT_S:g} s"):
        download_dataset("ml-100k", tmp_path / "ml-100k", archive=archive,
                         timeout=SHORT_TIMEOUT_S)
    assert time.monotonic() - started < SHORT_TIMEOUT_S + TIMEOUT_SLACK_S
    assert not (tmp_path / "ml-100k").exists()
    assert leftovers(tmp_path) == []


def test_offline_error_says_where_to_put_files(closed_port, tmp_path):
    archive = dataclasses.replace(MOVIELENS_ARCHIVES["ml-100k"],
                                  url=f"http://127.0.0.1:{closed_port}/ml-100k.zip")
    target = tmp_path / "ml-100k"
    with pytest.raises(DownloadError) as raised:
        download_dataset("ml-100k", target, archive=archive, timeout=SHORT_TIMEOUT_S)
    message = str(raised.value)
    assert "Could not download ml-100k" in message
    assert "Check the address and port, and that the server is running." in message
    assert "may be offline" not in message
    assert f"unzip it so that '{target}' contains u.data, u.item, u.user" in message
    assert MOVIELENS_ARCHIVES["ml-100k"].md5 in message
    assert leftovers(tmp_path) == []


def test_http_error_is_reported(server, tmp_path):
    archive = dataclasses.replace(MOVIELENS_ARCHIVES["ml-100k"],
                                  url=url_of(server, "/missing.zip"))
    with pytest.raises(DownloadError, match="returned HTTP 404"):
        download_dataset("ml-100k", tmp_path / "ml-100k", archive=archive)


def test_verified_file_that_is_no_zip_is_rejected(server, tmp_path):
    archive = local_archive(server, "/not-a-zip.zip", b"this is not a zip archive")
    with pytest.raises(DownloadError, match="is not a valid zip file"):
        download_dataset("ml-100k", tmp_path / "ml-100k", archive=archive)
    assert not (tmp_path / "ml-100k").exists()
    assert leftovers(tmp_path) == []


def test_archive_without_data_files_is_rejected(server, sample_folder, tmp_path):
    body = zip_folder(sample_folder, "wrong-folder")
    server.routes["/wrong-folder.zip"] = (body, "full")
    archive = local_archive(server, "/wrong-folder.zip", body)
    with pytest.raises(DownloadError, match="lacks ml-100k/u.data, ml-100k/u.item"):
        download_dataset("ml-100k", tmp_path / "ml-100k", archive=archive)
    assert not (tmp_path / "ml-100k").exists()


def test_entries_outside_data_folder_are_skipped(server, sample_folder, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for path in sorted(sample_folder.iterdir()):
            bundle.write(path, f"ml-100k/{path.name}")
        bundle.writestr("ml-100k/../escaped.txt", "outside")
        bundle.writestr("/absolute.txt", "outside")
    body = buffer.getvalue()
    server.routes["/escaping.zip"] = (body, "full")

    folder = download_dataset("ml-100k", tmp_path / "data" / "ml-100k",
                      archive=local_archive(server, "/escaping.zip", body))
    assert (folder / "u.data").is_file()
    assert not (tmp_path / "data" / "escaped.txt").exists()
    assert not (folder / "escaped.txt").exists()


def test_failed_download_is_never_loaded(server, good_zip, tmp_path, monkeypatch):
    monkeypatch.setitem(MOVIELENS_ARCHIVES, "ml-100k",
                        local_archive(server, "/damaged.zip", good_zip))
    with pytest.raises(DownloadError):
        download_dataset("ml-100k")
    with pytest.raises(FileNotFoundError, match="ml-100k is not downloaded yet"):
        load_dataset("ml-100k")


# Files already in place ------------------------------------------------------------------

def test_folder_with_files_is_used_as_is(server, closed_port, tmp_path):
    folder = generate_sample(tmp_path / "ml-100k", seed=0, n_users=10, n_items=50)
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    requests = len(server.requests)
    archive = dataclasses.replace(MOVIELENS_ARCHIVES["ml-100k"],
                                  url=f"http://127.0.0.1:{closed_port}/ml-100k.zip")

    assert download_dataset("ml-100k", folder, archive=archive) == folder
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    assert len(server.requests) == requests


def test_data_dir_with_files_is_used_as_is(closed_port, tmp_path, monkeypatch):
    folder = generate_sample(tmp_path / "my-movielens", seed=0, n_users=10, n_items=50)
    monkeypatch.setenv(DATA_DIR_ENV, str(folder))
    monkeypatch.setitem(MOVIELENS_ARCHIVES, "ml-100k", dataclasses.replace(
        MOVIELENS_ARCHIVES["ml-100k"], url=f"http://127.0.0.1:{closed_port}/ml-100k.zip"))

    assert download_dataset("ml-100k") == folder
    assert load_dataset("ml-100k").source == str(folder)


def test_incomplete_folder_is_not_overwritten(server, good_zip, tmp_path):
    target = tmp_path / "ml-100k"
    target.mkdir()
    (target / "u.data").write_text("1\t1\t5\t0\n")
    with pytest.raises(FileExistsError, match="lacks u.item, u.user of ml-100k"):
        download_dataset("ml-100k", target,
                         archive=local_archive(server, "/good.zip", good_zip))
    assert [p.name for p in target.iterdir()] == ["u.data"]


# Command line and dashboard ---------------------------------------------------------------

def test_cli_download_then_load_by_name(server, good_zip, sample_folder, tmp_path,
                                        monkeypatch, capsys):
    monkeypatch.setitem(MOVIELENS_ARCHIVES, "ml-100k",
                        local_archive(server, "/good.zip", good_zip))
    assert main(["download", "ml-100k", "--quiet"]) == 0
    folder = tmp_path / "cache" / "metarec" / "ml-100k"
    assert f"ml-100k is in {folder}" in capsys.readouterr().out

    requests = len(server.requests)
    assert main(["download", "ml-100k", "--quiet"]) == 0
    assert len(server.requests) == requests
    loaded = load_dataset("ml-100k")
    assert loaded.fingerprint() == load_movielens_100k(sample_folder).fingerprint()


def test_cli_offline_download_is_a_clear_error(closed_port, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(MOVIELENS_ARCHIVES, "ml-1m", dataclasses.replace(
        MOVIELENS_ARCHIVES["ml-1m"], url=f"http://127.0.0.1:{closed_port}/ml-1m.zip"))
    assert main(["download", "ml-1m", "--dir", str(tmp_path / "ml-1m"), "--timeout",
                 str(SHORT_TIMEOUT_S), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert "Could not download ml-1m" in error
    assert f"'{tmp_path / 'ml-1m'}' contains ratings.dat, movies.dat, users.dat" in error


def test_dashboard_download_button(server, good_zip, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from metarec.cli import MODELS_DIR_ENV

    monkeypatch.setitem(MOVIELENS_ARCHIVES, "ml-100k",
                        local_archive(server, "/good.zip", good_zip))
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "no-models"))
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.sidebar.radio(key="_widget.data.source").set_value("Download MovieLens").run()
    assert not app.exception, [e.value for e in app.exception]
    assert [b.label for b in app.sidebar.button] == ["Download ml-100k"]

    app.sidebar.button[0].click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    summaries = [c.value for c in app.sidebar.caption if c.value.startswith("ml-100k: ")]
    assert summaries, [c.value for c in app.sidebar.caption]
    assert "ratings from 20 users on 50 items" in summaries[0]

    # A new session finds the stored files and offers no download.
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.sidebar.radio(key="_widget.data.source").set_value("Download MovieLens").run()
    assert not app.sidebar.button
    assert any("Stored in" in c.value for c in app.sidebar.caption)


def test_dashboard_shows_download_error(closed_port, tmp_path, monkeypatch):
    monkeypatch.setitem(MOVIELENS_ARCHIVES, "ml-100k", dataclasses.replace(
        MOVIELENS_ARCHIVES["ml-100k"], url=f"http://127.0.0.1:{closed_port}/ml-100k.zip"))
    errors = sidebar_download_errors()
    assert len(errors) == 1, errors
    assert "Could not download ml-100k" in errors[0]
    assert "To install ml-100k by hand" in errors[0]


def sidebar_download_errors() -> list[str]:
    """Press the sidebar's download button on a fresh dashboard; return its errors."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(APP, default_timeout=60).run()
    app.sidebar.radio(key="_widget.data.source").set_value("Download MovieLens").run()
    app.sidebar.button[0].click().run()
    assert not app.exception, [e.value for e in app.exception]
    return [e.value for e in app.sidebar.error]


def test_dashboard_shows_file_in_the_way(server, good_zip, tmp_path, monkeypatch):
    monkeypatch.setitem(MOVIELENS_ARCHIVES, "ml-100k",
                        local_archive(server, "/good.zip", good_zip))
    data_file = tmp_path / "data-file"
    data_file.write_text("notes\n")
    monkeypatch.setenv(DATA_DIR_ENV, str(data_file))
    errors = sidebar_download_errors()
    assert len(errors) == 1, errors
    assert f"because '{data_file}' is a file" in errors[0]


def test_cli_download_from_mirror_url(server, good_zip, tmp_path, monkeypatch, capsys):
    # The published entry keeps its GroupLens address; only the MD5 fits the test zip.
    monkeypatch.setitem(MOVIELENS_ARCHIVES, "ml-100k", dataclasses.replace(
        MOVIELENS_ARCHIVES["ml-100k"], md5=hashlib.md5(good_zip).hexdigest(), size=None))
    folder = tmp_path / "from-mirror"
    assert main(["download", "ml-100k", "--dir", str(folder), "--url",
                 url_of(server, "/good.zip"), "--quiet"]) == 0
    assert f"ml-100k is in {folder}" in capsys.readouterr().out
    assert server.requests[-1] == "/good.zip"


def test_cli_mirror_with_other_file_fails_checksum(server, tmp_path, capsys):
    folder = tmp_path / "from-mirror"
    assert main(["download", "ml-100k", "--dir", str(folder), "--url",
                 url_of(server, "/good.zip"), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert MOVIELENS_ARCHIVES["ml-100k"].md5 in error
    assert leftovers(folder.parent) == []


def test_mirror_failure_names_grouplens_address(server, tmp_path, capsys):
    mirror = url_of(server, "/good.zip")
    assert main(["download", "ml-100k", "--dir", str(tmp_path / "ml-100k"), "--url", mirror,
                 "--quiet"]) == 2
    error = capsys.readouterr().err
    published = MOVIELENS_ARCHIVES["ml-100k"].url
    assert f"To install ml-100k by hand, download {published} (the GroupLens address, " \
           f"not the mirror {mirror}) on a machine with internet access" in error
    assert f"download {mirror} on a machine" not in error


def test_unresolved_host_suggests_offline(tmp_path, monkeypatch):
    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name "
                                                       "resolution"))

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(DownloadError, match="This machine may be offline"):
        download_dataset("ml-100k", tmp_path / "ml-100k", timeout=SHORT_TIMEOUT_S)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("url", ["127.0.0.1:8765/ml-100k.zip", "ftp://127.0.0.1/ml.zip"])
def test_cli_rejects_url_without_http(url, tmp_path, capsys):
    assert main(["download", "ml-100k", "--dir", str(tmp_path / "ml-100k"), "--url", url,
                 "--quiet"]) == 2
    error = capsys.readouterr().err
    assert f"--url '{url}' is not an http:// or https:// address" in error
    assert not (tmp_path / "ml-100k").exists()


@pytest.mark.parametrize("timeout", ["0", "-1"])
def test_cli_rejects_timeout_below_zero(timeout, tmp_path, capsys):
    assert main(["download", "ml-100k", "--dir", str(tmp_path / "ml-100k"), "--timeout",
                 timeout]) == 2
    assert f"--timeout must be above 0 seconds, got {timeout}" in capsys.readouterr().err


def test_cli_interrupt_is_one_line(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("metarec.cli.download_dataset", interrupted)
    assert main(["download", "ml-100k", "--dir", str(tmp_path / "ml-100k"),
                 "--quiet"]) == 130
    error = capsys.readouterr().err
    assert "stopped: download was interrupted" in error
    assert "Traceback" not in error


# Target folders that cannot take the data -------------------------------------------------

def test_file_as_target_rejected_before_download(server, good_zip, tmp_path):
    target = tmp_path / "afile"
    target.write_text("notes\n")
    requests = len(server.requests)
    with pytest.raises(NotADirectoryError, match=f"'{target}' is a file, not a folder; pass "
                                                 f"a folder to unzip into"):
        download_dataset("ml-100k", target,
                         archive=local_archive(server, "/good.zip", good_zip))
    assert len(server.requests) == requests
    assert target.read_text() == "notes\n"
    assert leftovers(tmp_path) == []


def test_file_above_target_rejected_before_download(server, good_zip, tmp_path):
    (tmp_path / "afile").write_text("notes\n")
    target = tmp_path / "afile" / "ml-100k"
    requests = len(server.requests)
    with pytest.raises(NotADirectoryError, match=f"because '{tmp_path / 'afile'}' is a file"):
        download_dataset("ml-100k", target,
                         archive=local_archive(server, "/good.zip", good_zip))
    assert len(server.requests) == requests


def test_cli_file_as_dir_is_one_line(server, good_zip, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(MOVIELENS_ARCHIVES, "ml-100k",
                        local_archive(server, "/good.zip", good_zip))
    target = tmp_path / "afile"
    target.write_text("notes\n")
    assert main(["download", "ml-100k", "--dir", str(target), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: '{target}' is a file, not a folder")
    assert "--dir" in error
    assert "Traceback" not in error


def test_failed_move_names_target_not_temp_folder(server, good_zip, tmp_path, monkeypatch):
    target = tmp_path / "ml-100k"
    real_rename = Path.rename

    def rename_onto_file(self, destination):
        # Another process puts a file where the folder goes, after the checks.
        Path(destination).write_text("in the way\n")
        return real_rename(self, destination)

    monkeypatch.setattr(Path, "rename", rename_onto_file)
    with pytest.raises(DownloadError) as caught:
        download_dataset("ml-100k", target,
                         archive=local_archive(server, "/good.zip", good_zip))
    message = str(caught.value)
    assert f"could not be moved into '{target}'" in message
    assert ".ml-100k-" not in message
    assert leftovers(tmp_path) == []


def test_other_dataset_folder_not_removed(server, good_zip, sample_folder, tmp_path):
    target = tmp_path / "ready"
    shutil.copytree(sample_folder, target)
    archive = dataclasses.replace(local_archive(server, "/good.zip", good_zip),
                                  name="ml-1m", folder="ml-1m",
                                  files=MOVIELENS_ARCHIVES["ml-1m"].files)
    with pytest.raises(FileExistsError) as caught:
        download_dataset("ml-1m", target, archive=archive)
    message = str(caught.value)
    assert message.startswith(f"'{target}' contains the ml-100k dataset, not the ml-1m files "
                              f"ratings.dat, movies.dat, users.dat.")
    assert "Pass an empty or new folder to unzip ml-1m into (--dir)" in message
    assert "remove" not in message
    assert (target / "u.data").is_file()


def test_folder_of_other_files_is_listed(server, good_zip, tmp_path):
    target = tmp_path / "thesis"
    target.mkdir()
    for name in ("a.txt", "b.txt", "c.txt", "d.txt", "e.txt", "f.txt"):
        (target / name).write_text("draft\n")
    with pytest.raises(FileExistsError) as caught:
        download_dataset("ml-100k", target,
                         archive=local_archive(server, "/good.zip", good_zip))
    message = str(caught.value)
    assert "contains other files (a.txt, b.txt, c.txt, d.txt, e.txt and 1 more)" in message
    assert "remove" not in message


def test_partial_copy_may_be_removed(server, good_zip, tmp_path):
    target = tmp_path / "ml-100k"
    target.mkdir()
    (target / "u.data").write_text("1\t1\t5\t0\n")
    with pytest.raises(FileExistsError) as caught:
        download_dataset("ml-100k", target,
                         archive=local_archive(server, "/good.zip", good_zip))
    assert "It contains u.data, so it looks like a partial copy" in str(caught.value)
    assert "remove the folder and download again" in str(caught.value)


def test_timeout_error_names_flag(server, good_zip, tmp_path):
    archive = local_archive(server, "/stalls.zip", good_zip)
    with pytest.raises(DownloadError, match=r"with a longer timeout \(--timeout SECONDS\)"):
        download_dataset("ml-100k", tmp_path / "ml-100k", archive=archive,
                         timeout=SHORT_TIMEOUT_S)


def test_unpacked_folder_follows_umask(server, good_zip, tmp_path):
    old_mask = os.umask(0o022)
    try:
        folder = download_dataset("ml-100k", tmp_path / "ml-100k",
                                  archive=local_archive(server, "/good.zip", good_zip))
    finally:
        os.umask(old_mask)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert stat.S_IMODE((folder / "u.data").stat().st_mode) == 0o644
