"""Tiny supervised image classifiers, loaded by ``AutoImageProcessor`` +
``AutoModelForImageClassification``, with an ``id2label`` of ``num_labels`` classes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from classbench.demo.common import IMAGE_SIZE, TINY_VISION, Built

# A tiny classifier's outputs unless told otherwise: ImageNet-1k's, so output i is ImageNet class
# i exactly as for microsoft/resnet-50 or google/vit-large-patch16-224.
CLASSIFIER_LABELS = 1000


def _id2label(num_labels: int) -> dict[str, Any]:
    if num_labels < 1:
        raise ValueError(f"num_labels must be positive, got {num_labels}")
    names = {i: f"class {i}" for i in range(num_labels)}
    return {"id2label": names, "label2id": {name: i for i, name in names.items()}}


def _vit_classifier(num_labels: int) -> Built:
    """A ViT image classifier (ViTForImageClassification, as google/vit-large-patch16-224)."""
    import transformers as tf

    config = tf.ViTConfig(**TINY_VISION, **_id2label(num_labels))
    processor = tf.ViTImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    return tf.ViTForImageClassification(config), processor


def _resnet_classifier(num_labels: int) -> Built:
    """A ResNet image classifier with the ConvNeXt image processor, as microsoft/resnet-50."""
    import transformers as tf

    config = tf.ResNetConfig(
        embedding_size=16,
        hidden_sizes=[16, 32],
        depths=[1, 1],
        layer_type="basic",
        **_id2label(num_labels),
    )
    # Resize the short side to 56 / 0.875 = 64 px and centre-crop 56 px (resnet-50: 256 -> 224).
    processor = tf.ConvNextImageProcessor(size={"shortest_edge": IMAGE_SIZE}, crop_pct=0.875)
    return tf.ResNetForImageClassification(config), processor


BUILDERS: dict[str, Callable[[int], Built]] = {
    "vit_classifier": _vit_classifier,
    "resnet_classifier": _resnet_classifier,
}
CLASSIFIER_FAMILIES: tuple[str, ...] = tuple(BUILDERS)
