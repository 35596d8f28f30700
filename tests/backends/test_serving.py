"""The `transformers serve` fixture behind the HTTP tests fails loudly when the server dies."""

from __future__ import annotations

import pytest
import serving


def test_a_server_that_cannot_start_fails_the_test(tmp_path):
    pytest.importorskip("transformers", reason="transformers[serving] is not installed")
    # Skipped and Failed are both raised as exceptions; a server that exits (here: its model
    # folder does not exist) must be Failed, so a broken install cannot pass as a skip.
    with (
        pytest.raises(BaseException) as raised,
        serving.transformers_serve(tmp_path / "no-model", tmp_path),
    ):
        pass
    assert raised.type is pytest.fail.Exception
    assert "`transformers serve` did not start" in str(raised.value)
    assert "no-model" in str(raised.value)  # the server's own log says why
