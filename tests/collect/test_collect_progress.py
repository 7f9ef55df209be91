"""The progress watch: what counts as the tree moving on, and what does not."""

from __future__ import annotations

from mpdoctor.collect.progress import Activity, ProgressWatch


def reading(cpu: float, pids=(1, 2), events: int = 100) -> Activity:
    return Activity(frozenset(pids), cpu, events)


def test_a_trickle_of_cpu_is_no_progress_but_a_busy_worker_is() -> None:
    watch = ProgressWatch()
    assert watch.observe(0.0, reading(1.0))
    for i in range(1, 21):  # a poll loop: 2 ms of CPU per half second
        assert not watch.observe(i * 0.5, reading(1.0 + i * 0.002))
    assert watch.quiet_for(10.0) == 10.0
    assert watch.observe(10.5, reading(1.5))  # half a core for half a second
    assert watch.quiet_for(10.5) == 0.0


def test_a_process_or_an_event_is_progress() -> None:
    watch = ProgressWatch()
    watch.observe(0.0, reading(1.0))
    assert not watch.observe(1.0, reading(1.0))
    assert watch.observe(2.0, reading(1.0, pids=(1, 2, 3)))
    assert watch.observe(3.0, reading(1.0, pids=(1, 2, 3), events=180))
    assert not watch.observe(4.0, reading(1.0, pids=(1, 2, 3), events=180))
    assert watch.quiet_for(4.0) == 1.0
