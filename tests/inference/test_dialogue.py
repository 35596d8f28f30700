"""Multi-turn tasks (lmms-owc llamav_o1): turns in context, the last answer scored."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from classbench.backends.base import FollowUp, Generation, conversation
from classbench.config import load_yaml
from classbench.data import prepare_dataset
from classbench.inference.dialogue import converse
from classbench.inference.job import evaluate

REPO = Path(__file__).resolve().parents[2]
IMAGE = {"type": "image"}


def test_a_follow_up_unrolls_into_the_chat_every_backend_sends():
    turn = FollowUp(
        "Final answer?", [("What is it? Summarise.", "A summary."), ("Caption?", "A cap.")]
    )
    assert turn == "Final answer?" and isinstance(turn, str)
    assert conversation(IMAGE, turn, system_prompt="Be brief.") == [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [IMAGE, {"type": "text", "text": "What is it? Summarise."}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A summary."}]},
        {"role": "user", "content": [{"type": "text", "text": "Caption?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A cap."}]},
        {"role": "user", "content": [{"type": "text", "text": "Final answer?"}]},
    ]
    # A plain prompt is the one-turn chat, as before.
    assert conversation(IMAGE, "What is it?") == [
        {"role": "user", "content": [IMAGE, {"type": "text", "text": "What is it?"}]}
    ]


class Recorder:
    """Answers "<turn text> #<turns seen>" and records each call's prompts with their history."""

    name = "recorder"

    def __init__(self, fail: str | None = None) -> None:
        self.calls: list[list[tuple[str, tuple]]] = []
        self.fail = fail

    def generate(self, images, prompts, *, max_new_tokens, choices=None):
        self.calls.append([(str(p), getattr(p, "history", ())) for p in prompts])
        out = []
        for prompt in prompts:
            if prompt == self.fail:
                out.append(Generation(text=None, error="RuntimeError: boom"))
                continue
            turns = len(getattr(prompt, "history", ())) + 1
            out.append(Generation(f"{prompt} #{turns}", tokens_in=10 * turns, tokens_out=3,
                                  latency_s=0.5))  # fmt: skip
        return out

    def info(self):
        return {"name": self.name}

    def close(self):
        pass


def test_each_turn_sees_the_earlier_answers_and_the_last_one_is_kept():
    images = [Image.new("RGB", (8, 8))] * 2
    backend = Recorder()
    results, answers = converse(
        backend, images, ["Q1", "Q1"], [["Q2", "Q3"], ["Q2", "Q3"]], max_new_tokens=5
    )
    assert len(backend.calls) == 3  # one call per turn, both samples together
    assert backend.calls[2][0] == ("Q3", (("Q1", "Q1 #1"), ("Q2", "Q2 #2")))
    assert [r.text for r in results] == ["Q3 #3", "Q3 #3"]
    assert answers == [["Q1 #1", "Q2 #2", "Q3 #3"]] * 2
    # tokens out and latency add up over the three turns; tokens in is the last (whole) context
    assert (results[0].tokens_out, results[0].latency_s, results[0].tokens_in) == (9, 1.5, 30)


def test_a_failed_turn_fails_the_sample_and_names_the_turn():
    images = [Image.new("RGB", (8, 8))]
    results, answers = converse(Recorder(fail="Q2"), images, ["Q1"], [["Q2", "Q3"]],
                                max_new_tokens=5)  # fmt: skip
    assert results[0].text is None and results[0].error == "turn 2: RuntimeError: boom"
    assert answers == [None]


@pytest.fixture
def fake_backend(monkeypatch) -> Recorder:
    backend = Recorder()
    monkeypatch.setattr("classbench.inference.job.load_backend", lambda spec: backend)
    return backend


def test_the_llamav_o1_task_runs_as_a_conversation_and_scores_the_last_turn(tmp_path, fake_backend):
    spec = {
        "source": {"kind": "synthetic", "generator": "shapes", "images_per_class": 1, "seed": 0,
                   "size": 16},
        "classes": ["circle", "ring"], "group": "prototypical",
        "expected": {"classes": 2, "images": 2},
    }  # fmt: skip
    root = tmp_path / "shapes"
    prepare_dataset("shapes", spec, root)
    task = load_yaml(REPO / "config" / "tasks.yaml")["owc-llamav-o1"]
    common = {
        "dataset_root": root, "dataset_name": "shapes", "dataset_spec": spec,
        "task_name": "owc-llamav-o1", "model_name": "fake", "model_spec": {"backend": "hf"},
        "output": tmp_path / "predictions.parquet", "seed": 0,
    }  # fmt: skip
    predictions = evaluate(**common, task=task)
    assert len(fake_backend.calls) == 4  # four turns, both images in each call
    last = "Generate the final answer based on reasoning steps. #4"
    assert predictions["raw"].tolist() == predictions["answer"].tolist() == [last, last]
    assert set(predictions["prompt"]) == {task["prompt"]}
    assert [len(turns) for turns in predictions["turn_answers"]] == [4, 4]
    # Other follow-ups are another conversation: nothing is reused from the first run.
    changed = {**task, "follow_ups": [*task["follow_ups"][:2], "Name the class."]}
    again = evaluate(**common, task=changed)
    assert len(fake_backend.calls) == 8
    assert set(again["raw"]) == {"Name the class. #4"}
