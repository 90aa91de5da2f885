"""Loading ratings data and turning it into model features."""

from .csv_rows import CsvRejectedError, RejectedRow
from .custom import CsvImport, load_csv_dataset, read_csv_dataset
from .dataset import Dataset, like_threshold
from .download import MOVIELENS_ARCHIVES, DownloadError, dataset_dir, download_dataset
from .ml1m import load_movielens_1m
from .movielens import (
    DATA_DIR_ENV,
    DataFormatError,
    default_data_dir,
    load_movielens_100k,
)
from .registry import DATASET_NAMES, SAMPLE_DIR, DataPathError, load_dataset, resolve_data

__all__ = [
    "DATASET_NAMES",
    "DATA_DIR_ENV",
    "MOVIELENS_ARCHIVES",
    "SAMPLE_DIR",
    "CsvImport",
    "CsvRejectedError",
    "DataFormatError",
    "DataPathError",
    "Dataset",
    "DownloadError",
    "RejectedRow",
    "dataset_dir",
    "default_data_dir",
    "download_dataset",
    "like_threshold",
    "load_csv_dataset",
    "load_dataset",
    "load_movielens_100k",
    "load_movielens_1m",
    "read_csv_dataset",
    "resolve_data",
]
