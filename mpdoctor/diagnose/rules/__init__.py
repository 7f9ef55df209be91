"""The rules, one module per finding family: each exports RULE_ID, HINT and check(evidence)."""

from __future__ import annotations

from types import ModuleType

from mpdoctor.diagnose.rules import (
    leaked_resource,
    orphan_process,
    process_crashed,
    worker_died,
    zombie_process,
)

ALL_RULES: tuple[ModuleType, ...] = (
    worker_died,
    process_crashed,
    orphan_process,
    zombie_process,
    leaked_resource,
)
