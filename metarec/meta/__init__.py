"""Meta-learning: the inner loop, the outer training loop and the ensemble."""

from .ensemble import SupportSizeEnsemble
from .learner import ALGORITHMS, MetaLearner
from .training import TrainConfig, TrainingError, meta_train

__all__ = ["ALGORITHMS", "MetaLearner", "SupportSizeEnsemble", "TrainConfig",
           "TrainingError", "meta_train"]
