"""The slow do-no-harm tests (full CPython suite for every start method, samples on 3.8 and 3.13)
run only when asked for: `pytest -m slow`, or MPDOCTOR_RUN_SLOW=1. A plain `pytest` (what CI
runs) stays within a few minutes here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.getoption("markexpr") or "") or os.environ.get("MPDOCTOR_RUN_SLOW"):
        return
    skip = pytest.mark.skip(reason="slow: run with `pytest -m slow` or MPDOCTOR_RUN_SLOW=1")
    for item in items:
        if "slow" in item.keywords and Path(str(item.path)).is_relative_to(HERE):
            item.add_marker(skip)
