"""Log-likelihood option scores against a manual forward pass of a tiny model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from classbench.backends.hf import HFBackend
from classbench.demo import build_tiny_model


def manual_score(backend: HFBackend, image: Image.Image, prompt: str, option: str) -> float:
    """Sum over the option's tokens of log p(token | everything before it), one unpadded forward
    pass per token, in float64: no batching, padding or slicing shared with the backend."""
    image = backend.prepare_image(image)
    text = backend.render_prompt(prompt)
    prompt_ids = backend._encode([text], [image])["input_ids"][0].tolist()
    inputs = backend._encode([text + option], [image])
    ids = inputs["input_ids"][0].tolist()
    start = next(
        (i for i, (a, b) in enumerate(zip(ids, prompt_ids, strict=False)) if a != b),
        len(prompt_ids),
    )
    assert start < len(ids), "the option added no token"
    length = len(ids)
    per_token = [key for key, value in inputs.items() if value.shape[:2] == (1, length)]
    total = 0.0
    for position in range(start, length):
        prefix = {
            key: value[:, :position] if key in per_token else value for key, value in inputs.items()
        }
        with torch.inference_mode():
            logits = backend.model(**prefix).logits[0, -1].double()
        total += float(torch.log_softmax(logits, dim=-1)[ids[position]])
    return total


@pytest.mark.parametrize("family", ["qwen2_vl", "llava"])
def test_option_scores_equal_a_manual_forward_pass(tmp_path, family):
    backend = HFBackend({"checkpoint": str(build_tiny_model(family, tmp_path / family)),
                         "batch_size": 3})  # fmt: skip
    try:
        rng = np.random.default_rng(0)
        image = Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), "RGB")
        prompt = "Which animal is this?"
        # Options of different token lengths share a padded batch.
        options = ["A", "cat", "a golden retriever", " sea lion"]
        scores = backend.score_options([image], [prompt], [options])[0]
        expected = [manual_score(backend, image, prompt, option) for option in options]
        np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-3)
        assert len(set(np.round(scores, 3))) == len(options)  # the options are told apart
    finally:
        backend.close()
