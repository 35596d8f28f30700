"""The tiny VLMs' chat templates, one per real checkpoint format.

Templates are written without literal newlines (the transformers Jinja environment trims the
newline after a block tag); newlines are emitted as '\\n' string expressions instead.
"""

from __future__ import annotations


def _content(image: str, var: str = "m") -> str:
    """Jinja rendering ``{var}.content`` (a string or a list of parts), ``image`` at image parts."""
    return (
        f"{{% if {var}.content is string %}}{{{{ {var}.content }}}}"
        f"{{% else %}}{{% for p in {var}.content %}}"
        f"{{% if p.type == 'image' %}}{{{{ '{image}' }}}}"
        f"{{% elif p.type == 'text' %}}{{{{ p.text }}}}{{% endif %}}"
        f"{{% endfor %}}{{% endif %}}"
    )


def _chatml(image: str, default_system: str | None = None) -> str:
    """ChatML (Qwen, LLaVA-OneVision, InternVL): ``<|im_start|>role\\n...<|im_end|>\\n``."""
    system = ""
    if default_system:
        system = (
            "{% if messages[0].role != 'system' %}"
            f"{{{{ '<|im_start|>system\\n{default_system}<|im_end|>\\n' }}}}{{% endif %}}"
        )
    return (
        system
        + "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' }}"
        + _content(image)
        + "{{ '<|im_end|>\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    )


QWEN_TEMPLATE = _chatml(
    "<|vision_start|><|image_pad|><|vision_end|>", "You are a helpful assistant."
)

# LLaVA-1.5 (Vicuna): "USER: <image>\nWhat is this? ASSISTANT:"
LLAVA_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m.role == 'system' %}" + _content("") + "{{ ' ' }}"
    "{% elif m.role == 'user' %}{{ 'USER: ' }}" + _content("<image>\\n") + "{{ ' ' }}"
    "{% else %}{{ 'ASSISTANT: ' }}" + _content("") + "{{ eos_token }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)

# LLaVA-NeXT (Mistral): "[INST] <image>\nWhat is this? [/INST]"; a system prompt opens the
# first [INST] block.
LLAVA_NEXT_TEMPLATE = (
    "{{ bos_token }}{% set ns = namespace(open=false) %}{% for m in messages %}"
    "{% if m.role == 'system' %}{{ '[INST] ' }}" + _content("") + "{{ '\\n\\n' }}"
    "{% set ns.open = true %}"
    "{% elif m.role == 'user' %}{% if not ns.open %}{{ '[INST] ' }}{% endif %}"
    + _content("<image>\\n")
    + "{{ ' [/INST]' }}{% set ns.open = false %}"
    "{% else %}{{ ' ' }}" + _content("") + "{{ eos_token }}"
    "{% endif %}{% endfor %}"
)

ONEVISION_TEMPLATE = _chatml("<image>\\n")
INTERNVL_TEMPLATE = _chatml("<IMG_CONTEXT>\\n")


def idefics_template(prefix: str) -> str:
    """Idefics3 / SmolVLM: "User:<image>What is this?<end_of_utterance>\\nAssistant:"."""
    return (
        f"{{{{ '{prefix}' }}}}{{% for m in messages %}}{{{{ m.role | capitalize }}}}"
        "{% if m.content is not string and m.content and m.content[0].type == 'image' %}"
        "{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
        + _content("<image>")
        + "{{ '<end_of_utterance>\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
    )


# Gemma 3: turns "<start_of_turn>user\n...<end_of_turn>\n", the assistant is "model", a system
# prompt is folded into the first user turn.
GEMMA3_TEMPLATE = (
    "{{ bos_token }}{% set ns = namespace(open=false) %}{% for m in messages %}"
    "{% if m.role == 'system' %}{{ '<start_of_turn>user\\n' }}" + _content("") + "{{ '\\n\\n' }}"
    "{% set ns.open = true %}"
    "{% else %}{% if not ns.open %}"
    "{{ '<start_of_turn>' + ('model' if m.role == 'assistant' else m.role) + '\\n' }}{% endif %}"
    + _content("<start_of_image>")
    + "{{ '<end_of_turn>\\n' }}{% set ns.open = false %}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"
)

JUDGE_TEMPLATE = _chatml("")
