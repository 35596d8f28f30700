"""Multi-turn tasks: the model answers the prompt, then each follow-up with its earlier answers
in context, and the last answer is the one scored (lmms-owc's ``llamav_o1``, whose
``generate_until_multi_round`` keeps the conversation and scores ``prediction[-1]``).
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from classbench.backends.base import FollowUp, Generation, GenerativeBackend


def converse(
    backend: GenerativeBackend,
    images: Sequence[Image.Image],
    prompts: Sequence[str],
    follow_ups: Sequence[Sequence[str]],
    *,
    max_new_tokens: int,
) -> tuple[list[Generation], list[list[str] | None]]:
    """Every sample's conversation, one backend call per turn for all samples at once.

    ``max_new_tokens`` is the budget of each turn. Returns, per sample, the last turn's
    :class:`Generation` (``tokens_out`` and ``latency_s`` summed over the turns, ``tokens_in`` of
    the last turn, which holds the whole conversation) and every turn's answer; a sample whose
    turn fails stops there, with the error (naming the turn) and no answers.
    """
    if not len(images) == len(prompts) == len(follow_ups):
        raise ValueError("images, prompts and follow_ups must have the same length")
    results = list(backend.generate(list(images), list(prompts), max_new_tokens=max_new_tokens))
    answers: list[list[str] | None] = [
        [result.text or ""] if result.error is None else None for result in results
    ]
    asked = [str(prompt) for prompt in prompts]
    histories: list[list[tuple[str, str]]] = [[] for _ in prompts]
    for turn in range(max((len(f) for f in follow_ups), default=0)):
        alive = [
            i
            for i, result in enumerate(results)
            if result.error is None and turn < len(follow_ups[i])
        ]
        if not alive:
            break
        for i in alive:
            histories[i].append((asked[i], results[i].text or ""))
            asked[i] = follow_ups[i][turn]
        replies = backend.generate(
            [images[i] for i in alive],
            [FollowUp(asked[i], histories[i]) for i in alive],
            max_new_tokens=max_new_tokens,
        )
        for i, reply in zip(alive, replies, strict=True):
            earlier = results[i]
            if reply.error is not None:
                results[i] = Generation.failed(f"turn {turn + 2}: {reply.error}")
                answers[i] = None
                continue
            results[i] = Generation(
                text=reply.text,
                tokens_in=reply.tokens_in,
                tokens_out=(
                    None
                    if earlier.tokens_out is None or reply.tokens_out is None
                    else earlier.tokens_out + reply.tokens_out
                ),
                latency_s=(
                    None
                    if earlier.latency_s is None or reply.latency_s is None
                    else earlier.latency_s + reply.latency_s
                ),
            )
            answers[i].append(reply.text or "")  # type: ignore[union-attr]
    return results, answers
