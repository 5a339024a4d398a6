"""The suite's own count can be trusted: every test's result reaches pytest-xdist's
controller, even one whose captured log holds text that is not valid UTF-8 (a lone
surrogate, as the hostile-input tests send). Without tests/conftest.py's escaping the
worker dies sending that report and the run ends green with one result missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).with_name("conftest.py")


def test_a_result_whose_log_holds_a_lone_surrogate_is_counted_under_xdist(
    pytester: pytest.Pytester,
) -> None:
    shutil.copyfile(CONFTEST, pytester.path / "conftest.py")
    pytester.makepyfile(
        test_inner="""
        import logging

        def test_logs_what_it_was_sent():
            logging.getLogger("perfbot").warning("refused %s", "bad \\udfff text")

        def test_beside_it():
            assert True
        """
    )
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert "INTERNALERROR" not in result.stdout.str()
