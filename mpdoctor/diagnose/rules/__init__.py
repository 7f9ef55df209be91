"""The rules, one module per finding family: each exports RULE_ID, HINT and check(evidence)."""

from __future__ import annotations

from types import ModuleType

from mpdoctor.diagnose.rules import (
    child_stdin,
    daemon_children,
    fork_with_threads,
    initializer_failed,
    interactive_main,
    join_deadlock,
    leaked_resource,
    manager_gone,
    missing_main_guard,
    no_progress,
    orphan_process,
    orphaned_wait,
    pool_terminated,
    process_crashed,
    respawn_loop,
    start_method_conflict,
    unpicklable_callable,
    unpicklable_exception,
    unpicklable_object,
    unpicklable_result,
    worker_died,
    zombie_process,
)

# Causes first: a child that died of a cause named here is not also a crash or a dead worker.
ALL_RULES: tuple[ModuleType, ...] = (
    missing_main_guard,
    interactive_main,
    initializer_failed,
    unpicklable_callable,
    unpicklable_object,
    unpicklable_result,
    unpicklable_exception,
    start_method_conflict,
    daemon_children,
    child_stdin,
    manager_gone,
    respawn_loop,
    worker_died,
    process_crashed,
    orphan_process,
    zombie_process,
    leaked_resource,
    join_deadlock,
    orphaned_wait,
    pool_terminated,
    fork_with_threads,
    no_progress,
)
