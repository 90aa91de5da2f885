"""Errors and results of the library API for inputs a first-time caller gets wrong.

Loading the other kind of models, training into a folder of the other kind, bad epoch
counts, a single id where a list is expected, and arguments of the wrong type.
"""

import shutil

import numpy as np
import pytest

from metarec.serving import ModelsDirectoryError, Recommender
from metarec.serving.items import ItemRecommender

NEW_ITEM = {"title": "Orbit School (2025)", "genres": ["Sci-Fi"], "year": 2025}


@pytest.fixture(scope="module")
def item_result(item_recommender):
    return item_recommender.adapt_item("teacher", {1: 5}, **NEW_ITEM)


# Loading the other kind of models ---------------------------------------------------------

def test_user_loader_names_item_models(tiny_item_models):
    with pytest.raises(ModelsDirectoryError, match=r"contains item models \(item_manifest.json\)"
                                                   r".*Load item models with "
                                                   r"ItemRecommender.load"):
        Recommender.load(tiny_item_models)


def test_item_loader_names_user_models(tiny_models):
    with pytest.raises(ModelsDirectoryError, match=r"contains user models \(manifest.json\).*"
                                                   r"Load user models with Recommender.load"):
        ItemRecommender.load(tiny_models)


def test_item_loader_on_missing_folder(tmp_path):
    with pytest.raises(ModelsDirectoryError, match="'python -m metarec train --scenario "
                                                   "new-item --data DATA_DIR --out "):
        ItemRecommender.load(tmp_path / "nothing")


def test_user_loader_names_seed_folders(tiny_models, tmp_path):
    # train --seeds writes one folder per seed, and loading their parent reported only that
    # manifest.json was missing.
    for seed in (0, 2, 10):
        shutil.copytree(tiny_models, tmp_path / f"seed-{seed}")
    expected = (r"contains one models folder per seed \(seed-0, seed-2, seed-10\) "
                r"and no manifest.json of its own; load one of them, such as "
                r"Recommender.load\('.*seed-0'\)")
    with pytest.raises(ModelsDirectoryError, match=expected):
        Recommender.load(tmp_path)


# Training into a folder of the other kind -------------------------------------------------

def test_item_training_in_user_models_folder(sample_dataset, tiny_models, tmp_path):
    from metarec.item_pipeline import train_item_models

    shutil.copy(tiny_models / "manifest.json", tmp_path)
    with pytest.raises(ValueError, match=rf"'{tmp_path}' contains user models \(manifest.json\)"
                                         rf".*another folder, such as '{tmp_path}/items'"):
        train_item_models(sample_dataset, tmp_path, epochs=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


@pytest.mark.parametrize("scenario", ["new-user", "new-user-new-item"])
def test_user_training_in_item_models_folder(sample_dataset, tiny_item_models,
                                                     tmp_path, scenario):
    from metarec.pipeline import train_models

    shutil.copy(tiny_item_models / "item_manifest.json", tmp_path)
    with pytest.raises(ValueError, match=rf"'{tmp_path}' contains item models "
                                         rf"\(item_manifest.json\).*another folder"):
        train_models(sample_dataset, tmp_path, epochs=1, scenario=scenario)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["item_manifest.json"]


def test_folder_of_both_kinds_may_be_retrained(tiny_models, tiny_item_models, tmp_path):
    from metarec.serving.store import check_models_kind

    shutil.copy(tiny_models / "manifest.json", tmp_path)
    shutil.copy(tiny_item_models / "item_manifest.json", tmp_path)

    check_models_kind(tmp_path, "models")
    check_models_kind(tmp_path, "item models")


# Epochs -----------------------------------------------------------------------------------

@pytest.mark.parametrize("epochs, message", [
    (0, "epochs must be at least 1, got 0"),
    (-2, "epochs must be at least 1, got -2"),
    (2.5, "epochs must be a whole number such as 10, got 2.5"),
    ("3", "epochs must be a whole number such as 10, got '3'"),
    (True, "epochs must be a whole number such as 10, got True"),
])
@pytest.mark.parametrize("kind", ["user", "item"])
def test_invalid_epochs(sample_dataset, tmp_path, epochs,
                                                   message, kind):
    from metarec.item_pipeline import train_item_models
    from metarec.pipeline import train_models

    train = train_models if kind == "user" else train_item_models
    with pytest.raises(ValueError, match=message):
        train(sample_dataset, tmp_path / "out", epochs=epochs)
    assert not (tmp_path / "out").exists()


# Wrong types and single ids -----------------------------------------------------------------

@pytest.mark.parametrize("user", ["196", 196, [("age", 31)]])
def test_user_that_is_not_a_dict(recommender, user):
    with pytest.raises(TypeError, match=r"user must be a dict of demographic fields \(age, "
                                        r"gender, occupation, zip_code\) or None, got "):
        recommender.adapt({50: 5}, variant="student", user=user)


@pytest.mark.parametrize("variant", ["student", "user-bias", "ensemble"])
@pytest.mark.parametrize("single", [1, np.int64(1), "1"])
def test_user_result_predicts_single_id(recommender, variant, single):
    adapted = recommender.adapt({50: 5}, variant)

    scores = adapted.predict(single)

    assert scores.shape == (1,)
    assert np.array_equal(scores, adapted.predict([1]))


@pytest.mark.parametrize("single", [1, np.int64(1)])
def test_item_result_predicts_single_id(item_result, single):
    scores = item_result.predict(single)

    assert scores.shape == (1,)
    assert np.array_equal(scores, item_result.predict([1]))


def test_single_original_id_is_one_id(sample_dataset):
    # Iterating "12" would look up items 1 and 2.
    assert sample_dataset.item_ids_for("12") == [12]
    assert sample_dataset.item_ids_for(12) == [12]
    assert sample_dataset.user_ids_for("12") == [12]
    assert sample_dataset.user_ids_for(np.int64(12)) == [12]


def test_original_ids_from_generator(sample_dataset):
    with pytest.raises(ValueError, match=r"\['99999'\] is not an id of the dataset's items"):
        sample_dataset.item_ids_for(str(i) for i in (12, 99999))


def test_original_ids_of_wrong_type(sample_dataset):
    with pytest.raises(TypeError, match="original ids must be a list of user ids, such as "
                                        r"\['user-1', 'user-2'\], or a single id, got "
                                        "NoneType None"):
        sample_dataset.user_ids_for(None)


@pytest.mark.parametrize("age", ["x", "31", [31]])
def test_new_user_age_that_is_not_a_number(item_result, age):
    with pytest.raises(ValueError, match=rf"age must be a number of years, got "
                                         rf"{age!r}".replace("[", r"\[").replace("]", r"\]")):
        item_result.predict_new_user(age=age)


def test_new_user_age_outside_range(item_result):
    with pytest.raises(ValueError, match="age must be between 1 and 120, got 130"):
        item_result.predict_new_user(age=130)


def test_item_side_text_user_ids(item_recommender, item_result):
    with pytest.raises(ValueError, match=r"user ids must be whole numbers, got \['uc002'\]\. "
                                         r"For ids from a CSV file of your own, map them "
                                         r"with dataset.user_ids_for\(\[...\]\)"):
        item_recommender.adapt_item("teacher", {"uc002": 10}, title="X")
    with pytest.raises(ValueError, match=r"got \['uc002'\]\..*dataset.user_ids_for"):
        item_result.predict(["uc002"])


def test_item_side_truth_value_user_id(item_result):
    with pytest.raises(ValueError, match="user ids must be whole numbers, got True$"):
        item_result.predict([True])


def test_score_label_of_unknown_variant(recommender):
    with pytest.raises(ValueError, match=r"unknown variant 'bogus'; choose one of \["
                                         r"'teacher', 'student'"):
        recommender.score_label("bogus")


def test_predictions_are_float64(recommender, item_recommender):
    for variant in recommender.variants:
        assert recommender.adapt({50: 5}, variant).predict([1, 2]).dtype == np.float64, variant
    for variant in item_recommender.variants:
        adapted = item_recommender.adapt_item(variant, {1: 5}, **NEW_ITEM)
        assert adapted.predict([1, 2]).dtype == np.float64, variant


def test_huge_whole_number_ids(recommender, item_result):
    # 1e30 is a whole number, but no int64 id: NumPy raised OverflowError.
    with pytest.raises(ValueError, match=r"user ids must be below 2\*\*63, got \[1e\+30\]"):
        item_result.predict([1e30])
    result = recommender.adapt({}, variant="student")
    with pytest.raises(ValueError, match=r"item ids \[1e\+30\] are not in the catalogue"):
        result.predict([1e30])


def test_bytes_and_whole_float_ids(sample_dataset):
    # b"12" was looked up as the text "b'12'", and 12.0 as "12.0".
    assert sample_dataset.item_ids_for(b"12") == [12]
    assert sample_dataset.item_ids_for([12.0, np.float64(7)]) == [12, 7]
    with pytest.raises(ValueError, match=r"\[12\.5\] is not an id"):
        sample_dataset.item_ids_for(12.5)
