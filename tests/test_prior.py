import numpy as np
import pytest

from metarec.data.features import FeatureEncoder
from metarec.models.baselines import ALSMatrixFactorization, UserBiasBaseline
from metarec.models.prior import N_CONTEXT, ItemPrior


@pytest.fixture(scope="module")
def fitted(sample_dataset):
    ratings = sample_dataset.ratings
    encoder = FeatureEncoder.from_dataset(sample_dataset)
    mf = ALSMatrixFactorization(n_factors=4, n_iterations=3, random_state=0).fit(ratings)
    prior = ItemPrior.from_baseline(UserBiasBaseline().fit(ratings), encoder)
    return encoder, mf, prior, prior.with_factors(mf, encoder)


def test_context_without_factors_is_bias_and_size(fitted):
    encoder, _, prior, _ = fitted
    rows = encoder.item_rows(encoder.item_ids[:3])
    context = prior.context(rows, [5, 4, 1])
    assert prior.n_context == N_CONTEXT
    assert context.shape == (N_CONTEXT,)
    assert context[-1] == pytest.approx(np.log1p(3))


def test_folded_factors_match_the_baseline(fitted):
    encoder, mf, plain, prior = fitted
    items = encoder.item_ids[:5]
    ratings = [5, 4, 1, 3, 2]
    context = prior.context(encoder.item_rows(items), ratings)
    _, expected = mf.fold_in(items, ratings)
    assert prior.n_context == N_CONTEXT + 4
    np.testing.assert_allclose(context[:4], expected, rtol=1e-5, atol=1e-6)
    # The bias and size stay last, where the networks read the bias.
    np.testing.assert_allclose(context[-N_CONTEXT:],
                               plain.context(encoder.item_rows(items), ratings), rtol=1e-6)


def test_empty_and_like_supports_give_zero_factors(fitted):
    encoder, _, _, prior = fitted
    rows = encoder.item_rows(encoder.item_ids[:2])
    np.testing.assert_array_equal(prior.context([], [])[:4], np.zeros(4))
    np.testing.assert_array_equal(prior.context(rows, [1, 0], target="like")[:4], np.zeros(4))


def test_factors_survive_a_round_trip(fitted):
    encoder, _, _, prior = fitted
    again = ItemPrior.from_dict(prior.to_dict())
    rows = encoder.item_rows(encoder.item_ids[:4])
    assert again.n_context == prior.n_context
    np.testing.assert_allclose(again.context(rows, [4, 4, 2, 5]),
                               prior.context(rows, [4, 4, 2, 5]))


def test_state_without_factors_loads(fitted):
    _, _, plain, _ = fitted
    state = plain.to_dict()
    assert "fold_in" not in state
    assert ItemPrior.from_dict(state).fold_in is None
