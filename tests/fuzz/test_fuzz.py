"""The input contract under fuzzing: every format, mutated shipped files and hostile ones, through the real
CLI. Exit 0 with a sane report, or exit 2 with one message naming the file; never a traceback, a hang or
runaway memory. A few cases per format by default; `-m slow` runs >= 5,000 (500 per format)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from .cases import FORMATS, STRATEGIES
from .harness import preload, run_case


@pytest.fixture(scope="module", autouse=True)
def _warm():
    preload()


def _contract(case) -> None:
    outcome = run_case(case)
    assert outcome.ok, f"{case.fmt} {case.argv} ({case.note}): {outcome.klass} rc={outcome.rc}\n{outcome.stderr}"


def _fuzz(fmt: str, examples: int, derandomize: bool) -> None:
    def check(case) -> None:
        _contract(case)

    run = settings(max_examples=examples, deadline=None, database=None, derandomize=derandomize,
                   suppress_health_check=list(HealthCheck))(given(STRATEGIES[fmt])(check))
    run()


@pytest.mark.parametrize("fmt", FORMATS)
def test_fuzz_quick(fmt):
    _fuzz(fmt, 3, derandomize=True)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_fuzz_campaign(fmt):
    _fuzz(fmt, 500, derandomize=False)
