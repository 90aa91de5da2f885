"""Ages given as band codes (MovieLens-1M) show and filter as bands, not years."""

from dataclasses import replace

import numpy as np
import pytest

from metarec.data import load_movielens_1m
from metarec.data.features import age_range, age_text
from metarec.tasks.episodes import Task
from metarec.ui.item_audience import audience_ratings
from metarec.ui.item_controls import user_label
from metarec.ui.session import session_users

ML1M_FILES = {
    "ratings.dat": "1::1::4::100\n2::1::3::101\n",
    "movies.dat": "1::Film One (1990)::Drama\n",
    "users.dat": "1::F::1::10::12345\n2::M::18::4::54321\n",
}


@pytest.mark.parametrize("age, bands, text", [(23.0, False, "23"), (23.5, False, "23.5"),
                                              (1, True, "under 18"), (18, True, "18-24"),
                                              (56, True, "56+"), (None, False, None),
                                              (float("nan"), True, None)])
def test_age_text_cases(age, bands, text):
    assert age_text(age, bands) == text


def test_age_range_of_code_is_its_band():
    assert age_range(18, bands=True) == (18.0, 24.0)
    assert age_range(18) == (18.0, 18.0)


@pytest.fixture
def coded(tmp_path):
    for name, text in ML1M_FILES.items():
        (tmp_path / name).write_text(text, encoding="latin-1")
    return load_movielens_1m(tmp_path)


def test_ml1m_ages_are_bands(coded):
    assert coded.age_bands


def test_user_label_names_the_band(coded):
    users = coded.users.set_index("user_id")

    assert user_label(users, 1, coded.age_bands) == "user 1 · under 18 F K-12 student"
    assert user_label(users, 2, coded.age_bands) == "user 2 · 18-24 M college/grad student"


def test_session_label_names_the_band(coded):
    task = Task(user_id=2, support_items=np.array([1]), support_ratings=np.array([3.0]),
                query_items=np.array([], dtype=np.int64), query_ratings=np.array([]))
    label = session_users({2: task}, coded)["label"].iloc[0]

    assert label.endswith("· M, 18-24, college/grad student · not scored by evaluate "
                          "(under 13 ratings)")


def test_teenage_audience_leaves_out_18_to_24(sample_dataset):
    # The sample's ages as MovieLens-1M codes: the lowest age of each band.
    codes = np.array([1, 18, 25, 35, 45, 50, 56])
    ages = sample_dataset.users["age"].to_numpy()
    as_codes = codes[np.searchsorted(codes, ages, side="right") - 1]
    dataset = replace(sample_dataset, users=sample_dataset.users.assign(age=as_codes),
                      age_bands=True)
    chosen = audience_ratings(dataset, "Teenage sci-fi fans loved it", n_users=20)
    ages = dataset.users.set_index("user_id").loc[list(chosen), "age"]

    assert set(ages) == {1}


def test_audience_described_by_bands():
    from metarec.ui.item_audience import PRESETS

    teenage = PRESETS["Teenage sci-fi fans loved it"]
    older = PRESETS["Older drama lovers loved it"]

    assert teenage.describe(age_bands=True).startswith("The users in the age band under 18 ")
    assert older.describe(age_bands=True).startswith(
        "The users in the age bands 45-49, 50-55, 56+ ")
    assert teenage.describe().startswith("The users aged 19 or under ")
