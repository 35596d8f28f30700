"""The error gallery: one static HTML page per dataset x task with every model's answer per image.

Each row is an image (a small JPEG thumbnail, :mod:`classbench.report.thumbnails`) with its ground
truth (and its label set, for a dataset with multi-label ground truth); beside it, one card per
model with the raw output, the parsed answer (and the lettered options for multiple choice), the
class a free answer was mapped to (mapped accuracy) and the sample's scores under their metrics'
short labels (the out-of-list verdict of closed protocols among them). Cards
are tagged with a status, and checkboxes filter the rows by status and by model:

- ``correct`` / ``wrong``: the task's main per-sample metric is 1 / 0, the first scored of the
  columns the metrics declare as deciding correctness (accuracy, else textual inclusion, else
  LLM inclusion, else exact match);
- ``generic`` ("too generic"): semantic similarity at least ``generic_similarity`` but no textual
  inclusion — the answer is about the right thing without naming the class ("a flower" for
  "rose"), the open-world failure lmms-owc discusses;
- ``invalid``: the sample failed (``error`` set) and is not scored;
- ``parse_failure``: valid, but no answer could be read from the output.

The page is plain HTML with its style and a little JavaScript inline (``static/gallery.css`` and
``static/gallery.js``, package data): no network, no external files besides the thumbnails, which
sit in ``img/`` next to the page (relative links), so the page works when the results folder is
copied elsewhere. Model output is untrusted: every text is escaped.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, cast

import pandas as pd

from classbench.io import missing, write_text
from classbench.report.thumbnails import (
    IMAGE_DIR,
    PUBLIC_MODE,
    THUMBNAIL_SIZE,
    gallery_samples,
    inline_images,
    make_thumbnails,
    thumbnail_name,
    thumbnail_sizes,
)
from classbench.scoring.registry import (
    correctness_columns,
    describe_column,
    long_label,
    short_label,
)

__all__ = [
    "STATUSES",
    "THUMBNAIL_SIZE",
    "GalleryModel",
    "answer_status",
    "gallery_samples",
    "inline_images",
    "make_thumbnails",
    "render_gallery",
    "thumbnail_name",
    "write_gallery",
]

# Status key -> label shown on the page, in filter order.
STATUSES: dict[str, str] = {
    "correct": "correct",
    "wrong": "wrong",
    "generic": "too generic",
    "invalid": "invalid (error)",
    "parse_failure": "parse failure",
}
# Longer option lists (label lists over all classes) are summarised, not listed.
_MAX_OPTIONS = 26
# Images eagerly loaded at the top of the page; the rest load as they scroll into view.
_EAGER_IMAGES = 24


@cache
def _static(name: str) -> str:
    """The text of ``static/<name>``, the page's inline style or script."""
    return resources.files("classbench.report").joinpath("static", name).read_text("utf-8")


@dataclass
class GalleryModel:
    """One model's rows for the page: predictions and per-sample scores (either may be empty)."""

    name: str
    predictions: pd.DataFrame
    scores: pd.DataFrame


# ------------------------------------------------------------------------------------ status


def _number(value: object) -> float | None:
    if missing(value) or isinstance(value, str):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def answer_status(
    prediction: Mapping[str, Any],
    scores: Mapping[str, Any],
    *,
    generic_similarity: float = 0.5,
) -> list[str]:
    """Status tags of one model's answer to one image (keys of :data:`STATUSES`).

    ``invalid`` stands alone. Otherwise the answer is ``correct`` or ``wrong`` by the first of
    the correctness columns that was scored (:func:`.registry.correctness_columns`: accuracy,
    textual inclusion, LLM inclusion, exact match), and may also be a
    ``parse_failure`` (nothing could be read) or ``generic`` (similar to the label but not naming
    it). An answer with none of those metrics is neither correct nor wrong.
    """
    if not missing(prediction.get("error")) or scores.get("valid") is False:
        return ["invalid"]
    tags = []
    for metric in correctness_columns():
        value = _number(scores.get(metric))
        if value is not None:
            tags.append("correct" if value >= 1.0 else "wrong")
            break
    parse_failure = _number(scores.get("parse_failure"))
    if parse_failure == 1.0 or (parse_failure is None and missing(prediction.get("answer"))):
        tags.append("parse_failure")
    similarity = _number(scores.get("semantic_similarity"))
    inclusion = _number(scores.get("textual_inclusion"))
    if similarity is not None and inclusion == 0.0 and similarity >= generic_similarity:
        tags.append("generic")
    return tags


# ------------------------------------------------------------------------------------- render


def _e(value: object) -> str:
    """Escaped text for element content and attribute values alike."""
    return html.escape("" if missing(value) else str(value), quote=True)


def _score_text(value: float) -> str:
    if value in (0.0, 1.0):
        return str(int(value))
    return f"{value:.2f}"


def _score_columns(frames: Sequence[pd.DataFrame]) -> list[str]:
    """The score columns metrics declare for the gallery, in first-seen order (the 0/1
    threshold columns of similarity@t are not: they restate the similarity)."""
    columns: dict[str, None] = {}
    for frame in frames:
        for column in frame.columns:
            declared = describe_column(str(column))
            if declared is None or not declared.in_gallery:
                continue
            if pd.api.types.is_numeric_dtype(frame[column]):
                columns.setdefault(column, None)
    return list(columns)


def _options_html(options: object, chosen: object, label: object, lettered: bool) -> str:
    if missing(options) or isinstance(options, str):
        return ""
    listed: list[Any] = list(cast(Iterable[Any], options))
    if len(listed) > _MAX_OPTIONS:
        # a label list of every class would swamp the card; the truth and answer are shown
        return f'<span class="muted">{len(listed)} candidate labels</span>'
    items = []
    for i, option in enumerate(listed):
        letter = chr(ord("A") + i) if lettered else ""
        classes = []
        if str(option) == str(label):
            classes.append("truth")
        if not missing(chosen) and str(option) == str(chosen):
            classes.append("chosen")
        prefix = f'<span class="letter">{_e(letter)}.</span> ' if lettered else ""
        items.append(f'<li class="{" ".join(classes)}">{prefix}{_e(option)}</li>')
    return f'<ol class="options">{"".join(items)}</ol>'


def _card(
    index: int,
    model: str,
    prediction: Mapping[str, Any] | None,
    scores: Mapping[str, Any] | None,
    score_columns: Sequence[str],
    label: object,
    protocol: str,
    generic_similarity: float,
) -> tuple[str, list[str]]:
    if prediction is None:
        body = '<p class="none">no prediction for this image</p>'
        return (
            f'<section class="card" data-model="{index}" data-tags="">'
            f'<h3><span class="model">{_e(model)}</span></h3>{body}</section>',
            [],
        )
    scores = scores or {}
    tags = answer_status(prediction, scores, generic_similarity=generic_similarity)
    badges = "".join(f'<span class="badge {t}">{_e(STATUSES[t])}</span>' for t in tags)
    rows = []
    error = prediction.get("error")
    if not missing(error):
        rows.append(f'<dt>error</dt><dd><pre class="error">{_e(error)}</pre></dd>')
    raw, answer = prediction.get("raw"), prediction.get("answer")
    if protocol == "zeroshot":
        rows.append(f"<dt>answer (all classes)</dt><dd>{_e(answer)}</dd>")
        chosen = prediction.get("answer_options")
        rows.append(f"<dt>answer (options)</dt><dd>{_e(chosen)}</dd>")
        rows.append(
            "<dt>options</dt><dd>"
            f"{_options_html(prediction.get('options'), chosen, label, lettered=False)}</dd>"
        )
    else:
        same = not missing(raw) and not missing(answer) and str(raw).strip() == str(answer)
        if not missing(raw) and not same:
            rows.append(f'<dt>raw</dt><dd><pre class="raw">{_e(raw)}</pre></dd>')
        if missing(answer):
            status = prediction.get("parse_status")
            detail = f" ({_e(status)})" if not missing(status) else ""
            parsed = f'<em class="unparsed">no answer{detail}</em>'
        else:
            parsed = f'<pre class="answer">{_e(answer)}</pre>'
        rows.append(f"<dt>{'answer (raw)' if same else 'parsed'}</dt><dd>{parsed}</dd>")
        final = prediction.get("answer_final")
        if "answer_final" in prediction:
            # reasoning tasks: the verdict extracted from the output, scored as *_final
            shown = (
                f'<pre class="answer">{_e(final)}</pre>'
                if not missing(final)
                else '<em class="unparsed">none found</em>'
            )
            rows.append(f"<dt>final answer</dt><dd>{shown}</dd>")
        scored = scores.get("answer")
        if not missing(scored) and (missing(answer) or str(scored) != str(answer)):
            # the scorer mapped the output onto a label (e.g. NLI for label lists): that is
            # the answer the scores are about
            how = scores.get("mapping")
            note = f' <span class="muted">({_e(how)})</span>' if not missing(how) else ""
            rows.append(f"<dt>scored as</dt><dd>{_e(scored)}{note}</dd>")
            answer = scored
        mapped = scores.get("mapped_class")
        if not missing(mapped):
            # mapped accuracy: the class the answer's text embedding is nearest to
            rows.append(f"<dt>mapped to</dt><dd>{_e(mapped)}</dd>")
        if protocol in ("mcq", "labels") and not missing(prediction.get("answer_letter")):
            rows.append(f"<dt>letter</dt><dd>{_e(prediction.get('answer_letter'))}</dd>")
        options_html = _options_html(
            prediction.get("options"), answer, label, lettered=protocol == "mcq"
        )
        if options_html:
            rows.append(f"<dt>options</dt><dd>{options_html}</dd>")
    cells = []
    for column in score_columns:
        value = _number(scores.get(column))
        if value is None:
            continue
        name = short_label(column) or column
        title_attr = f'title="{_e(column)}"'
        cells.append(
            f'<span class="score" {title_attr}>{_e(name)} <b>{_score_text(value)}</b></span>'
        )
    if cells:
        rows.append(f'<dt>scores</dt><dd class="scores">{" ".join(cells)}</dd>')
    status_class = " ".join(tags)
    return (
        f'<section class="card {status_class}" data-model="{index}" data-tags="{status_class}">'
        f'<h3><span class="model">{_e(model)}</span>{badges}</h3><dl>{"".join(rows)}</dl>'
        "</section>",
        tags,
    )


def _label_set_html(label_set: object) -> str:
    """The image's multi-label ground truth, when the dataset has one."""
    if label_set is None or isinstance(label_set, (str, float)):
        return ""
    names = [str(name) for name in cast(Iterable[Any], label_set)]
    if not names:
        return '<div class="labelset none">no valid label (left out of the _multi scores)</div>'
    return f'<div class="labelset">{_e(", ".join(names))}</div>'


def _records(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    if frame is None or frame.empty or "sample_id" not in frame:
        return {}
    frame = frame.drop_duplicates("sample_id", keep="last")
    return {str(r["sample_id"]): r for r in frame.to_dict("records")}


def render_gallery(
    samples: pd.DataFrame,
    models: Sequence[GalleryModel],
    *,
    dataset: str,
    task: str,
    protocol: str,
    generic_similarity: float = 0.5,
    evaluated: int | None = None,
    thumbnails: Mapping[str, tuple[int, int]] | None = None,
    title: str = "classbench",
) -> str:
    """The page's HTML. ``samples`` (``sample_id``, ``label``) are the rows, in order; a sample no
    model has a prediction for is left out. ``thumbnails`` maps a sample id to its thumbnail's
    (width, height) in ``img/``; a sample without one shows a placeholder. ``evaluated`` is the
    number of images the models answered (shown when the page holds fewer)."""
    predictions = [_records(m.predictions) for m in models]
    scores = [_records(m.scores) for m in models]
    score_columns = _score_columns([m.scores for m in models if m.scores is not None])
    thumbnails = thumbnails or {}
    answered = {sid for records in predictions for sid in records}
    samples = samples[samples["sample_id"].astype(str).isin(answered)]
    totals = {m.name: dict.fromkeys(STATUSES, 0) for m in models}
    prompts = {
        str(r["prompt"])
        for records in predictions
        for r in records.values()
        if not missing(r.get("prompt"))
    }
    one_prompt = len(prompts) == 1
    rows = []
    label_sets = (
        samples["label_sets"] if "label_sets" in samples else pd.Series(None, index=samples.index)
    )
    for n, (sample_id, label, label_set) in enumerate(
        zip(samples["sample_id"].astype(str), samples["label"], label_sets, strict=True)
    ):
        cards = []
        prompt = None
        for i, model in enumerate(models):
            prediction = predictions[i].get(sample_id)
            if prediction is not None and prompt is None:
                prompt = prediction.get("prompt")
            card, tags = _card(i, model.name, prediction, scores[i].get(sample_id),
                               score_columns, label, protocol, generic_similarity)  # fmt: skip
            for tag in tags:
                totals[model.name][tag] += 1
            cards.append(card)
        size = thumbnails.get(sample_id)
        if size:
            lazy = ' loading="lazy"' if n >= _EAGER_IMAGES else ""
            image = (
                f'<img src="{IMAGE_DIR}/{_e(thumbnail_name(sample_id))}" width="{size[0]}" '
                f'height="{size[1]}" alt="{_e(label)}"{lazy}>'
            )
        else:
            image = '<div class="noimage">image unavailable</div>'
        prompt_html = (
            f'<details class="prompt"><summary>prompt</summary><pre>{_e(prompt)}</pre></details>'
            if not one_prompt and not missing(prompt)
            else ""
        )
        rows.append(
            f'<article class="sample" id="{_e("s-" + sample_id)}">'
            f'<div class="image">{image}<div class="truth">{_e(label)}</div>'
            f"{_label_set_html(label_set)}"
            f'<div class="sid">{_e(sample_id)}</div>{prompt_html}</div>'
            f'<div class="answers">{"".join(cards)}</div></article>'
        )
    return _page(
        rows, models, totals, dataset=dataset, task=task, protocol=protocol,
        prompt=next(iter(prompts)) if one_prompt else None, evaluated=evaluated,
        generic_similarity=generic_similarity, title=title,
    )  # fmt: skip


def _page(
    rows: list[str],
    models: Sequence[GalleryModel],
    totals: Mapping[str, Mapping[str, int]],
    *,
    dataset: str,
    task: str,
    protocol: str,
    prompt: str | None,
    evaluated: int | None,
    generic_similarity: float,
    title: str,
) -> str:
    status_boxes = "".join(
        f'<label class="chip {key}" title="answers with this status, all models">'
        f'<input type="checkbox" name="status" value="{key}" checked> '
        f'{_e(text)} <span class="n">{sum(t[key] for t in totals.values())}</span></label>'
        for key, text in STATUSES.items()
    )
    model_boxes = "".join(
        f'<label class="chip"><input type="checkbox" name="model" value="{i}" checked> '
        f"{_e(m.name)}</label>"
        for i, m in enumerate(models)
    )
    header_cells = "".join(f"<th>{_e(text)}</th>" for text in STATUSES.values())
    total_rows = "".join(
        f"<tr><th>{_e(m.name)}</th>"
        + "".join(f"<td>{totals[m.name][key]}</td>" for key in STATUSES)
        + "</tr>"
        for m in models
    )
    shown = len(rows)
    subset = (
        f" (a stratified sample of the {evaluated} evaluated; <code>report.gallery_limit</code>)"
        if evaluated and evaluated > shown
        else ""
    )
    # The zero-shot "prompt" is the class template the text tower sees.
    prompt_name = "Class prompt" if protocol == "zeroshot" else "Prompt"
    prompt_html = f"<p>{prompt_name}: <q>{_e(prompt)}</q></p>" if prompt else ""
    body = "\n".join(rows) if rows else '<p class="none">No predictions.</p>'
    main_metric = ", else ".join(long_label(c) for c in correctness_columns())
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} gallery: {_e(dataset)} / {_e(task)}</title>
<style>
{_static("gallery.css")}</style>
</head>
<body>
<header>
<h1>{_e(dataset)} <span class="sep">/</span> {_e(task)}</h1>
<p class="meta">{_e(title)} error gallery · protocol <code>{_e(protocol)}</code> ·
{_plural(shown, "image")}{subset} · {_plural(len(models), "model")}</p>
{prompt_html}
<table class="totals"><thead><tr><th>model</th>{header_cells}</tr></thead>
<tbody>{total_rows}</tbody></table>
<p class="legend"><b>correct</b> / <b>wrong</b>: the task's main metric ({main_metric});
<b>too generic</b>: semantic similarity ≥ {generic_similarity:g} but the label is not
in the answer; <b>invalid</b>: the sample failed and is not scored; <b>parse failure</b>: no
answer could be read. Faded cards do not match the filter.</p>
</header>
<form id="filters" onsubmit="return false">
<div class="group"><span class="what">Show images where an answer is</span>{status_boxes}
<button type="button" data-set="status" data-to="all">all</button>
<button type="button" data-set="status" data-to="none">none</button></div>
<div class="group"><span class="what">Models</span>{model_boxes}
<button type="button" data-set="model" data-to="all">all</button>
<button type="button" data-set="model" data-to="none">none</button></div>
<p id="count">Showing <b id="shown">{shown}</b> of <b id="total">{shown}</b> images.</p>
</form>
<main id="gallery">
{body}
</main>
<script>
{_static("gallery.js")}</script>
</body>
</html>
"""


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def write_gallery(
    samples: pd.DataFrame,
    models: Sequence[GalleryModel],
    page: str | os.PathLike,
    *,
    image_dir: str | os.PathLike,
    standalone: str | os.PathLike | None = None,
    **render: Any,
) -> list[Path]:
    """Render and write the page (thumbnails linked from ``image_dir``, which must be the page's
    sibling ``img/``) and, if asked, a ``standalone`` copy with the thumbnails embedded."""
    sizes = thumbnail_sizes(image_dir)
    by_sample = {
        str(sid): sizes[thumbnail_name(sid)]
        for sid in samples["sample_id"]
        if thumbnail_name(sid) in sizes
    }
    text = render_gallery(samples, models, thumbnails=by_sample, **render)
    paths = [write_text(text, page)]
    if standalone is not None:
        paths.append(write_text(inline_images(text, image_dir), standalone))
    for path in paths:
        os.chmod(path, PUBLIC_MODE)
    return paths
