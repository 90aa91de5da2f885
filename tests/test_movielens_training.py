"""Train and evaluate on the real MovieLens-100K (skipped when the files are absent)."""

import pytest

from metarec.evaluation.evaluate import evaluate_users
from metarec.models.variants import default_variants
from metarec.pipeline import train_models
from metarec.serving.recommender import Recommender

# A short run (3 epochs a variant) is far from converged; these floors only catch a
# pipeline that learns nothing or leaks. The full run's numbers are in RESULTS.md.
EPOCHS = 3
SLACK = 0.01

pytestmark = pytest.mark.movielens


@pytest.fixture(scope="module")
def ml100k_models(ml100k_dataset, tmp_path_factory):
    variants = {name: spec for name, spec in default_variants(EPOCHS).items()
                if name in ("teacher", "student")}
    out = tmp_path_factory.mktemp("ml100k-models")
    train_models(ml100k_dataset, out, seed=0, variants=variants)
    return Recommender.load(out, ml100k_dataset)


def test_short_run_beats_simple_baselines(ml100k_models, ml100k_dataset):
    recommender = ml100k_models
    table = evaluate_users(
        recommender, ml100k_dataset.ratings, recommender.manifest["split"]["test"],
        recommender.encoder.encode_users(ml100k_dataset.users), [5, "all"],
        variants=["student", "teacher", "ensemble", "user-bias", "item-mean", "global-mean"])
    mae = table.set_index(["variant", "shots"])["mae"]
    for shots in ("5", "all"):
        for variant in ("student", "teacher", "ensemble"):
            assert mae[(variant, shots)] < mae[("item-mean", shots)], (variant, shots)
            assert mae[(variant, shots)] < mae[("user-bias", shots)] + SLACK, (variant, shots)
        assert mae[("ensemble", shots)] <= mae[("user-bias", shots)], shots
    assert table["users"].min() > 100


def test_recommends_unrated_movies_for_a_new_user(ml100k_models):
    # Star Wars (50), Empire Strikes Back (172), Return of the Jedi (181) loved;
    # two romances (Sleepless in Seattle 88, Sabrina 274) disliked.
    ratings = {50: 5, 172: 5, 181: 5, 88: 1, 274: 1}
    for variant in ("student", "teacher", "ensemble"):
        top = ml100k_models.adapt(ratings, variant).top_k(10)
        assert len(top) == 10
        assert not set(top["item_id"]) & set(ratings)
        assert top["score"].between(1, 5).all()
