"""Loading ratings data and turning it into model features."""

from .dataset import Dataset
from .movielens import (
    DATA_DIR_ENV,
    DataFormatError,
    default_data_dir,
    load_movielens_100k,
)

__all__ = [
    "DATA_DIR_ENV",
    "DataFormatError",
    "Dataset",
    "default_data_dir",
    "load_movielens_100k",
]
