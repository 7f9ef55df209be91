"""respawn-loop on hand-built evidence: workers dying right after their start, again and again."""

from __future__ import annotations

from diagnose_helpers import evidence, main_proc, pool, proc

from mpdoctor.diagnose import diagnose


def worker(pid: int, n: int, start: float, **fields):
    fields.setdefault("name", f"ForkPoolWorker-{n}")
    fields.setdefault("started_as", "pool-worker")
    fields.setdefault("pool_id", "100:1")
    return proc(pid, t=start, started_s=start, ended_s=start + 0.01, exit_code=3, **fields)


def test_many_early_deaths_are_one_respawn_loop() -> None:
    workers = [worker(101 + i, i + 1, 0.05 * i) for i in range(6)]
    ev = evidence(main_proc(), *workers, pools=[pool()], respawn_stopped_parent=100)
    [finding] = diagnose(ev)
    assert finding.id == "respawn-loop" and finding.pids == [101 + i for i in range(6)]
    assert "mpdoctor stopped the loop" in finding.message


def test_a_worker_started_as_the_tree_was_stopped_joins_the_loop() -> None:
    """Its parent was ended before it recorded the start: no pool is known for it."""
    workers = [worker(101 + i, i + 1, 0.05 * i) for i in range(6)]
    late = proc(
        120, t=0.5, started_s=0.5, ended_s=0.51, exit_code=3, name="ForkPoolWorker-7",
        started_as="pool-worker",
    )  # fmt: skip
    ev = evidence(main_proc(), *workers, late, pools=[pool()], respawn_stopped_parent=100)
    assert [(f.id, f.pids[-1]) for f in diagnose(ev)] == [("respawn-loop", 120)]


def test_a_few_deaths_are_dead_workers_not_a_loop() -> None:
    workers = [worker(101 + i, i + 1, 0.05 * i) for i in range(2)]
    ev = evidence(main_proc(), *workers, pools=[pool()])
    assert [f.id for f in diagnose(ev)] == ["worker-died"]


def test_replacements_dying_too_are_a_loop_even_when_the_program_ends_it_early() -> None:
    """Python 3.9's map_async can raise ZeroDivisionError while the pool is empty, ending the
    program after 3 deaths in a pool of 2: the replacement died the same way, so it is a loop."""
    workers = [worker(101 + i, i + 1, 0.01 * i) for i in range(3)]
    ev = evidence(main_proc(exit_code=1), *workers, pools=[pool(size=2)])
    [finding] = diagnose(ev)
    assert finding.id == "respawn-loop" and "mpdoctor stopped" not in finding.message


def test_as_many_early_deaths_as_workers_are_not_yet_a_loop() -> None:
    """No replacement is known to have died: each worker may have had its own reason."""
    workers = [worker(101 + i, i + 1, 0.01 * i) for i in range(3)]
    ev = evidence(main_proc(exit_code=1), *workers, pools=[pool(size=3)])
    assert [f.id for f in diagnose(ev)] == ["worker-died"]
