"""Metrics for rating prediction and ranking, computed one user at a time."""

from .metrics import (
    auc,
    catalogue_ndcg_at_k,
    mae,
    mean_confidence_interval,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    rmse,
)

__all__ = [
    "auc",
    "catalogue_ndcg_at_k",
    "mae",
    "mean_confidence_interval",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
    "rmse",
]
