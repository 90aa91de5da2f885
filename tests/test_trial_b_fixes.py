"""The data source that METAREC_DATA_DIR selects, the sidebar note on an upload that
fails to load, and malformed results files on the Model comparison page."""

from pathlib import Path

import pytest
from page_helpers import APP
from streamlit.testing.v1 import AppTest
from test_ml1m import ML1M_DIR, write_1m_layout

from metarec.cli import SAMPLE_DIR
from metarec.data import DATA_DIR_ENV
from metarec.ui.results import ResultsError, read_results

RUN_TIMEOUT = 120
HOME, NEW_USER = "pages/0_Home.py", "pages/1_New_user.py"
COMPARISON = "pages/4_Model_comparison.py"
SOURCE_KEY = "_widget.data.source"
FOLDER_KEYS = {"MovieLens-100K folder": "_widget.data.folder",
               "MovieLens-1M folder": "_widget.data.ml1m_folder"}
# A ratings CSV whose header names none of the columns user_id, item_id and rating.
WRONG_COLUMNS = b"user,movie,stars\nreader-1,book-a,4\nreader-2,book-b,5\n"
# An items CSV whose header lacks item_id.
INVALID_ITEMS = b"id,name\nbook-a,A book\n"
GOOD_RATINGS = ("user_id,item_id,rating\n" + "".join(
    f"reader-{user},book-{item},{(user + position) % 5 + 1}\n"
    for user in range(1, 7) for position, item in enumerate("abcde"))).encode()
ITEMS_CSV = b"item_id,title\n" + b"".join(
    f"book-{item},The Invented Book {item.upper()}\n".encode() for item in "abcde")
# A results file of two variants, as 'python -m metarec evaluate --out OUT' writes OUT.csv.
RESULTS_CSV = (b"split_seed,variant,shots,users,mae,ndcg@3\n"
               b"0,teacher,1,15,0.81,0.62\n0,user-bias,1,15,0.93,0.55\n"
               b"0,teacher,5,15,0.76,0.66\n0,user-bias,5,15,0.90,0.57\n")
# One line with an unterminated quote, which the pandas CSV parser rejects.
UNTERMINATED_QUOTE = b'"abc\n'


def open_app(page=HOME) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)
    app.switch_page(page)
    return app.run()


def choose_source(app, source):
    return app.sidebar.radio(key=SOURCE_KEY).set_value(source).run()


def sidebar_captions(app) -> list[str]:
    return [caption.value for caption in app.sidebar.caption]


# METAREC_DATA_DIR ------------------------------------------------------------------------

def csv_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "ratings.csv").write_bytes(GOOD_RATINGS)
    return folder


@pytest.mark.parametrize("layout, source", [
    ("ml-1m", "MovieLens-1M folder"),
    ("ml-100k", "MovieLens-100K folder"),
    ("csv", "MovieLens-100K folder"),
])
def test_env_folder_selects_its_layout(env, sample_dataset, monkeypatch, layout, source):
    folders = {"ml-1m": lambda: write_1m_layout(sample_dataset, env / "data" / "ml-1m"),
               "ml-100k": lambda: SAMPLE_DIR,
               "csv": lambda: csv_folder(env / "data" / "own")}
    folder = folders[layout]()
    monkeypatch.setenv(DATA_DIR_ENV, str(folder))
    app = open_app()

    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert app.sidebar.radio(key=SOURCE_KEY).value == source
    assert app.sidebar.text_input(key=FOLDER_KEYS[source]).value == str(folder)
    assert any(" ratings from " in caption for caption in sidebar_captions(app))

    # The other folder option starts empty, and coming back keeps the path.
    [other] = [option for option in FOLDER_KEYS if option != source]
    choose_source(app, other)
    assert app.sidebar.text_input(key=FOLDER_KEYS[other]).value == ""
    choose_source(app, source)
    assert app.sidebar.text_input(key=FOLDER_KEYS[source]).value == str(folder)


@pytest.mark.movielens
def test_env_real_ml1m_prefix_selected(env, monkeypatch):
    if not (ML1M_DIR / "ratings.dat").is_file():
        pytest.skip(f"MovieLens-1M not found at {ML1M_DIR}; set METAREC_ML1M_DIR")
    monkeypatch.setenv(DATA_DIR_ENV, str(ML1M_DIR))
    app = open_app()

    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert app.sidebar.radio(key=SOURCE_KEY).value == "MovieLens-1M folder"
    assert app.sidebar.text_input(key=FOLDER_KEYS["MovieLens-1M folder"]).value == str(
        ML1M_DIR)
    assert any("487,650 ratings from 2,999 users" in caption
               for caption in sidebar_captions(app))


# An upload that fails to load ------------------------------------------------------------

def upload(app, role, name, content):
    box = app.sidebar.file_uploader(key=f"data.upload.{role}")
    box.set_value((name, content, "text/csv"))
    return app.run()


def test_invalid_upload_not_claimed_used(env):
    app = choose_source(open_app(), "Your own CSV")
    app = upload(app, "items", "items.csv", ITEMS_CSV)
    app = upload(app, "ratings", "own_wrongcols.csv", WRONG_COLUMNS)

    assert not app.exception, [e.value for e in app.exception]
    errors = [e.value for e in app.main.error]
    assert len(errors) == 1, errors
    assert errors[0].startswith("Could not load the ratings data. 'own_wrongcols.csv' is "
                                "invalid at line 1"), errors
    captions = sidebar_captions(app)
    assert not any(caption.startswith("Using ") for caption in captions), captions
    assert ("Could not use 'own_wrongcols.csv' as the ratings. The error on the page "
            "explains why. Upload a fixed file in its place. Kept for use with the fixed "
            "file: 'items.csv' as the items."
            in captions), captions

    # The uploaded files stay in the boxes and in the saved upload.
    assert app.sidebar.file_uploader(key="data.upload.ratings").value.name == (
        "own_wrongcols.csv")
    folder = Path(app.session_state["data.upload.folder"])
    assert (folder / "ratings.csv").read_bytes() == WRONG_COLUMNS
    assert (folder / "items.csv").read_bytes() == ITEMS_CSV


def upload_invalid_items(app):
    app = upload(app, "ratings", "ratings.csv", GOOD_RATINGS)
    return upload(app, "items", "items_wrongcols.csv", INVALID_ITEMS)


def test_invalid_items_upload_named(env):
    app = upload_invalid_items(choose_source(open_app(), "Your own CSV"))

    assert not app.exception, [e.value for e in app.exception]
    errors = [e.value for e in app.main.error]
    assert len(errors) == 1, errors
    assert "'items_wrongcols.csv' is invalid at line 1" in errors[0], errors
    captions = sidebar_captions(app)
    assert not any(caption.startswith("Using ") for caption in captions), captions
    assert ("Could not use 'items_wrongcols.csv' as the items. The error on the page "
            "explains why. Upload a fixed file in its place, or remove it with the × "
            "beside its name. Kept for use with the fixed file: 'ratings.csv' as the "
            "ratings." in captions), captions

    # The × leaves out the invalid items file, and the ratings load alone.
    app.sidebar.file_uploader(key="data.upload.items").set_value(None).run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert "Using 'ratings.csv' as the ratings." in " ".join(sidebar_captions(app))


def test_invalid_items_after_page_switch(env):
    app = upload_invalid_items(choose_source(open_app(), "Your own CSV"))
    app.switch_page(NEW_USER).run()

    assert not app.exception, [e.value for e in app.exception]
    captions = sidebar_captions(app)
    assert ("Could not use the items uploaded earlier ('items_wrongcols.csv'). The error "
            "on the page explains why. Upload a fixed file to replace it, or leave it out "
            "with the button below. Kept for use with the fixed file: 'ratings.csv' as "
            "the ratings." in captions), captions

    [stop] = [b for b in app.sidebar.button if b.label == "Stop using 'items_wrongcols.csv'"]
    stop.click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert any(caption.startswith("Using the ratings uploaded earlier ('ratings.csv').")
               for caption in sidebar_captions(app)), sidebar_captions(app)


def test_invalid_upload_after_page_switch(env):
    app = choose_source(open_app(), "Your own CSV")
    app = upload(app, "items", "items.csv", ITEMS_CSV)
    app = upload(app, "ratings", "own_wrongcols.csv", WRONG_COLUMNS)
    app.switch_page(NEW_USER).run()

    assert not app.exception, [e.value for e in app.exception]
    captions = sidebar_captions(app)
    assert not any(caption.startswith("Using ") for caption in captions), captions
    assert ("Could not use the ratings uploaded earlier ('own_wrongcols.csv'). The error "
            "on the page explains why. Upload a fixed file to replace it. Kept for use "
            "with the fixed file: 'items.csv' as the items." in captions), captions

    # A fixed ratings file loads with the items file kept from before.
    app = upload(app, "ratings", "fixed.csv", GOOD_RATINGS)
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert any(caption.startswith("Using 'fixed.csv' as the ratings. Kept from the earlier "
                                  "upload: 'items.csv' as the items.")
               for caption in sidebar_captions(app)), sidebar_captions(app)


# Malformed results files -----------------------------------------------------------------

def test_unterminated_quote_message():
    with pytest.raises(ResultsError) as raised:
        read_results(UNTERMINATED_QUOTE, "bad.csv")
    message = str(raised.value)
    assert message.startswith("'bad.csv' cannot be read as CSV, so it is not a results "
                              "file that 'python -m metarec evaluate --out OUT' wrote "
                              "(OUT.csv or OUT.json)"), message
    assert message.endswith("Parser detail: EOF inside string starting at row 0."), message
    assert "Error tokenizing data" not in message


def load_results(app, name, content):
    app.file_uploader(key="comparison.file").set_value((name, content, "text/csv"))
    return app.run()


def test_malformed_results_keep_earlier(env):
    app = load_results(open_app(COMPARISON), "good.csv", RESULTS_CSV)
    assert not app.error, [e.value for e in app.error]
    assert app.table[0].value.index.tolist() == ["teacher", "user-bias"]

    app = load_results(app, "bad.csv", UNTERMINATED_QUOTE)
    assert not app.exception, [e.value for e in app.exception]
    errors = [e.value for e in app.error]
    assert len(errors) == 1, errors
    assert errors[0].startswith("'bad.csv' cannot be read as CSV"), errors
    assert "Error tokenizing data" not in errors[0]
    captions = [caption.value for caption in app.caption]
    assert ("Still showing 'good.csv', loaded earlier in this session. Load a valid file "
            "to replace it." in captions), captions
    assert app.table[0].value.index.tolist() == ["teacher", "user-bias"]

    # Removing the invalid file keeps the results, but removing a loaded one drops them.
    app.file_uploader(key="comparison.file").set_value(None).run()
    assert not app.error, [e.value for e in app.error]
    assert any(caption.value.startswith("Showing 'good.csv', loaded earlier")
               for caption in app.caption)
    assert app.table
    app = load_results(app, "good.csv", RESULTS_CSV)
    app.file_uploader(key="comparison.file").set_value(None).run()
    assert not app.table
    assert any(info.value.startswith("Load the JSON or CSV") for info in app.info)
