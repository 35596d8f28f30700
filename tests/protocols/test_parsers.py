"""Multiple-choice answer parsers: every letter of 4- and 26-way questions, and the law that a
parser answers with an offered option or not at all."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classbench.protocols import mcq

# Option names that share no word and start with no single-letter word.
WORDS = [
    "alpaca", "beaver", "camel", "dingo", "emu", "ferret", "gecko", "heron", "ibis", "jackal",
    "koala", "lemur", "marmot", "newt", "ocelot", "puffin", "quokka", "raven", "stoat", "tapir",
    "urchin", "vole", "walrus", "xerus", "yak", "zebu",
]  # fmt: skip
STATUSES = {"letter", "option_text", "failed", "empty", "ambiguous", "letter_out_of_range"}
EVERY_LETTER = [(k, i) for k in (4, 26) for i in range(k)]


def parse(raw, k, parser):
    return mcq.parse(raw, WORDS[:k], {"parser": parser})


def assert_chose(result, k, index, status="letter"):
    assert result == {
        "answer": WORDS[:k][index],
        "answer_letter": string.ascii_uppercase[index],
        "parse_status": status,
    }


FOCI_FORMS = ["{L}", "{L}.", "{L}. {option}", "{L}) {option}", " {L}\n"]
ROBUST_FORMS = [
    "{L}", "({L})", "[{L}]", "{L}.", "{L}:", "**{L}**", "{L}) {option}", "Answer: {L}",
    "The answer is {L}", "Option ({L})", "{L} {option}",
]  # fmt: skip
# Lower-case letters read as capitals wherever they cannot be a word.
ROBUST_LOWER_FORMS = [
    "{l}", " {l}\n", "({l})", "[{l}]", "{l}.", "{l}:", "{l},", "**{l}**", "`{l}`", "{l}) {option}",
    "answer: {l}", "Answer: {l}.", "the answer is {l}", "The answer is ({l})", "option ({l})",
    "choice: [{l}]", "{l} {option}",
]  # fmt: skip


TABLES = {
    "foci, capitals": ("foci", FOCI_FORMS, string.ascii_uppercase),
    "robust, capitals": ("robust", ROBUST_FORMS, string.ascii_uppercase),
    "robust, lower case": ("robust", ROBUST_LOWER_FORMS, string.ascii_lowercase),
}


@pytest.mark.parametrize("table", list(TABLES))
@pytest.mark.parametrize(("k", "index"), EVERY_LETTER)
def test_every_letter_in_every_form(table, k, index):
    parser, forms, alphabet = TABLES[table]
    for form in forms:
        raw = form.format(L=alphabet[index], l=alphabet[index], option=WORDS[index])
        assert_chose(parse(raw, k, parser), k, index)


@pytest.mark.parametrize(("k", "index"), EVERY_LETTER)
def test_robust_reads_every_option_by_name(k, index):
    raw = f"It looks like a {WORDS[index]} to me."
    assert_chose(parse(raw, k, "robust"), k, index, status="option_text")


@pytest.mark.parametrize(("k", "index"), EVERY_LETTER)
def test_foci_reads_every_lower_case_letter(k, index):
    # FOCI lowercases the answer before matching, so "d" and "d. dingo" are option D.
    letter = string.ascii_lowercase[index]
    assert_chose(parse(letter, k, "foci"), k, index)
    assert_chose(parse(f"{letter}. {WORDS[index]}", k, "foci"), k, index)


@pytest.mark.parametrize("letter", list(string.ascii_uppercase[4:]))
def test_a_letter_past_the_options_of_a_4_way_question_is_no_answer(letter):
    robust = parse(letter, 4, "robust")
    assert robust == {"answer": None, "answer_letter": None, "parse_status": "letter_out_of_range"}
    assert parse(f"Answer: {letter}", 4, "robust")["answer_letter"] is None
    assert parse(letter, 4, "foci") == {
        "answer": None, "answer_letter": None, "parse_status": "failed"
    }  # fmt: skip


def raw_answers():
    letter = st.sampled_from(string.ascii_letters)
    option = st.sampled_from(WORDS)
    form = st.sampled_from(["{L}", "({L})", "{L}.", "Answer: {L}", "the answer is {L}",
                            "{L} {o}", "{o}", "{L}) {o}", "{o} or {o}", " {L}{L}"])  # fmt: skip
    composed = st.builds(lambda f, L, o: f.format(L=L, o=o), form, letter, option)
    return st.one_of(st.text(max_size=30), composed)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    st.integers(2, 26).flatmap(lambda k: st.tuples(st.just(k), raw_answers())),
    st.sampled_from(["foci", "robust"]),
    st.booleans(),
)
def test_every_parser_answers_an_offered_option_or_nothing(k_raw, parser, scramble):
    k, raw = k_raw
    options = WORDS[:k][::-1] if scramble else WORDS[:k]
    result = mcq.parse(raw, options, {"parser": parser})
    assert result["parse_status"] in STATUSES
    letter = result["answer_letter"]
    if letter is None:
        assert result["answer"] is None
        assert result["parse_status"] not in {"letter", "option_text"}
    else:
        assert letter in string.ascii_uppercase[:k]
        assert result["answer"] == options[string.ascii_uppercase.index(letter)]
        assert result["parse_status"] in {"letter", "option_text"}
