"""Loading trained models and adapting them to new users."""

from .recommender import Adaptation, Recommender
from .store import ModelsDirectoryError, load_models, read_manifest, save_models

__all__ = ["Adaptation", "ModelsDirectoryError", "Recommender", "load_models",
           "read_manifest", "save_models"]
