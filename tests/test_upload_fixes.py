"""Dashboard data sources and models folders: uploads kept across pages, reports on typed
CSV paths, models of other data or of the other kind in the configured folder."""

import json
from pathlib import Path

from page_helpers import APP
from streamlit.testing.v1 import AppTest

from metarec.cli import MODELS_DIR_ENV, SAMPLE_DIR
from metarec.serving.item_store import ITEM_MANIFEST
from metarec.serving.store import MANIFEST, other_data_error
from metarec.ui.item_state import ITEM_MODELS_DIR_ENV

RUN_TIMEOUT = 120
HOME, NEW_USER, NEW_ITEM = "pages/0_Home.py", "pages/1_New_user.py", "pages/2_New_item.py"
SOURCE_KEY = "_widget.data.source"
USERS = [f"reader-{n}" for n in range(1, 9)]
ITEMS = [f"book-{letter}" for letter in "abcdef"]


def ratings_csv(shift=0, extra_rows=()) -> bytes:
    """Return a ratings CSV of every invented reader and book, shifted by ``shift``."""
    rows = [f"{user},{item},{(u + i + shift) % 5 + 1}"
            for u, user in enumerate(USERS) for i, item in enumerate(ITEMS)]
    return ("\n".join(["user_id,item_id,rating", *rows, *extra_rows]) + "\n").encode()


ITEMS_CSV = ("item_id,title,genres,year\n" + "".join(
    f"{item},The Invented {item.title()},Drama|Mystery,{1990 + i}\n"
    for i, item in enumerate(ITEMS))).encode()
USERS_CSV = ("user_id,age,gender,occupation,zip_code\n" + "".join(
    f"{user},{20 + u},{'FM'[u % 2]},writer,0{2100 + u}\n"
    for u, user in enumerate(USERS))).encode()


def own_csv_app(page=HOME) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)
    app.switch_page(page)
    app.run()
    app.sidebar.radio(key=SOURCE_KEY).set_value("Your own CSV").run()
    return app


def uploader(app, role):
    return app.sidebar.file_uploader(key=f"data.upload.{role}")


def upload_all(app):
    for role, name, content in (("ratings", "ratings.csv", ratings_csv()),
                                 ("items", "items.csv", ITEMS_CSV),
                                 ("users", "users.csv", USERS_CSV)):
        uploader(app, role).set_value((name, content, "text/csv"))
    return app.run()


def folder_in_use(app) -> Path:
    return Path(app.session_state["data.upload.folder"])


def file_captions(app) -> list[str]:
    return [c.value for c in app.sidebar.caption if c.value.startswith("Using ")]


def fake_manifest(folder: Path, name, dataset: dict, **extra):
    """Write a manifest that records models trained on ``dataset``, without any model."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps({"format_version": 1, "dataset": dataset,
                                           **extra}))


OTHER_DATA = {"name": "other-shop", "ratings": 1234, "fingerprint": "0123456789ab" * 5,
              "source": "/data/other-shop"}


# Uploads across pages -------------------------------------------------------------------

def test_replaced_ratings_keep_earlier_files(env):
    app = upload_all(own_csv_app())
    app.switch_page(NEW_USER).run()
    assert not app.exception, [e.value for e in app.exception]
    assert file_captions(app) == [
        "Using the ratings uploaded earlier ('ratings.csv'), with 'items.csv' as the items "
        "and 'users.csv' as the users. Upload another file to replace one of them."]

    uploader(app, "ratings").set_value(("fixed.csv", ratings_csv(shift=1), "text/csv"))
    app.run()

    assert not app.exception, [e.value for e in app.exception]
    folder = folder_in_use(app)
    assert (folder / "ratings.csv").read_bytes() == ratings_csv(shift=1)
    assert (folder / "items.csv").read_bytes() == ITEMS_CSV
    assert (folder / "users.csv").read_bytes() == USERS_CSV
    assert file_captions(app) == [
        "Using 'fixed.csv' as the ratings. Kept from the earlier upload: 'items.csv' as "
        "the items, 'users.csv' as the users. A file marked as not allowed is never used, "
        "and the × beside its name removes it."]
    # The data loads from the merged files.
    assert any("fixed: 48 ratings from 8 users on 6 items" in c.value
               for c in app.sidebar.caption)


def test_stop_using_drops_earlier_file(env):
    app = upload_all(own_csv_app())
    app.switch_page(NEW_USER).run()
    uploader(app, "ratings").set_value(("fixed.csv", ratings_csv(shift=1), "text/csv"))
    app.run()

    [stop] = [b for b in app.sidebar.button if b.label == "Stop using 'items.csv'"]
    stop.click().run()

    assert not app.exception, [e.value for e in app.exception]
    folder = folder_in_use(app)
    assert not (folder / "items.csv").exists()
    assert (folder / "users.csv").read_bytes() == USERS_CSV
    assert file_captions(app)[0].startswith(
        "Using 'fixed.csv' as the ratings. Kept from the earlier upload: 'users.csv' as "
        "the users.")


def test_removed_items_upload_is_dropped(env):
    app = upload_all(own_csv_app())
    assert (folder_in_use(app) / "items.csv").is_file()

    # The × beside the file empties the box on the same page.
    uploader(app, "items").set_value(None)
    app.run()

    assert not app.exception, [e.value for e in app.exception]
    assert not (folder_in_use(app) / "items.csv").exists()
    assert file_captions(app)[0].startswith(
        "Using 'ratings.csv' as the ratings, 'users.csv' as the users.")


# Typed CSV paths -------------------------------------------------------------------------

def typed_path_app(path) -> AppTest:
    """Run Home with ``path`` typed into the sidebar's folder field."""
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()
    app.sidebar.radio(key=SOURCE_KEY).set_value("MovieLens-100K folder").run()
    app.sidebar.text_input(key="_widget.data.folder").input(str(path)).run()
    return app


def test_typed_csv_path_reports_rows(env):
    path = env / "typed.csv"
    path.write_bytes(ratings_csv(extra_rows=["reader-1,book-z,abc", "reader-2,book-g,11"]))
    app = typed_path_app(path)

    assert not app.exception, [e.value for e in app.exception]
    warnings = [w.value for w in app.sidebar.warning]
    assert f"Left out 1 invalid row of '{path}'." in warnings
    assert any(w.startswith("Rating scale, read from the data: 1 to 11, because 1 of 49 "
                            "ratings lie outside 1 to 5: 11.") for w in warnings), warnings
    assert any(w.endswith("fix or remove them in the file.") for w in warnings)


def test_left_out_fields_are_listed(env):
    folder = env / "typed"
    folder.mkdir()
    (folder / "ratings.csv").write_bytes(ratings_csv())
    (folder / "items.csv").write_bytes(ITEMS_CSV.replace(b",1991", b",nineteen"))
    app = typed_path_app(folder)

    assert not app.exception, [e.value for e in app.exception]
    warnings = [w.value for w in app.sidebar.warning]
    assert f"Kept every row of '{folder}' but left out 1 invalid field or column." in warnings
    listed = [m.value for m in app.sidebar.expander[-1].markdown]
    assert len(listed) == 1, listed
    assert "**items\\.csv**, line 3:" in listed[0]
    assert "nineteen" in listed[0]


# Ratings of other data -------------------------------------------------------------------

def test_other_data_ratings_notice(env):
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)
    app.switch_page(NEW_USER)
    app.session_state["new_user.ratings"] = {str(SAMPLE_DIR): {1: 5.0, 2: 4.0}}
    app.run()
    assert not [i.value for i in app.sidebar.info if "are kept" in i.value]

    app.sidebar.radio(key=SOURCE_KEY).set_value("Your own CSV").run()
    uploader(app, "ratings").set_value(("shop.csv", ratings_csv(), "text/csv"))
    app.run()

    assert not app.exception, [e.value for e in app.exception]
    notices = [i.value for i in app.sidebar.info if "are kept" in i.value]
    assert notices == ["Ratings you entered for other data are kept: 2 ratings on New user "
                       f"for '{SAMPLE_DIR.name}'. They come back when you choose that data "
                       "again."]


# Models folders -------------------------------------------------------------------------

def test_other_data_models_get_subfolder(env, monkeypatch, sample_dataset):
    from metarec.ui.item_state import item_models_dir_for
    from metarec.ui.state import OTHER_DATA_SUBDIR, models_dir_for

    shared = env / "shared-models"
    monkeypatch.setenv(MODELS_DIR_ENV, str(shared))
    monkeypatch.setenv(ITEM_MODELS_DIR_ENV, str(env / "shared-items"))
    assert models_dir_for(sample_dataset) == shared
    assert item_models_dir_for(sample_dataset) == env / "shared-items"

    fake_manifest(shared, MANIFEST, OTHER_DATA)
    fake_manifest(env / "shared-items", ITEM_MANIFEST, OTHER_DATA)
    subfolder = f"{sample_dataset.name}-{sample_dataset.fingerprint()[:12]}"
    assert models_dir_for(sample_dataset) == shared / OTHER_DATA_SUBDIR / subfolder
    assert item_models_dir_for(sample_dataset) == (
        env / "shared-items" / OTHER_DATA_SUBDIR / subfolder)

    # Models of this data in the folder itself are used from there.
    fake_manifest(shared, MANIFEST, {**OTHER_DATA,
                                     "fingerprint": sample_dataset.fingerprint()})
    assert models_dir_for(sample_dataset) == shared


def test_home_trains_beside_other_data(env, monkeypatch):
    from metarec.ui.state import OTHER_DATA_SUBDIR

    shared = env / "shared-models"
    monkeypatch.setenv(MODELS_DIR_ENV, str(shared))
    fake_manifest(shared, MANIFEST, OTHER_DATA)
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()

    assert not app.exception, [e.value for e in app.exception]
    [info] = [i.value for i in app.info if i.value.startswith("No trained models")]
    assert f"'{shared / OTHER_DATA_SUBDIR}" in info
    assert (f"'{shared}' contains models trained on 'other-shop' (1,234 ratings, "
            "fingerprint 0123456789ab), other data") in info
    assert MODELS_DIR_ENV in info
    # The subfolder has no models yet, so the caption names where they go.
    [caption] = [c.value for c in app.caption if "Models are written to" in c.value]
    assert f"'{shared / OTHER_DATA_SUBDIR}" in caption
    assert not [c.value for c in app.caption if "are replaced" in c.value]
    assert [b.label for b in app.button] == ["Train models"]


def test_missing_models_message_names_variable(env):
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()

    assert not app.exception, [e.value for e in app.exception]
    [info] = [i.value for i in app.info if i.value.startswith("No trained models")]
    assert info == (f"No trained models for 'sample_data' in '{env / 'no-models'}' yet. "
                    f"Train them below. The dashboard reads models from {MODELS_DIR_ENV} "
                    f"('{env / 'no-models'}'). To use models trained elsewhere, set it to "
                    "their folder and restart the dashboard.")


def test_other_data_advice_fits_dashboard(sample_dataset):
    from metarec.ui.state import dashboard_advice

    error = other_data_error("models", "/m", OTHER_DATA, sample_dataset)
    advice = dashboard_advice(error, "models", MODELS_DIR_ENV)

    assert "pick its models folder" not in advice
    assert advice.endswith(f"Train models for this data, or set {MODELS_DIR_ENV} to the "
                           "folder of models trained on it and restart the dashboard.")


def test_home_reports_item_models_folder(env, monkeypatch, sample_dataset):
    item_models = env / "item-models"
    fake_manifest(item_models, ITEM_MANIFEST, OTHER_DATA,
                  scenario={"scenario": "new-item", "users": {}, "new_items": [],
                            "cut_year": None})
    monkeypatch.setenv(MODELS_DIR_ENV, str(item_models))
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT).run()

    assert not app.exception, [e.value for e in app.exception]
    assert not [i.value for i in app.info if "No trained models" in i.value]
    [error] = [e.value for e in app.error]
    assert error.startswith(f"The models in '{item_models}', set by {MODELS_DIR_ENV}, were "
                            "trained for scenario 'new-item': they are item models")
    assert f"{ITEM_MODELS_DIR_ENV} to '{item_models}'" in error
    # Training here would put user models beside the item models.
    assert not app.button


def test_new_item_reports_user_models_folder(env, monkeypatch, sample_dataset):
    user_models = env / "user-models"
    fake_manifest(user_models, MANIFEST, OTHER_DATA)
    monkeypatch.setenv(ITEM_MODELS_DIR_ENV, str(user_models))
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)
    app.switch_page(NEW_ITEM)
    app.run()

    assert not app.exception, [e.value for e in app.exception]
    [info] = [i.value for i in app.info if i.value.startswith("No item models")]
    assert info.startswith(
        f"No item models for 'sample_data' in '{user_models / 'items'}' yet. "
        f"'{user_models}', set by {ITEM_MODELS_DIR_ENV}, contains models trained for "
        "scenario 'new-user': user models, not item models.")
    assert "Train item models" in [b.label for b in app.button]


def test_zip_field_only_with_zip_codes(env):
    app = own_csv_app()
    uploader(app, "ratings").set_value(("ratings.csv", ratings_csv(), "text/csv"))
    app.run()
    app.switch_page(NEW_USER).run()
    assert not app.exception, [e.value for e in app.exception]
    assert "Zip code" not in [field.label for field in app.text_input]

    uploader(app, "users").set_value(("users.csv", USERS_CSV, "text/csv"))
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert "Zip code" in [field.label for field in app.text_input]
