"""Tests for the synthetic sample catalogue of metarec.data.sample and its committed copy."""

from pathlib import Path

import numpy as np
import pytest

from metarec.data.movielens import ML100K_OCCUPATIONS, load_movielens_100k
from metarec.data.sample import (
    MAX_ITEMS,
    STAR_THRESHOLDS,
    _candidate_titles,
    generate_sample,
    sample_tastes,
)

COMMITTED_SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
SAMPLE_FILES = ("u.data", "u.item", "u.user", "u.genre", "u.occupation", "README.md")
REGENERATE = "python -m metarec generate-sample --out sample_data --seed 0"

# Planted tastes are 0.7 to 1.3 for loved genres and -1.3 to -0.7 for disliked ones.
STRONG_TASTE = 0.5
# Minimum number of ratings on each side before a genre's gap is checked.
MIN_RATINGS_PER_SIDE = 30
# Stars between the mean rating of a genre's movies by users who love it and by users
# who dislike it. Seed 0 gives 0.66 to 2.2 per genre and about 1.1 over all genres.
MIN_GENRE_GAP = 0.4
MIN_POOLED_GAP = 0.8
# Women are 1.8 times as likely as the average user to love Romance. With seed 0, their
# mean Romance taste is 0.16 above that of men.
MIN_ROMANCE_GENDER_GAP = 0.1


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory):
    return generate_sample(tmp_path_factory.mktemp("seed0"), seed=0)


@pytest.fixture(scope="module")
def sample(sample_dir):
    return load_movielens_100k(sample_dir)


def test_same_seed_writes_identical_bytes(sample_dir, tmp_path):
    again = generate_sample(tmp_path / "again", seed=0)
    for name in SAMPLE_FILES:
        assert (again / name).read_bytes() == (sample_dir / name).read_bytes(), name


def test_other_seed_writes_other_data(sample_dir, tmp_path):
    other = generate_sample(tmp_path / "other", seed=1)
    for name in ("u.data", "u.item", "u.user"):
        assert (other / name).read_bytes() != (sample_dir / name).read_bytes(), name


def test_committed_copy_matches_code(sample_dir):
    for name in SAMPLE_FILES:
        committed = COMMITTED_SAMPLE / name
        assert committed.is_file(), f"sample_data/{name} is missing, run {REGENERATE}"
        assert committed.read_bytes() == (sample_dir / name).read_bytes(), (
            f"sample_data/{name} differs from seed 0, run {REGENERATE}"
        )


def test_default_sizes(sample):
    assert len(sample.users) == 500
    assert len(sample.items) == 400
    assert sample.n_ratings >= 25_000
    assert sample.ratings["rating"].between(1, 5).all()
    assert (sample.ratings["rating"] % 1 == 0).all()


def test_every_user_and_item_rated(sample):
    per_user = sample.ratings.groupby("user_id").size()
    per_item = sample.ratings.groupby("item_id").size()
    assert per_user.min() >= 20
    assert per_user.max() <= 120
    assert set(per_user.index) == set(sample.users["user_id"])
    assert set(per_item.index) == set(sample.items["item_id"])


def test_rows_sorted_by_user_then_time(sample):
    ratings = sample.ratings
    assert ratings["user_id"].is_monotonic_increasing
    assert (ratings.groupby("user_id")["timestamp"].diff().dropna() > 0).all()
    # 1997-09-20 and 1998-04-22, 00:00 UTC.
    assert ratings["timestamp"].between(874_713_600, 893_203_200).all()


def test_rating_shares_look_like_movielens(sample):
    shares = sample.ratings["rating"].value_counts(normalize=True)
    assert set(shares.index) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert shares.idxmax() == 4.0
    assert 3.3 <= sample.ratings["rating"].mean() <= 3.7


def test_items_have_known_genres_and_unique_titles(sample):
    items = sample.items
    genre_counts = items["genres"].map(len)
    assert genre_counts.between(1, 3).all()
    assert not items["genres"].map(lambda genres: "unknown" in genres).any()
    assert items["title"].is_unique
    assert items["year"].between(1950, 1997).all()
    title_years = items["title"].str.extract(r"\((\d{4})\)$")[0].astype(float)
    assert (title_years == items["year"]).all()


def test_title_patterns_cover_max_items():
    titles = _candidate_titles()
    assert len(set(titles)) == len(titles)
    assert len(titles) >= MAX_ITEMS


def test_users_have_valid_demographics(sample):
    users = sample.users
    assert set(users["gender"]) == {"M", "F"}
    assert users["occupation"].isin(ML100K_OCCUPATIONS).all()
    assert users["age"].between(7, 73).all()
    assert users["zip_code"].str.fullmatch(r"\d{5}").all()


def test_planted_tastes_show_in_ratings(sample):
    tastes = sample_tastes(seed=0)
    ratings = sample.ratings.merge(sample.items[["item_id", "genres"]], on="item_id")
    pooled_gaps = []
    for genre in tastes.columns:
        of_genre = ratings[ratings["genres"].map(lambda genres: genre in genres)]
        taste = tastes.loc[of_genre["user_id"], genre].to_numpy()
        loved = of_genre["rating"].to_numpy()[taste > STRONG_TASTE]
        disliked = of_genre["rating"].to_numpy()[taste < -STRONG_TASTE]
        if min(len(loved), len(disliked)) < MIN_RATINGS_PER_SIDE:
            continue
        gap = loved.mean() - disliked.mean()
        assert gap >= MIN_GENRE_GAP, f"{genre}: gap {gap:.2f} stars"
        pooled_gaps.append(gap)
    assert len(pooled_gaps) >= 15
    assert np.mean(pooled_gaps) >= MIN_POOLED_GAP


def test_sample_tastes_shape_and_counts():
    tastes = sample_tastes(seed=0)
    assert tastes.shape == (500, 18)
    assert list(tastes.index) == list(range(1, 501))
    assert "unknown" not in tastes.columns
    loved_per_user = (tastes > 0.6).sum(axis=1)
    disliked_per_user = (tastes < -0.6).sum(axis=1)
    assert loved_per_user.between(2, 3).all()
    assert disliked_per_user.between(2, 3).all()


def test_romance_taste_leans_female(sample):
    tastes = sample_tastes(seed=0)
    is_female = sample.users.set_index("user_id")["gender"].eq("F")
    romance = tastes["Romance"]
    gap = romance[is_female].mean() - romance[~is_female].mean()
    assert gap >= MIN_ROMANCE_GENDER_GAP


def test_readme_states_command_and_origin(sample_dir):
    readme = (sample_dir / "README.md").read_text(encoding="utf-8")
    assert REGENERATE in readme
    assert "no MovieLens rows" in readme
    assert ", ".join(f"{cut:g}" for cut in STAR_THRESHOLDS) in readme


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"n_users": 9}, r"n_users must be an integer from 10 to 10000, got 9"),
        ({"n_users": 10_001}, r"n_users must be an integer from 10 to 10000, got 10001"),
        ({"n_users": 50.0}, r"n_users must be an integer from 10 to 10000, got 50\.0"),
        ({"n_items": 49}, r"n_items must be an integer from 50 to 5000, got 49"),
        ({"n_items": True}, r"n_items must be an integer from 50 to 5000, got True"),
        ({"n_users": 10, "n_items": 201}, r"n_items must be at most 20 \* n_users \(200"),
        ({"seed": -1}, r"seed must be a non-negative integer, got -1"),
        ({"seed": "0"}, r"seed must be a non-negative integer, got '0'"),
    ],
)
def test_invalid_arguments_raise(tmp_path, arguments, message):
    out_dir = tmp_path / "out"
    with pytest.raises(ValueError, match=message):
        generate_sample(out_dir, **arguments)
    assert not out_dir.exists()


def test_sample_tastes_validates_arguments():
    with pytest.raises(ValueError, match=r"n_items must be an integer from 50 to 5000"):
        sample_tastes(n_items=10)


def test_foreign_ratings_not_overwritten(tmp_path):
    real = tmp_path / "u.data"
    real.write_text("1\t1\t5\t881250949\n")
    with pytest.raises(FileExistsError, match=r"may be real data"):
        generate_sample(tmp_path, seed=0, n_users=10, n_items=50)
    assert real.read_text() == "1\t1\t5\t881250949\n"


def test_earlier_sample_overwritten(tmp_path):
    generate_sample(tmp_path / "a", seed=1, n_users=10, n_items=50)
    generate_sample(tmp_path / "a", seed=0, n_users=10, n_items=50)
    fresh = generate_sample(tmp_path / "b", seed=0, n_users=10, n_items=50)
    for name in SAMPLE_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (fresh / name).read_bytes(), name
