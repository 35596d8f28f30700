"""The error gallery: one static HTML page per dataset x task with every model's answer per image.

Each row is an image (a small JPEG thumbnail) with its ground truth; beside it, one card per model
with the raw output, the parsed answer (and the lettered options for multiple choice) and the
sample's scores. Cards are tagged with a status, and checkboxes filter the rows by status and by
model:

- ``correct`` / ``wrong``: the task's main per-sample metric (accuracy, else textual inclusion,
  else LLM inclusion, else exact match) is 1 / 0;
- ``generic`` ("too generic"): semantic similarity at least ``generic_similarity`` but no textual
  inclusion — the answer is about the right thing without naming the class ("a flower" for
  "rose"), the open-world failure lmms-owc discusses;
- ``invalid``: the sample failed (``error`` set) and is not scored;
- ``parse_failure``: valid, but no answer could be read from the output.

The page is plain HTML with a little inline JavaScript: no network, no external files besides the
thumbnails, which sit in ``img/`` next to the page (relative links), so the page works when the
results folder is copied elsewhere. :func:`inline_images` turns a page into a single file with the
thumbnails embedded, for ``snakemake --report``. Model output is untrusted: every text is escaped.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image, ImageOps

from classbench.data import stratified_limit
from classbench.images import to_rgb
from classbench.io import atomic_path, write_text
from classbench.report.tables import LABELS

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
THUMBNAIL_SIZE = 192  # longest side in pixels; shown at 160 CSS pixels, sharp on most screens
THUMBNAIL_QUALITY = 82
IMAGE_DIR = "img"
# The metric deciding correct / wrong, first present wins.
_CORRECTNESS = ("accuracy", "textual_inclusion", "llm_inclusion", "exact_match")
# Per-sample score columns that are bookkeeping, not metrics.
_NOT_SCORES = frozenset({"sample_id", "label", "answer", "valid", "doc"})
# Longer option lists (label lists over all classes) are summarised, not listed.
_MAX_OPTIONS = 26
# Pages and thumbnails are meant to be shared (copied, served): readable by everyone, unlike the
# private mode of the temporary files they are written through.
_PUBLIC = 0o644
# Images eagerly loaded at the top of the page; the rest load as they scroll into view.
_EAGER_IMAGES = 24


@dataclass
class GalleryModel:
    """One model's rows for the page: predictions and per-sample scores (either may be empty)."""

    name: str
    predictions: pd.DataFrame
    scores: pd.DataFrame


# ----------------------------------------------------------------------------------- samples


def gallery_samples(
    manifest: pd.DataFrame,
    *,
    limit: int | None,
    gallery_limit: int | None,
    seed: int,
    dataset: str,
) -> pd.DataFrame:
    """The images a dataset's gallery shows: the evaluated subset, then at most ``gallery_limit``.

    The first step is the study's own per-dataset sample limit, drawn as inference draws it; the
    second keeps pages of large datasets browsable, again stratified by class and seeded, so the
    thumbnail job and every task's page agree on the same images without reading predictions.
    """
    evaluated = stratified_limit(manifest, limit, seed, dataset)
    return stratified_limit(evaluated, gallery_limit, seed, f"{dataset}/gallery")


def thumbnail_name(sample_id: object) -> str:
    """A file name for a sample's thumbnail: readable, filesystem-safe and collision-free."""
    text = str(sample_id)
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")[:48] or "sample"
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}.jpg"


def make_thumbnails(
    samples: pd.DataFrame,
    dataset_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    size: int = THUMBNAIL_SIZE,
    quality: int = THUMBNAIL_QUALITY,
) -> dict[str, Any]:
    """Write a JPEG thumbnail (longest side ``size``) of every sample's ``image`` into ``out_dir``.

    An unreadable image gets no thumbnail (the page shows a placeholder) and is counted. Returns
    statistics for the log.
    """
    root, out = Path(dataset_root), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written, failed = 0, []
    for sample_id, image in zip(samples["sample_id"], samples["image"], strict=True):
        try:
            with Image.open(root / str(image)) as source:
                source.draft("RGB", (size, size))  # JPEG: decode at reduced scale, much faster
                thumb = to_rgb(ImageOps.exif_transpose(source))
                thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            failed.append(f"{sample_id}: {err}")
            continue
        tmp, target = atomic_path(out / thumbnail_name(sample_id))
        try:
            thumb.save(tmp, format="JPEG", quality=quality, optimize=True)
            os.chmod(tmp, _PUBLIC)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()
        written += 1
    return {"thumbnails": written, "failed": failed, "size": size, "quality": quality}


# ------------------------------------------------------------------------------------ status


def _missing(value: object) -> bool:
    # pandas 3 stores a missing string as NaN, older pandas as None.
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def _number(value: object) -> float | None:
    if _missing(value) or isinstance(value, str):
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
    accuracy, textual inclusion, LLM inclusion, exact match that was scored, and may also be a
    ``parse_failure`` (nothing could be read) or ``generic`` (similar to the label but not naming
    it). An answer with none of those metrics is neither correct nor wrong.
    """
    if not _missing(prediction.get("error")) or scores.get("valid") is False:
        return ["invalid"]
    tags = []
    for metric in _CORRECTNESS:
        value = _number(scores.get(metric))
        if value is not None:
            tags.append("correct" if value >= 1.0 else "wrong")
            break
    parse_failure = _number(scores.get("parse_failure"))
    if parse_failure == 1.0 or (parse_failure is None and _missing(prediction.get("answer"))):
        tags.append("parse_failure")
    similarity = _number(scores.get("semantic_similarity"))
    inclusion = _number(scores.get("textual_inclusion"))
    if similarity is not None and inclusion == 0.0 and similarity >= generic_similarity:
        tags.append("generic")
    return tags


# ------------------------------------------------------------------------------------- render


def _e(value: object) -> str:
    """Escaped text for element content and attribute values alike."""
    return html.escape("" if _missing(value) else str(value), quote=True)


def _score_text(value: float) -> str:
    if value in (0.0, 1.0):
        return str(int(value))
    return f"{value:.2f}"


def _score_columns(frames: Sequence[pd.DataFrame]) -> list[str]:
    """Metric columns, in first-seen order; the 0/1 threshold columns of similarity@t are left
    out (they restate the similarity)."""
    columns: dict[str, None] = {}
    for frame in frames:
        for column in frame.columns:
            if column in _NOT_SCORES or "@" in column:
                continue
            if pd.api.types.is_numeric_dtype(frame[column]):
                columns.setdefault(column, None)
    return list(columns)


def _options_html(options: object, chosen: object, label: object, lettered: bool) -> str:
    if _missing(options) or isinstance(options, str):
        return ""
    options = list(options)  # type: ignore[call-overload]
    if len(options) > _MAX_OPTIONS:
        # a label list of every class would swamp the card; the truth and answer are shown
        return f'<span class="muted">{len(options)} candidate labels</span>'
    items = []
    for i, option in enumerate(options):
        letter = chr(ord("A") + i) if lettered else ""
        classes = []
        if str(option) == str(label):
            classes.append("truth")
        if not _missing(chosen) and str(option) == str(chosen):
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
    if not _missing(error):
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
        same = not _missing(raw) and not _missing(answer) and str(raw).strip() == str(answer)
        if not _missing(raw) and not same:
            rows.append(f'<dt>raw</dt><dd><pre class="raw">{_e(raw)}</pre></dd>')
        if _missing(answer):
            status = prediction.get("parse_status")
            detail = f" ({_e(status)})" if not _missing(status) else ""
            parsed = f'<em class="unparsed">no answer{detail}</em>'
        else:
            parsed = f'<pre class="answer">{_e(answer)}</pre>'
        rows.append(f"<dt>{'answer (raw)' if same else 'parsed'}</dt><dd>{parsed}</dd>")
        final = prediction.get("answer_final")
        if "answer_final" in prediction:
            # reasoning tasks: the verdict extracted from the output, scored as *_final
            shown = (
                f'<pre class="answer">{_e(final)}</pre>'
                if not _missing(final)
                else '<em class="unparsed">none found</em>'
            )
            rows.append(f"<dt>final answer</dt><dd>{shown}</dd>")
        scored = scores.get("answer")
        if not _missing(scored) and (_missing(answer) or str(scored) != str(answer)):
            # the scorer mapped the output onto a label (e.g. NLI for label lists): that is
            # the answer the scores are about
            how = scores.get("mapping")
            note = f' <span class="muted">({_e(how)})</span>' if not _missing(how) else ""
            rows.append(f"<dt>scored as</dt><dd>{_e(scored)}{note}</dd>")
            answer = scored
        if protocol in ("mcq", "labels") and not _missing(prediction.get("answer_letter")):
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
        base = column.removesuffix("_final")
        name = LABELS.get(base, base) + (" (final)" if base != column else "")
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
        if not _missing(r.get("prompt"))
    }
    one_prompt = len(prompts) == 1
    rows = []
    for n, (sample_id, label) in enumerate(
        zip(samples["sample_id"].astype(str), samples["label"], strict=True)
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
            if not one_prompt and not _missing(prompt)
            else ""
        )
        rows.append(
            f'<article class="sample" id="{_e("s-" + sample_id)}">'
            f'<div class="image">{image}<div class="truth">{_e(label)}</div>'
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
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} gallery: {_e(dataset)} / {_e(task)}</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>{_e(dataset)} <span class="sep">/</span> {_e(task)}</h1>
<p class="meta">{_e(title)} error gallery · protocol <code>{_e(protocol)}</code> ·
{_plural(shown, "image")}{subset} · {_plural(len(models), "model")}</p>
{prompt_html}
<table class="totals"><thead><tr><th>model</th>{header_cells}</tr></thead>
<tbody>{total_rows}</tbody></table>
<p class="legend"><b>correct</b> / <b>wrong</b>: the task's main metric (accuracy, else textual
inclusion); <b>too generic</b>: semantic similarity ≥ {generic_similarity:g} but the label is not
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
<script>{_JS}</script>
</body>
</html>
"""


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def inline_images(page: str, image_dir: str | os.PathLike) -> str:
    """The page with every ``img/…`` thumbnail embedded as a data URI: one file that works alone
    (``snakemake --report`` embeds each result as a single file)."""
    root = Path(image_dir)

    def embed(match: re.Match[str]) -> str:
        path = root / html.unescape(match.group(1))
        if not path.is_file():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'src="data:image/jpeg;base64,{data}"'

    return re.sub(rf'src="{IMAGE_DIR}/([^"]+)"', embed, page)


def thumbnail_sizes(image_dir: str | os.PathLike) -> dict[str, tuple[int, int]]:
    """File name -> (width, height) of the thumbnails in ``image_dir`` (headers only)."""
    sizes = {}
    for path in Path(image_dir).glob("*.jpg"):
        with Image.open(path) as image:
            sizes[path.name] = image.size
    return sizes


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
        os.chmod(path, _PUBLIC)
    return paths


_CSS = """
:root { --fg: #1d2125; --muted: #5f6b76; --line: #d9dee3; --bg: #f6f7f9;
  --correct: #1a7f37; --wrong: #c62828; --generic: #b26a00; --invalid: #6e7781;
  --parse_failure: #7b3fb5; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
header { background: #fff; padding: 14px 20px 6px; }
h1 { font-size: 20px; margin: 0 0 2px; } h1 .sep { color: var(--muted); font-weight: 400; }
.meta, .legend { color: var(--muted); margin: 2px 0 8px; }
.legend { font-size: 12.5px; max-width: 75em; margin-bottom: 0; }
q { font-style: italic; }
code { font-size: 12.5px; background: var(--bg); padding: 0 3px; border-radius: 3px; }
table.totals { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }
table.totals th, table.totals td { border: 1px solid var(--line); padding: 2px 10px; }
table.totals td { text-align: right; font-variant-numeric: tabular-nums; }
table.totals thead th { background: var(--bg); font-weight: 600; }
table.totals tbody th { text-align: left; font-weight: 500; }
#filters { position: sticky; top: 0; z-index: 1; background: #fff; padding: 4px 20px 8px;
  border-bottom: 1px solid var(--line); box-shadow: 0 2px 4px rgba(0, 0, 0, 0.04); }
#filters .group { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; margin: 4px 0; }
#filters .what { color: var(--muted); min-width: 15em; }
.chip { display: inline-flex; align-items: center; gap: 4px; border: 1px solid var(--line);
  border-radius: 14px; padding: 2px 10px 2px 6px; background: #fff; cursor: pointer;
  user-select: none; }
.chip .n { color: var(--muted); font-size: 12px; }
.chip.correct { border-color: var(--correct); } .chip.wrong { border-color: var(--wrong); }
.chip.generic { border-color: var(--generic); } .chip.invalid { border-color: var(--invalid); }
.chip.parse_failure { border-color: var(--parse_failure); }
button { font: inherit; font-size: 12.5px; border: 1px solid var(--line); background: #fff;
  border-radius: 4px; padding: 1px 8px; cursor: pointer; }
#count { margin: 4px 0 0; }
main { padding: 12px 20px 40px; }
.sample { display: flex; gap: 14px; background: #fff; border: 1px solid var(--line);
  border-radius: 6px; padding: 10px; margin-bottom: 10px; }
.sample.hidden, .card.hidden { display: none; }
.image { flex: 0 0 170px; text-align: center; }
.image img { width: 160px; height: auto; max-height: 160px; object-fit: contain;
  border-radius: 4px; background: var(--bg); }
.noimage { width: 160px; height: 120px; display: flex; align-items: center;
  justify-content: center; color: var(--muted); background: var(--bg); border-radius: 4px; }
.image .truth { font-weight: 600; margin-top: 4px; overflow-wrap: anywhere; }
.image .truth::before { content: "truth: "; font-weight: 400; color: var(--muted); }
.sid { color: var(--muted); font-size: 12px; overflow-wrap: anywhere; }
details.prompt { text-align: left; font-size: 12px; margin-top: 4px; }
details.prompt pre { white-space: pre-wrap; margin: 4px 0; }
.answers { flex: 1; display: grid; gap: 8px; align-content: start;
  grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); }
.card { border: 1px solid var(--line); border-left: 4px solid var(--line); border-radius: 4px;
  padding: 6px 8px; min-width: 0; }
.card.correct { border-left-color: var(--correct); }
.card.wrong { border-left-color: var(--wrong); }
.card.generic { border-left-color: var(--generic); }
.card.parse_failure { border-left-color: var(--parse_failure); }
.card.invalid { border-left-color: var(--invalid); background: #fafbfc; }
.card.dim { opacity: 0.35; }
.card h3 { font-size: 13px; margin: 0 0 4px; display: flex; flex-wrap: wrap; gap: 4px;
  align-items: center; }
.card .model { margin-right: auto; overflow-wrap: anywhere; }
.badge { font-size: 11px; font-weight: 600; color: #fff; border-radius: 3px; padding: 0 5px; }
.badge.correct { background: var(--correct); } .badge.wrong { background: var(--wrong); }
.badge.generic { background: var(--generic); } .badge.invalid { background: var(--invalid); }
.badge.parse_failure { background: var(--parse_failure); }
dl { margin: 0; display: grid; grid-template-columns: auto 1fr; gap: 2px 8px; }
dt { color: var(--muted); font-size: 12px; padding-top: 1px; }
dd { margin: 0; min-width: 0; }
pre { margin: 0; font: 12.5px/1.35 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  white-space: pre-wrap; overflow-wrap: anywhere; }
pre.raw, pre.answer { max-height: 5.6em; overflow: auto; }
pre.raw { color: var(--muted); }
pre.error { color: var(--wrong); }
.unparsed { color: var(--parse_failure); }
ol.options { margin: 0; padding: 0; list-style: none; font-size: 12.5px; }
ol.options li { padding: 0 4px; border-radius: 3px; }
ol.options li.truth { font-weight: 600; }
ol.options li.truth::after { content: " ✓ truth"; color: var(--correct); font-size: 11px; }
ol.options li.chosen { background: #e8eefc; }
ol.options li.chosen::after { content: " ← chosen"; color: #2f5bb7; font-size: 11px; }
ol.options li.truth.chosen::after { content: " ← chosen ✓"; color: var(--correct); }
.letter { font-weight: 600; color: var(--muted); }
.scores { display: flex; flex-wrap: wrap; gap: 2px 10px; font-size: 12px; }
.score b { font-variant-numeric: tabular-nums; }
.none { color: var(--muted); font-style: italic; margin: 0; }
.muted { color: var(--muted); font-size: 12.5px; }
"""

# Rows stay visible when at least one card of a shown model carries a checked status; cards of
# hidden models disappear, cards that do not match are faded.
_JS = """
(function () {
  var form = document.getElementById("filters");
  var samples = Array.prototype.slice.call(document.querySelectorAll("article.sample"));
  function checked(name) {
    var out = {};
    form.querySelectorAll("input[name=" + name + "]").forEach(function (box) {
      if (box.checked) { out[box.value] = true; }
    });
    return out;
  }
  function apply() {
    var statuses = checked("status"), models = checked("model"), shown = 0;
    // every status ticked = no status filter, so answers without a status show too
    var everything = Object.keys(statuses).length ===
      form.querySelectorAll("input[name=status]").length;
    samples.forEach(function (sample) {
      var any = false;
      sample.querySelectorAll("section.card").forEach(function (card) {
        var visible = models[card.getAttribute("data-model")] === true;
        var tags = (card.getAttribute("data-tags") || "").split(" ");
        var match = visible && (everything ||
          tags.some(function (t) { return statuses[t] === true; }));
        card.classList.toggle("hidden", !visible);
        card.classList.toggle("dim", visible && !match);
        any = any || match;
      });
      sample.classList.toggle("hidden", !any);
      if (any) { shown += 1; }
    });
    document.getElementById("shown").textContent = String(shown);
  }
  form.addEventListener("change", apply);
  form.querySelectorAll("button[data-set]").forEach(function (button) {
    button.addEventListener("click", function () {
      var on = button.getAttribute("data-to") === "all";
      form.querySelectorAll("input[name=" + button.getAttribute("data-set") + "]")
        .forEach(function (box) { box.checked = on; });
      apply();
    });
  });
  apply();
})();
"""
