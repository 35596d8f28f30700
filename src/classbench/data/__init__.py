"""Datasets: preparation from a registry entry, the on-disk contract, and verification."""

from classbench.data.manifest import (
    DatasetError,
    DatasetFiles,
    load_classes,
    load_manifest,
    stratified_limit,
)
from classbench.data.prepare import prepare_dataset

__all__ = [
    "DatasetError",
    "DatasetFiles",
    "load_classes",
    "load_manifest",
    "prepare_dataset",
    "stratified_limit",
]
