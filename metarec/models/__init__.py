"""Rating models: classical baselines and the networks of the meta-learned models."""

from .baselines import (
    ALSMatrixFactorization,
    GlobalMean,
    ItemMean,
    PopularityRanker,
    RandomRanker,
    UserBiasBaseline,
)

__all__ = [
    "ALSMatrixFactorization",
    "GlobalMean",
    "ItemMean",
    "PopularityRanker",
    "RandomRanker",
    "UserBiasBaseline",
]
