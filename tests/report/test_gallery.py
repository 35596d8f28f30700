"""The error gallery: answer statuses, thumbnails, escaping, and the page in headless Chromium.

The browser tests need Chromium, chromedriver and selenium. Where Chromium is missing they
install it with apt when running as root (Debian: ``chromium chromium-driver``); otherwise they
are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from classbench.report.gallery import (
    STATUSES,
    GalleryModel,
    answer_status,
    gallery_samples,
    inline_images,
    make_thumbnails,
    render_gallery,
    thumbnail_name,
    write_gallery,
)

EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


# ------------------------------------------------------------------------------- statuses


@pytest.mark.parametrize(
    ("prediction", "scores", "expected"),
    [
        ({"error": "unreadable image", "answer": None}, {"valid": False}, ["invalid"]),
        ({"error": None, "answer": "cat"}, {"valid": True, "accuracy": 1.0}, ["correct"]),
        (
            {"error": None, "answer": None},
            {"valid": True, "accuracy": 0.0, "parse_failure": 1.0},
            ["wrong", "parse_failure"],
        ),
        (
            {"error": None, "answer": "a small animal"},
            {"valid": True, "textual_inclusion": 0.0, "semantic_similarity": 0.62},
            ["wrong", "generic"],
        ),
        (
            {"error": None, "answer": "a tabby cat"},
            {"valid": True, "textual_inclusion": 1.0, "semantic_similarity": 0.9},
            ["correct"],
        ),
        (
            {"error": None, "answer": "a truck"},
            {"valid": True, "textual_inclusion": 0.0, "semantic_similarity": 0.2},
            ["wrong"],
        ),
        # pandas 3 reads a missing error as NaN
        (
            {"error": float("nan"), "answer": "x"},
            {"valid": True, "llm_inclusion": 1.0},
            ["correct"],
        ),
    ],
)
def test_answer_status(prediction: dict, scores: dict, expected: list[str]) -> None:
    assert answer_status(prediction, scores) == expected


def test_generic_threshold_is_a_setting() -> None:
    prediction = {"error": None, "answer": "an animal"}
    scores = {"valid": True, "textual_inclusion": 0.0, "semantic_similarity": 0.45}
    assert "generic" not in answer_status(prediction, scores)
    assert "generic" in answer_status(prediction, scores, generic_similarity=0.4)


# ----------------------------------------------------------------------- samples, thumbnails


def _manifest(n_per_class: int = 10, classes: tuple[str, ...] = ("cat", "dog", "owl")):
    rows = [
        {"sample_id": f"{c}/{i:03d}", "image": f"images/{c}_{i}.png", "label": c, "label_idx": k}
        for k, c in enumerate(classes)
        for i in range(n_per_class)
    ]
    return pd.DataFrame(rows)


def test_gallery_samples_are_the_evaluated_images_capped_and_stratified() -> None:
    manifest = _manifest()
    everything = gallery_samples(manifest, limit=None, gallery_limit=None, seed=1, dataset="d")
    assert len(everything) == 30
    evaluated = gallery_samples(manifest, limit=12, gallery_limit=None, seed=1, dataset="d")
    capped = gallery_samples(manifest, limit=12, gallery_limit=6, seed=1, dataset="d")
    assert len(evaluated) == 12 and len(capped) == 6
    assert set(capped["sample_id"]) <= set(evaluated["sample_id"])
    assert capped["label"].value_counts().to_dict() == {"cat": 2, "dog": 2, "owl": 2}
    again = gallery_samples(manifest, limit=12, gallery_limit=6, seed=1, dataset="d")
    pd.testing.assert_frame_equal(capped, again)


def test_thumbnail_names_are_safe_and_distinct() -> None:
    names = {thumbnail_name(s) for s in ("a/b", "a_b", "a b", "../../etc", "<x>")}
    assert len(names) == 5
    assert all(n.endswith(".jpg") and "/" not in n and "<" not in n for n in names)


def test_thumbnails(tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    (root / "images").mkdir(parents=True)
    Image.new("RGB", (640, 320), (200, 30, 30)).save(root / "images" / "big.png")
    Image.new("RGBA", (50, 80), (0, 0, 255, 0)).save(root / "images" / "alpha.png")
    (root / "images" / "broken.png").write_bytes(b"not an image")
    samples = pd.DataFrame(
        {"sample_id": ["big", "alpha", "broken"],
         "image": ["images/big.png", "images/alpha.png", "images/broken.png"]}
    )  # fmt: skip
    stats = make_thumbnails(samples, root, tmp_path / "img", size=128)
    assert stats["thumbnails"] == 2 and len(stats["failed"]) == 1
    with Image.open(tmp_path / "img" / thumbnail_name("big")) as big:
        assert big.format == "JPEG" and big.size == (128, 64)
    with Image.open(tmp_path / "img" / thumbnail_name("alpha")) as alpha:
        assert alpha.size == (50, 80)  # never upscaled
        assert alpha.getpixel((10, 10)) == (255, 255, 255)  # transparency on white
    assert not (tmp_path / "img" / thumbnail_name("broken")).exists()


# ------------------------------------------------------------------------------------- page


def _page_fixture(tmp_path: Path) -> dict:
    """A small gallery with known statuses: 6 images, 2 models, one hostile answer."""
    root = tmp_path / "resources" / "dataset"
    (root / "images").mkdir(parents=True)
    ids = [f"img-{i}" for i in range(6)]
    labels = ["cat", "dog", "owl", "cat", "dog", "owl"]
    colours = [(220, 40, 40), (40, 160, 60), (40, 80, 200), (230, 180, 30), (120, 40, 160),
               (20, 150, 150)]  # fmt: skip
    for sid, colour in zip(ids, colours, strict=True):
        Image.new("RGB", (96, 72), colour).save(root / "images" / f"{sid}.png")
    samples = pd.DataFrame(
        {"sample_id": ids, "image": [f"images/{s}.png" for s in ids], "label": labels}
    )
    # model one: correct, wrong, generic, invalid, correct, wrong (hostile text)
    one_answers = ["a cat", "a fox", "a bird", None, "dog", EVIL]
    one = pd.DataFrame(
        {"sample_id": ids, "label": labels, "prompt": "What is it?", "raw": one_answers,
         "answer": one_answers,
         "error": [None, None, None, "unreadable image", None, None]}
    )  # fmt: skip
    one_scores = pd.DataFrame(
        {"sample_id": ids, "valid": [True, True, True, False, True, True],
         "textual_inclusion": [1.0, 0.0, 0.0, np.nan, 1.0, 0.0],
         "semantic_similarity": [0.9, 0.3, 0.7, np.nan, 0.95, 0.1]}
    )  # fmt: skip
    # model two: wrong everywhere, a parse failure (empty output) on img-2
    two_answers = ["truck", "tree", None, "house", "car", "boat"]
    two = one.assign(raw=["truck", "tree", "", "house", "car", "boat"], answer=two_answers,
                     error=None)  # fmt: skip
    two_scores = one_scores.assign(
        valid=True, textual_inclusion=0.0, semantic_similarity=0.1, parse_failure=0.0
    )
    two_scores.loc[2, "parse_failure"] = 1.0
    models = [
        GalleryModel("model-one", one, one_scores),
        GalleryModel("model <two>", two, two_scores),
    ]
    out = tmp_path / "results" / "gallery" / "dataset"
    make_thumbnails(samples, root, out / "img")
    page, standalone = write_gallery(
        samples, models, out / "task.html", image_dir=out / "img",
        standalone=out / "task.standalone.html", dataset="dataset", task="task",
        protocol="open", generic_similarity=0.5, evaluated=6,
    )  # fmt: skip
    expected = {
        "all": 6,
        "correct": 2,  # img-0, img-4
        "generic": 1,  # img-2 (model one)
        "invalid": 1,  # img-3 (model one)
        "parse_failure": 1,  # img-2 (model two)
        "wrong": 6,  # model two is wrong everywhere
        "wrong_one_only": 3,  # model one alone: img-1, img-2 (generic is wrong too), img-5
    }
    return {"page": page, "standalone": standalone, "expected": expected}


def test_page_escapes_model_output(tmp_path: Path) -> None:
    page = _page_fixture(tmp_path)["page"].read_text()
    assert "<script>window.__pwned" not in page
    assert 'onerror="window' not in page
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page
    assert "model &lt;two&gt;" in page
    assert page.count("<script>") == 1  # the page's own filter script


def test_page_counts_and_relative_thumbnails(tmp_path: Path) -> None:
    paths = _page_fixture(tmp_path)
    page = paths["page"].read_text()
    assert page.count('<article class="sample"') == 6
    assert page.count('src="img/') == 6
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    standalone = paths["standalone"].read_text()
    assert 'src="img/' not in standalone and standalone.count("data:image/jpeg;base64,") == 6
    assert inline_images('<img src="img/missing.jpg">', tmp_path) == '<img src="img/missing.jpg">'
    assert oct(paths["page"].stat().st_mode & 0o777) == "0o644"


def test_page_without_predictions() -> None:
    samples = pd.DataFrame({"sample_id": ["a"], "label": ["cat"]})
    empty = pd.DataFrame(columns=["sample_id", "answer", "error"])
    text = render_gallery(samples, [GalleryModel("m", empty, empty)], dataset="d", task="t",
                          protocol="open")  # fmt: skip
    assert "No predictions." in text


# ---------------------------------------------------------------------------------- browser


def _install_chromium() -> str | None:
    """Install Debian's chromium + chromium-driver; returns why it could not, or None."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "chromium is not installed and installing it needs root"
    if shutil.which("apt-get") is None:
        return "chromium is not installed and apt-get is not available"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"]
    try:
        if subprocess.run(install, env=env, capture_output=True, timeout=600).returncode:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True,
                           timeout=300)  # fmt: skip
            result = subprocess.run(install, env=env, capture_output=True, text=True, timeout=600)
            if result.returncode:
                return f"apt-get could not install chromium: {result.stderr[-300:]}"
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"apt-get could not install chromium: {err}"
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')"
    )
    binary, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if binary is None or driver_path is None:
        problem = _install_chromium()
        binary, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
        if binary is None or driver_path is None:
            pytest.skip(problem or "chromium / chromedriver not found after installing")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(driver_path))
    yield driver
    driver.quit()


def _visible_rows(driver) -> int:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('article.sample'))"
        ".filter(e => e.offsetParent !== null).length"
    )


def _set(driver, name: str, values: set[str]) -> None:
    """Tick exactly ``values`` among the ``name`` checkboxes, by clicking like a user."""
    for box in driver.find_elements("css selector", f"#filters input[name={name}]"):
        if box.is_selected() != (box.get_attribute("value") in values):
            box.click()


def _load(driver, path: Path) -> None:
    driver.get(path.as_uri())
    # lazy images load when scrolled to; load all, then wait until every one has finished
    driver.execute_script("document.querySelectorAll('img').forEach(i => i.loading = 'eager')")
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "Promise.all(Array.from(document.images).map(i => i.complete ? 0 :"
        " new Promise(r => { i.onload = i.onerror = r; }))).then(done);"
    )


@pytest.mark.parametrize("variant", ["page", "standalone"])
def test_page_in_chromium(browser, tmp_path: Path, variant: str) -> None:
    fixture = _page_fixture(tmp_path)
    expected = fixture["expected"]
    _load(browser, fixture[variant])
    widths = browser.execute_script("return Array.from(document.images).map(i => i.naturalWidth)")
    assert len(widths) == 6 and all(w > 0 for w in widths)
    assert _visible_rows(browser) == expected["all"]
    assert browser.find_element("id", "shown").text == "6"
    # the hostile answer is shown as text and ran nothing
    assert browser.execute_script("return window.__pwned") is None
    assert "<script>window.__pwned = 1</script>" in browser.find_element("tag name", "main").text

    for status in ("correct", "generic", "invalid", "parse_failure", "wrong"):
        _set(browser, "status", {status})
        assert _visible_rows(browser) == expected[status], status
        assert browser.find_element("id", "shown").text == str(expected[status])
    _set(browser, "model", {"0"})
    assert _visible_rows(browser) == expected["wrong_one_only"]
    cards = browser.execute_script(
        "return Array.from(document.querySelectorAll('section.card'))"
        ".filter(e => e.offsetParent !== null).length"
    )
    assert cards == expected["wrong_one_only"]  # the other model's cards are hidden
    browser.find_element("css selector", "button[data-set=status][data-to=all]").click()
    browser.find_element("css selector", "button[data-set=model][data-to=all]").click()
    assert _visible_rows(browser) == 6
    browser.find_element("css selector", "button[data-set=status][data-to=none]").click()
    assert _visible_rows(browser) == 0


def test_statuses_have_filters(tmp_path: Path) -> None:
    page = _page_fixture(tmp_path)["page"].read_text()
    for key in STATUSES:
        assert f'name="status" value="{key}"' in page


def test_cards_of_label_lists_and_reasoning_tasks() -> None:
    classes = [f"class {i}" for i in range(30)]
    samples = pd.DataFrame({"sample_id": ["a", "b"], "label": ["class 3", "class 4"]})
    predictions = pd.DataFrame(
        {"sample_id": ["a", "b"], "label": ["class 3", "class 4"], "prompt": "Which?",
         "raw": ["It is class 3.", "Let me think. <answer>class 9</answer>"],
         "answer": ["class 3", "class 9"], "answer_final": [None, "class 9"],
         "options": [classes, classes[:4]], "error": None}
    )  # fmt: skip
    scores = pd.DataFrame(
        {"sample_id": ["a", "b"], "valid": True, "accuracy": [1.0, 0.0],
         "answer": ["class 3", "class 2"], "mapping": [None, "nli"],
         "textual_inclusion_final": [np.nan, 0.0]}
    )  # fmt: skip
    page = render_gallery(samples, [GalleryModel("m", predictions, scores)], dataset="d",
                          task="labels-all", protocol="labels")  # fmt: skip
    assert "30 candidate labels" in page  # not 30 list items
    assert page.count("<li ") == 4  # the four options of b are listed
    assert "final answer" in page and "none found" in page
    assert "TI (final) <b>0</b>" in page
    # b's output was mapped onto a label by the scorer: that is what is shown as chosen
    assert page.count("scored as") == 1 and "(nli)</span>" in page
    assert '<li class="chosen">class 2</li>' in page


def test_score_chips_follow_the_declarations() -> None:
    samples = pd.DataFrame({"sample_id": ["a"], "label": ["cat"]})
    predictions = pd.DataFrame(
        {"sample_id": ["a"], "label": ["cat"], "raw": ["a cat"], "answer": ["a cat"],
         "error": None}
    )  # fmt: skip
    scores = pd.DataFrame(
        {"sample_id": ["a"], "valid": True, "exact_match": [0.0], "semantic_similarity": [0.8],
         "semantic_similarity@0.5": [1.0], "semantic_similarity@avg": [1.0],
         "notes": [2.0]}
    )  # fmt: skip
    page = render_gallery(samples, [GalleryModel("m", predictions, scores)], dataset="d",
                          task="t", protocol="open")  # fmt: skip
    assert "EM <b>0</b>" in page and "SS <b>0.80</b>" in page
    # the threshold indicators restate the similarity; an undeclared column is not a score
    assert "SS@" not in page and "notes" not in page
    # exact match decides when nothing ranked before it was scored
    assert '<span class="badge wrong">' in page


def test_mapped_class_label_set_and_out_of_list_are_shown() -> None:
    samples = pd.DataFrame(
        {"sample_id": ["a", "b"], "label": ["cat", "dog"],
         "label_sets": [["cat", "sofa"], []]}
    )  # fmt: skip
    predictions = pd.DataFrame(
        {"sample_id": ["a", "b"], "label": ["cat", "dog"], "raw": ["a sofa", "zebra"],
         "answer": ["a sofa", "zebra"], "error": None}
    )  # fmt: skip
    scores = pd.DataFrame(
        {"sample_id": ["a", "b"], "valid": True, "mapped_accuracy": [0.0, 0.0],
         "mapped_accuracy_multi": [1.0, np.nan], "mapped_class": ["sofa", "horse"],
         "out_of_list": [0.0, 1.0]}
    )  # fmt: skip
    page = render_gallery(samples, [GalleryModel("m", predictions, scores)], dataset="d",
                          task="t", protocol="open")  # fmt: skip
    assert "<dt>mapped to</dt><dd>sofa</dd>" in page and "<dd>horse</dd>" in page
    assert '<div class="labelset">cat, sofa</div>' in page
    assert "no valid label" in page  # b's set is empty
    assert "Acc (mapped) (multi) <b>1</b>" in page
    assert "out of list <b>1</b>" in page
