"""Laws of the string metrics, checked by hypothesis on generated answers."""

from __future__ import annotations

import string

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from classbench.scoring import metrics

# Answers and labels are English text; ASCII keeps case changes length-preserving ("ß" -> "SS").
TEXT = st.text(alphabet=string.ascii_letters + string.digits + " .,-'\t\n", max_size=25)
CASES = [str.lower, str.upper, str.swapcase, str.title, str]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(TEXT, TEXT, st.sampled_from(CASES), st.sampled_from(CASES))
def test_textual_inclusion_is_invariant_to_case(prediction, reference, recase_pred, recase_ref):
    original = metrics.textual_inclusion([prediction], [reference])
    recased = metrics.textual_inclusion([recase_pred(prediction)], [recase_ref(reference)])
    np.testing.assert_array_equal(recased, original)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(TEXT, TEXT.filter(lambda text: text.strip()), TEXT, st.sampled_from(CASES))
def test_a_prediction_that_names_the_label_is_included(before, label, after, recase):
    # Whatever surrounds the label, in whatever case, the prediction includes it; the same
    # prediction with the label's letters dropped does not (it is shorter than the label).
    prediction = recase(before + label + after)
    assert metrics.textual_inclusion([prediction], [label]).tolist() == [1.0]
    assert metrics.textual_inclusion([label.strip()[:-1]], [label]).tolist() == [0.0]
    assert np.isnan(metrics.textual_inclusion([None], [label])).all()
