"""GenerativeBackend: the checks and per-sample isolation every generative backend inherits."""

from __future__ import annotations

import pytest
from PIL import Image

from classbench.backends.base import Generation, GenerativeBackend, Sample

IMAGE = Image.new("RGB", (4, 4))


class Echo(GenerativeBackend):
    """Answers each prompt with itself; a prompt "bad" fails its preparation."""

    name = "echo"

    def __init__(self) -> None:
        self.calls: list[list[Sample]] = []

    def answer(self, samples: list[Sample], max_new_tokens: int) -> list[Generation]:
        self.calls.append(samples)

        def prepare(sample: Sample) -> Sample:
            if sample.prompt == "bad":
                raise ValueError("unreadable")
            return sample

        results, ready = self.prepare_each(samples, prepare)
        answered = [(index, Generation(text=sample.prompt)) for index, sample in ready]
        return self.in_input_order(results, answered)


def test_samples_carry_their_choices_and_answers_keep_input_order() -> None:
    backend = Echo()
    out = backend.generate([IMAGE] * 3, ["a", "bad", "c"], max_new_tokens=4)
    assert [g.text for g in out] == ["a", None, "c"]
    assert out[1].error == "ValueError: unreadable"
    assert [s.choices for s in backend.calls[0]] == [None, None, None]
    backend.generate([IMAGE], ["x"], max_new_tokens=4, choices=[["p", "q"]])
    assert backend.calls[1] == [Sample(IMAGE, "x", ["p", "q"])]


def test_mismatched_lists_are_refused_and_an_empty_call_asks_nothing() -> None:
    backend = Echo()
    with pytest.raises(ValueError, match="2 images but 1 prompts"):
        backend.generate([IMAGE, IMAGE], ["a"], max_new_tokens=4)
    with pytest.raises(ValueError, match="1 choice lists but 2 prompts"):
        backend.generate([IMAGE, IMAGE], ["a", "b"], max_new_tokens=4, choices=[None])
    assert backend.generate([], [], max_new_tokens=4) == []
    assert backend.calls == []


def test_a_failure_is_written_from_its_reason_or_its_exception() -> None:
    assert Generation.failed("Aborted: gone") == Generation(text=None, error="Aborted: gone")
    assert Generation.failed(KeyError("x")).error == "KeyError: 'x'"


def test_the_image_is_fitted_to_max_pixels() -> None:
    backend = Echo()
    backend.max_pixels = 16
    assert backend.prepare_image(Image.new("L", (8, 8))).size == (4, 4)
    assert backend.prepare_image(Image.new("L", (8, 8))).mode == "RGB"


def test_a_ready_sample_left_unanswered_is_an_error_not_a_shift() -> None:
    results, _ready = GenerativeBackend.prepare_each(
        [Sample(IMAGE, "a", None), Sample(IMAGE, "b", None)], lambda sample: sample
    )
    with pytest.raises(RuntimeError, match=r"no answer for samples \[0\]"):
        GenerativeBackend.in_input_order(results, [(1, Generation(text="b"))])
