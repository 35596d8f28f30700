"""Build a tiny, randomly initialised model of any family into a folder, like a hub checkpoint.

Tests and smoke runs need models of every family the pipeline supports, without downloading
weights. Each family's builder (:mod:`~classbench.demo.vlms`, :mod:`~classbench.demo.encoders`,
:mod:`~classbench.demo.text`, :mod:`~classbench.demo.classifiers`) trains the small offline
tokenizer, configures the real config / processor / model classes with tiny sizes, and this
module saves everything with ``save_pretrained``, so the result reloads through the Auto classes
exactly like a hub checkpoint. The same family and seed always give the same tokenizer and the
same weights. Outputs are gibberish by design; what matters is that the whole code path (chat
template, image placeholder expansion, batching, generation) is the real one.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from classbench.demo import classifiers, encoders, text, vlms
from classbench.demo.classifiers import CLASSIFIER_FAMILIES, CLASSIFIER_LABELS
from classbench.demo.common import Built
from classbench.demo.encoders import CONTRASTIVE_FAMILIES
from classbench.demo.text import NLI_FAMILIES, TEXT_FAMILIES
from classbench.demo.vlms import VLM_FAMILIES

FAMILIES: tuple[str, ...] = (
    VLM_FAMILIES + CONTRASTIVE_FAMILIES + TEXT_FAMILIES + NLI_FAMILIES + CLASSIFIER_FAMILIES
)
# The families built with no argument; the classifiers take their number of labels.
_BUILDERS: dict[str, Callable[[], Built]] = {
    **vlms.BUILDERS,
    **encoders.BUILDERS,
    **text.JUDGE_BUILDERS,
    **text.NLI_BUILDERS,
}


def build_tiny_model(
    family: str, out_dir: str | os.PathLike, seed: int = 0, *, num_labels: int | None = None
) -> Path:
    """Build the tiny model of ``family`` into ``out_dir`` (replacing what is there); return it.

    The same family and seed give identical weights. The model is written into a temporary
    sibling directory and renamed into place, so an interrupted build never leaves half a model.
    ``num_labels`` is a classifier family's number of outputs (default
    :data:`CLASSIFIER_LABELS`); other families take none.
    """
    if family in classifiers.BUILDERS:
        labels = CLASSIFIER_LABELS if num_labels is None else num_labels
        builder: Callable[[], Built] = functools.partial(classifiers.BUILDERS[family], labels)
    elif family in _BUILDERS:
        if num_labels is not None:
            raise ValueError(f"num_labels is for the classifier families, not {family!r}")
        builder = _BUILDERS[family]
    else:
        raise ValueError(f"unknown tiny model family {family!r}; expected one of {FAMILIES}")
    import torch
    from transformers.utils import logging as hf_logging

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Weight initialisation is the only randomness (tokenizer training is deterministic).
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model, processor = builder()
    model.eval()
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the model is an ordinary shared artefact
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    try:
        # Saving diffs each sub-config against its class defaults, and some default configs
        # (SigLIP text) warn about their own token ids: noise, not a problem with this model.
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        try:
            model.save_pretrained(tmp)
            processor.save_pretrained(tmp)
        finally:
            hf_logging.set_verbosity(verbosity)
            if bars:
                hf_logging.enable_progress_bar()
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / "model")
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
