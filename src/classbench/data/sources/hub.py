"""Source kind ``hub``: a dataset loaded with ``datasets.load_dataset``.

Spec keys (``source:``): ``repo`` (a hub dataset id, a local directory, or a packaged builder such
as ``parquet``/``imagefolder``/``webdataset`` together with ``data_files``), ``revision`` (pin a
commit), ``config``, ``split``, ``data_files``, ``image_column`` (default: the first of image, img,
jpg, jpeg, webp, png), ``label_column`` (default: label, then cls), ``filename_column`` (stable
sample ids; default ``__key__`` for webdatasets, else the row number), ``classnames_file`` (a file
in the repo, e.g. clip-benchmark's ``classnames.txt``, or a file resource) and ``gated``.

Class names come from, in order: ``classnames_file``; the label column's ``ClassLabel`` names;
the sorted distinct values of a string label column; the registry's ``classes``/``classes_file``.
Images are written once with their original encoded bytes when the dataset has them (so JPEGs are
not re-compressed); only images held decoded are encoded, as PNG.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import datasets
import huggingface_hub
import pandas as pd
from PIL import Image as PILImage
from tqdm import tqdm

from classbench.data.manifest import DatasetError
from classbench.data.sources._common import (
    attach_provenance,
    image_extension,
    manifest_frame,
    safe_id,
)
from classbench.data.sources.auth import hub_errors, hub_token
from classbench.data.sources.curation import read_class_file
from classbench.data.sources.download import describe, fetch_file

IMAGE_COLUMNS = ("image", "img", "jpg", "jpeg", "webp", "png")
LABEL_COLUMNS = ("label", "cls")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


def fetch(
    name: str, spec: Mapping[str, Any], root: Path, cache_dir: Path
) -> tuple[pd.DataFrame, list[str]]:
    """Write the split's images under ``root/images`` and return (manifest, source names)."""
    source = spec["source"]
    token = hub_token(name, source)
    dataset = _load(name, source, Path(cache_dir), token)
    image_columns = _image_columns(name, dataset, source.get("image_column"))
    label_column = _pick(name, dataset, source.get("label_column"), LABEL_COLUMNS)
    id_column = source.get("filename_column") or (
        "__key__" if "__key__" in dataset.column_names else None
    )
    if id_column is not None and id_column not in dataset.column_names:
        raise DatasetError(
            f"dataset '{name}': no column '{id_column}' (has: {', '.join(dataset.column_names)})"
        )
    names, to_index = _label_names(name, spec, dataset, label_column, Path(cache_dir), token)

    for column in image_columns:
        if isinstance(dataset.features[column], datasets.Image):
            # Encoded bytes + original path instead of decoded pixels: no JPEG re-compression.
            dataset = dataset.cast_column(column, datasets.Image(decode=False))
    columns = [*image_columns, label_column] + ([id_column] if id_column else [])
    dataset = dataset.select_columns(list(dict.fromkeys(columns)))

    (root / "images").mkdir(exist_ok=True)
    rows = []
    for index, row in enumerate(
        tqdm(dataset, total=len(dataset), desc=f"write {name}", unit="img")
    ):
        sample_id = _sample_id(row[id_column]) if id_column else f"{index:06d}"
        label_idx = to_index(row[label_column], sample_id)
        cell = next((row[c] for c in image_columns if row[c] is not None), None)
        data = _encoded(name, cell, sample_id)
        relative = f"images/{sample_id}{image_extension(name, data, f'image of {sample_id}')}"
        (root / relative).write_bytes(data)
        rows.append((sample_id, relative, names[label_idx], label_idx))
    manifest = manifest_frame(rows)
    provenance = {
        "loader": "datasets.load_dataset",
        "datasets_version": datasets.__version__,
        "fingerprint": getattr(dataset, "_fingerprint", None),
    }
    return attach_provenance(manifest, provenance), names


def _sample_id(value: Any) -> str:
    # "Abyssinian_100.jpg" -> "Abyssinian_100": the file gets its extension from its bytes.
    text = str(value)
    stem, extension = posixpath.splitext(text)
    return safe_id(stem if extension.lower() in IMAGE_SUFFIXES else text)


def _is_local(source: Mapping[str, Any]) -> bool:
    return Path(str(source["repo"])).is_dir()


def _load(
    name: str, source: Mapping[str, Any], cache_dir: Path, token: str | None
) -> datasets.Dataset:
    repo = str(source["repo"])
    split = source["split"]
    if _is_local(source) and (
        (Path(repo) / "state.json").is_file() or (Path(repo) / "dataset_dict.json").is_file()
    ):
        # A folder written by ``save_to_disk`` (how lmms-owc stores its prepared sets).
        loaded = datasets.load_from_disk(repo)
        if isinstance(loaded, datasets.DatasetDict):
            if split not in loaded:
                raise DatasetError(
                    f"dataset '{name}': split '{split}' not in {repo} (has: {', '.join(loaded)})"
                )
            loaded = loaded[split]
        return loaded
    kwargs: dict[str, Any] = {
        "split": split,
        "cache_dir": str(cache_dir / "hf-datasets"),
    }
    if source.get("config"):
        kwargs["name"] = source["config"]
    if not _is_local(source) and source.get("revision"):
        kwargs["revision"] = source["revision"]
    if token is not None:
        kwargs["token"] = token
    with hub_errors(name, token, f"{repo} split '{split}'"):
        if source.get("data_files") is not None:
            kwargs["data_files"] = source["data_files"]
        else:
            kwargs.update(_only_split(repo, split, kwargs))
        loaded = datasets.load_dataset(repo, **kwargs)
    if not isinstance(loaded, datasets.Dataset):
        raise DatasetError(f"dataset '{name}': {repo} split '{split}' is not a plain dataset")
    return loaded


def _only_split(repo: str, split: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``data_files`` (and the card's features) that restrict loading to ``split``.

    ``load_dataset(split=...)`` downloads and prepares every split of a repository (timm's
    ImageNet train split is about 140 GB). Resolving the split's files first keeps a test-set
    preparation the size of the test set. The card's features go along because explicit
    ``data_files`` would otherwise drop them, ClassLabel names included. Repositories whose files
    cannot be resolved this way are loaded whole.
    """
    options = {key: value for key, value in kwargs.items() if key != "split"}
    builder = datasets.load_dataset_builder(repo, **options)
    files = getattr(builder.config, "data_files", None) or {}
    files = {str(key): value for key, value in files.items()}
    if split not in files:
        return {}
    restricted: dict[str, Any] = {"data_files": {split: list(files[split])}}
    if builder.info.features is not None:
        restricted["features"] = builder.info.features
    return restricted


def _image_columns(name: str, dataset: datasets.Dataset, chosen: str | None) -> list[str]:
    """The image column, or every candidate present when it is not named.

    clip-benchmark webdatasets name the image column after the file type (``webp``, ``jpg``); a
    set that mixes types has one column per type, empty where the sample has the other type.
    """
    if chosen is not None:
        return [_pick(name, dataset, chosen, ())]
    present = [column for column in IMAGE_COLUMNS if column in dataset.column_names]
    return present or [_pick(name, dataset, None, IMAGE_COLUMNS, "image")]


def _pick(
    name: str,
    dataset: datasets.Dataset,
    chosen: str | None,
    candidates: tuple[str, ...],
    what: str = "label",
) -> str:
    columns = dataset.column_names
    if chosen is not None:
        if chosen not in columns:
            raise DatasetError(
                f"dataset '{name}': no column '{chosen}' (has: {', '.join(columns)})"
            )
        return chosen
    for candidate in candidates:
        if candidate in columns:
            return candidate
    raise DatasetError(
        f"dataset '{name}': cannot tell the {what} column among {', '.join(columns)}; "
        f"set {what}_column"
    )


def _label_names(
    name: str,
    spec: Mapping[str, Any],
    dataset: datasets.Dataset,
    column: str,
    cache_dir: Path,
    token: str | None,
) -> tuple[list[str], Any]:
    """Source class names and a function mapping a label value to its index."""
    source = spec["source"]
    feature = dataset.features[column]
    names: list[str] | None = None
    if source.get("classnames_file"):
        names = _classnames_file(name, source, cache_dir, token)
    elif isinstance(feature, datasets.ClassLabel):
        names = list(feature.names)
    elif getattr(feature, "dtype", None) in ("string", "large_string"):
        names = sorted(set(dataset[column]))
        index = {label: i for i, label in enumerate(names)}
        return names, lambda value, _sample: index[value]
    elif spec.get("classes") or spec.get("classes_file"):
        # Integer labels with curated names in the registry: the names replace these.
        count = (
            len(spec["classes"])
            if spec.get("classes")
            else len(read_class_file(name, spec["classes_file"]))
        )
        names = [f"class {i}" for i in range(count)]
    if names is None:
        raise DatasetError(
            f"dataset '{name}': column '{column}' has no class names; give classnames_file, "
            "classes or classes_file"
        )

    def to_index(value: Any, sample_id: str) -> int:
        if value is None:
            raise DatasetError(f"dataset '{name}': sample {sample_id} has no label")
        if isinstance(value, str):  # label stored as text next to a name list
            if value not in lookup:
                raise DatasetError(f"dataset '{name}': sample {sample_id}: unknown label {value!r}")
            return lookup[value]
        index = int(value)
        if not 0 <= index < len(names):
            raise DatasetError(
                f"dataset '{name}': sample {sample_id}: label {value} outside 0..{len(names) - 1}"
            )
        return index

    lookup = {label: i for i, label in enumerate(names)}
    return names, to_index


def _classnames_file(
    name: str, source: Mapping[str, Any], cache_dir: Path, token: str | None
) -> list[str]:
    reference = source["classnames_file"]
    if isinstance(reference, Mapping):  # a file elsewhere: URL, another repo, a local path
        path, _ = fetch_file(name, reference, cache_dir, token, what="class-name file")
    elif _is_local(source):
        path = Path(str(source["repo"])) / reference
    else:
        resource = {"repo": source["repo"], "filename": reference,
                    "revision": source.get("revision")}  # fmt: skip
        with hub_errors(name, token, f"class-name file {describe(resource)}"):
            path = Path(
                huggingface_hub.hf_hub_download(
                    repo_id=str(source["repo"]),
                    filename=str(reference),
                    repo_type="dataset",
                    revision=source.get("revision"),
                    cache_dir=str(cache_dir / "hub"),
                    token=token,
                )
            )
    return read_class_file(name, path)


def _encoded(name: str, value: Any, sample_id: str) -> bytes:
    """The encoded bytes of one image cell, whatever form the dataset stores it in."""
    if isinstance(value, dict):
        if value.get("bytes"):
            return value["bytes"]
        if value.get("path") and Path(value["path"]).is_file():
            return Path(value["path"]).read_bytes()
        raise DatasetError(f"dataset '{name}': sample {sample_id} has no image data")
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, PILImage.Image):
        buffer = io.BytesIO()
        value.save(buffer, format="PNG")
        return buffer.getvalue()
    raise DatasetError(
        f"dataset '{name}': sample {sample_id}: cannot read an image from {type(value).__name__}"
    )
