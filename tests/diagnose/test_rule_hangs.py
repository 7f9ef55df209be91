"""The hang rules on hand-built snapshots: what each proves, and what must never count as proof
(a timed wait, a thread ptrace rules hid, a process still able to act)."""

from __future__ import annotations

from diagnose_helpers import SCRIPT, evidence, main_proc, pool, proc

from mpdoctor.diagnose import diagnose
from mpdoctor.diagnose.evidence import (
    ForkThreadInfo,
    HangSnapshot,
    PipeState,
    ThreadStack,
    ThreadState,
)
from mpdoctor.diagnose.hangs import proven_hangs
from mpdoctor.model import Frame

STDLIB = "/usr/lib/python3.11"


def frames(*items: tuple[str, int, str]) -> list[Frame]:
    """Innermost first, as faulthandler prints them."""
    return [Frame(f, n, fn) for f, n, fn in items]


def stack(tid: int, name: str, *items: tuple[str, int, str]) -> ThreadStack:
    return ThreadStack(ident=tid * 1000, tid=tid, name=name, frames=frames(*items))


JOIN = ThreadState(
    tid=100, state="S", syscall="wait4", waits_for_pid=101, timed=False, blocked=True
)
JOIN_STACK = stack(
    100,
    "MainThread",
    (f"{STDLIB}/multiprocessing/popen_fork.py", 27, "poll"),
    (f"{STDLIB}/multiprocessing/process.py", 149, "join"),
    (SCRIPT, 14, "<module>"),
)


def join_before_drain(feeder_timed: bool = False, readable: bool = True) -> HangSnapshot:
    return HangSnapshot(
        t_s=2.0,
        quiet_s=1.0,
        threads={
            100: [JOIN],
            101: [
                ThreadState(101, "S", "futex", futex="wait private", timed=False, blocked=True),
                ThreadState(
                    102,
                    "S",
                    "write",
                    fd=6,
                    timed=True if feeder_timed else None,
                    blocked=True,
                    readable=readable,
                ),
            ],
        },
        pipes=[PipeState(5000, readers=[(100, 5), (101, 5)], writers=[(101, 6)], queued=65536)],
        stacks={100: [JOIN_STACK]},
    )


def test_join_before_drain_is_a_join_deadlock_at_the_join_line() -> None:
    ev = evidence(main_proc(state="sleeping", exit_code=None, ended_s=None),
                  proc(101, t=0.1, name="Process-1", state="sleeping", exit_code=None),
                  hang=join_before_drain())  # fmt: skip
    [finding] = diagnose(ev)
    assert (finding.id, finding.certainty, finding.severity) == ("join-deadlock", "proven", "error")
    assert finding.pids == [100, 101]
    assert [(loc.role, loc.line) for loc in finding.locations] == [("blocked", 14)]
    assert "64.0 KiB queued" in finding.message


def test_a_timed_or_hidden_wait_proves_nothing() -> None:
    for snap in (join_before_drain(feeder_timed=True), join_before_drain(readable=False)):
        ev = evidence(main_proc(state="sleeping", exit_code=None, ended_s=None),
                      proc(101, t=0.1, state="sleeping", exit_code=None), hang=snap)  # fmt: skip
        assert not proven_hangs(ev)
        assert [f.id for f in diagnose(ev)] == ["no-progress"]


def test_a_stopping_snapshot_of_a_busy_tree_is_not_no_progress() -> None:
    snap = join_before_drain(feeder_timed=True)
    snap.quiet_s, snap.reason = 0.0, "timeout"
    ev = evidence(main_proc(), proc(101, t=0.1), hang=snap)
    assert diagnose(ev) == []


def _pool_waiter(tid: int = 100) -> ThreadStack:
    return stack(
        tid,
        "MainThread",
        (f"{STDLIB}/threading.py", 320, "wait"),
        (f"{STDLIB}/multiprocessing/pool.py", 765, "wait"),
        (f"{STDLIB}/multiprocessing/pool.py", 768, "get"),
        (SCRIPT, 9, "<module>"),
    )


def test_get_after_the_with_block_is_pool_terminated() -> None:
    snap = HangSnapshot(
        t_s=2.0,
        quiet_s=1.0,
        threads={100: [ThreadState(100, "S", "futex", futex="wait_bitset private", blocked=True)]},
        stacks={100: [_pool_waiter()]},
    )
    ev = evidence(main_proc(state="sleeping", exit_code=None, ended_s=None),
                  pools=[pool(ended_s=0.5, ended_how="terminate", line=7)], hang=snap)  # fmt: skip
    [finding] = diagnose(ev)
    assert finding.id == "pool-terminated"
    assert [(loc.role, loc.line) for loc in finding.locations] == [
        ("blocked", 9),
        ("terminated", 7),
    ]


def test_a_pool_with_a_handler_thread_left_is_not_terminated_proof() -> None:
    snap = HangSnapshot(
        t_s=2.0,
        quiet_s=1.0,
        threads={
            100: [
                ThreadState(100, "S", "futex", futex="wait_bitset private", blocked=True),
                ThreadState(103, "S", "futex", futex="wait private", timed=True, blocked=True),
            ]
        },
        stacks={100: [_pool_waiter()]},
    )
    ev = evidence(main_proc(state="sleeping", exit_code=None, ended_s=None),
                  pools=[pool(ended_s=0.5, ended_how="terminate")], hang=snap)  # fmt: skip
    assert not proven_hangs(ev)


def _lost_task(worker_wait: ThreadState, worker_stack: ThreadStack) -> HangSnapshot:
    handler = stack(103, "Thread-1 (_handle_workers)",
                    (f"{STDLIB}/multiprocessing/pool.py", 522, "_handle_workers"))  # fmt: skip
    results = stack(105, "Thread-3 (_handle_results)",
                    (f"{STDLIB}/multiprocessing/pool.py", 579, "_handle_results"))  # fmt: skip
    tasks = stack(104, "Thread-2 (_handle_tasks)",
                  (f"{STDLIB}/multiprocessing/pool.py", 531, "_handle_tasks"))  # fmt: skip
    return HangSnapshot(
        t_s=2.0,
        quiet_s=1.0,
        threads={
            100: [
                ThreadState(100, "S", "futex", futex="wait_bitset private", blocked=True),
                ThreadState(103, "S", "poll", timed=False, blocked=True),
                ThreadState(104, "S", "futex", futex="wait private", blocked=True),
                ThreadState(105, "S", "read", fd=7, blocked=True),
            ],
            102: [worker_wait],
        },
        pipes=[
            PipeState(6000, readers=[(100, 7)], writers=[(100, 8), (102, 8)]),  # results
            PipeState(6001, readers=[(102, 3), (100, 3)], writers=[(100, 9)]),  # tasks
        ],
        stacks={100: [_pool_waiter(), handler, tasks, results], 102: [worker_stack]},
    )


IDLE_WORKER = stack(
    102,
    "MainThread",
    (f"{STDLIB}/multiprocessing/connection.py", 430, "_recv"),
    (f"{STDLIB}/multiprocessing/queues.py", 367, "get"),
    (f"{STDLIB}/multiprocessing/pool.py", 114, "worker"),
)


def test_a_lost_task_links_the_hang_to_the_dead_worker() -> None:
    snap = _lost_task(ThreadState(102, "S", "read", fd=3, blocked=True), IDLE_WORKER)
    dead = proc(101, t=0.1, name="ForkPoolWorker-1", started_as="pool-worker", pool_id="100:1",
                signal=9, ended_s=0.3)  # fmt: skip
    idle = proc(102, t=0.1, name="ForkPoolWorker-2", started_as="pool-worker", pool_id="100:1",
                state="sleeping", exit_code=None)  # fmt: skip
    main = main_proc(state="sleeping", exit_code=None, ended_s=None)
    ev = evidence(main, dead, idle, pools=[pool()], hang=snap)
    [finding] = diagnose(ev)
    assert finding.id == "worker-died" and "waits at" in finding.message
    assert ("blocked", 9) in [(loc.role, loc.line) for loc in finding.locations]
    # a worker still running, or blocked in something of the program's, may deliver yet
    running = _lost_task(ThreadState(102, "R", "running"), IDLE_WORKER)
    assert not proven_hangs(evidence(main, dead, idle, pools=[pool()], hang=running))
    in_task = stack(102, "MainThread", (SCRIPT, 30, "task"),
                    (f"{STDLIB}/multiprocessing/pool.py", 125, "worker"))  # fmt: skip
    grandchild = _lost_task(ThreadState(102, "S", "wait4", waits_for_pid=110, timed=False,
                                        blocked=True), in_task)  # fmt: skip
    grandchild.threads[110] = [ThreadState(110, "R", "running")]
    assert not proven_hangs(evidence(main, dead, idle, pools=[pool()], hang=grandchild))


def test_a_forked_child_alone_on_a_private_lock_is_fork_with_threads() -> None:
    child_stack = stack(101, "MainThread", (SCRIPT, 11, "child"),
                        (f"{STDLIB}/multiprocessing/process.py", 108, "run"))  # fmt: skip
    snap = HangSnapshot(
        t_s=2.0,
        quiet_s=1.0,
        threads={
            100: [JOIN],
            101: [ThreadState(101, "S", "futex", futex="wait_bitset private", blocked=True)],
        },
        stacks={100: [JOIN_STACK], 101: [child_stack]},
    )
    holder = ForkThreadInfo("Thread-1 (holder)", frames((SCRIPT, 8, "holder")))
    child = proc(101, t=0.1, name="ForkProcess-1", state="sleeping", exit_code=None,
                 threads_at_fork=2, fork_threads=[holder])  # fmt: skip
    ev = evidence(main_proc(state="sleeping", exit_code=None, ended_s=None), child, hang=snap)
    [finding] = diagnose(ev)
    assert finding.id == "fork-with-threads" and finding.pids == [101]
    assert "Thread-1 (holder) in holder" in finding.evidence[0]
    one_thread_parent = proc(101, t=0.1, state="sleeping", exit_code=None, threads_at_fork=1)
    ev = evidence(main_proc(state="sleeping", exit_code=None, ended_s=None),
                  one_thread_parent, hang=snap)  # fmt: skip
    assert not proven_hangs(ev)
    shared = HangSnapshot(t_s=2.0, quiet_s=1.0, threads={**snap.threads, 101: [
        ThreadState(101, "S", "futex", futex="wait shared", blocked=True)]})  # fmt: skip
    ev = evidence(main_proc(state="sleeping", exit_code=None, ended_s=None), child, hang=shared)
    assert not proven_hangs(ev)  # a lock in shared memory: another process may release it


def test_a_read_only_the_reader_could_satisfy_is_orphaned() -> None:
    get = stack(
        100,
        "MainThread",
        (f"{STDLIB}/multiprocessing/connection.py", 430, "_recv"),
        (f"{STDLIB}/multiprocessing/queues.py", 103, "get"),
        (SCRIPT, 8, "<module>"),
    )
    snap = HangSnapshot(
        t_s=2.0,
        quiet_s=1.0,
        threads={100: [ThreadState(100, "S", "read", fd=3, blocked=True)]},
        pipes=[PipeState(7000, readers=[(100, 3)], writers=[(100, 4)], queued=0)],
        stacks={100: [get]},
        ended=True,
    )
    producer = proc(101, t=0.1, name="Process-1", exit_code=1, ended_s=0.3)
    # a child that ended well after it is not taken for the producer: the crashed one is
    bystander = proc(102, t=0.2, name="Process-2", exit_code=0, ended_s=0.5)
    ev = evidence(
        main_proc(state="sleeping", exit_code=None, ended_s=None), producer, bystander, hang=snap
    )
    ids = {f.id: f for f in diagnose(ev)}
    assert ids["orphaned-wait"].certainty == "proven"
    assert "producer was likely Process-1 (pid 101), which exited with code 1" in (
        ids["orphaned-wait"].message
    )
    assert [(loc.role, loc.line) for loc in ids["orphaned-wait"].locations] == [("blocked", 8)]


def test_a_polling_loop_on_a_dead_producer_is_suspected() -> None:
    sleeping = stack(100, "MainThread", (SCRIPT, 9, "<module>"))
    snap = HangSnapshot(
        t_s=3.0,
        quiet_s=2.0,
        threads={100: [ThreadState(100, "S", "clock_nanosleep", timed=True)]},
        pipes=[PipeState(7000, readers=[(100, 3)], writers=[(100, 4)], queued=0)],
        stacks={100: [sleeping]},
        sources={(SCRIPT, 8): "while q.empty():", (SCRIPT, 9): "time.sleep(0.1)"},
    )
    producer = proc(101, t=0.1, name="Process-1", exit_code=1, ended_s=0.3)
    ev = evidence(main_proc(state="sleeping", exit_code=None, ended_s=None), producer, hang=snap)
    [finding] = [f for f in diagnose(ev) if f.id == "orphaned-wait"]
    assert (finding.certainty, finding.severity) == ("suspected", "warning")
    assert [(loc.role, loc.line) for loc in finding.locations] == [("blocked", 8)]
    assert "no-progress" not in {f.id for f in diagnose(ev)}
    snap.pipes[0].external = True  # held outside the tree too: data can still come
    assert "orphaned-wait" not in {f.id for f in diagnose(ev)}
    snap.pipes[0].external = False
    snap.sources = {(SCRIPT, 9): "time.sleep(0.1)"}  # a plain sleep: nothing to blame
    assert {f.id for f in diagnose(ev)} == {"no-progress", "process-crashed"}


def _reader(extra_threads=(), **pipe_fields) -> HangSnapshot:
    """The main process blocked reading a pipe only it writes to (Queue.get(), dead producer)."""
    pipe = {"readers": [(100, 3)], "writers": [(100, 4)], "queued": 0, **pipe_fields}
    return HangSnapshot(
        t_s=2.0,
        quiet_s=1.0,
        threads={100: [ThreadState(100, "S", "read", fd=3, blocked=True), *extra_threads]},
        pipes=[PipeState(7000, **pipe)],
        ended=True,
    )


def _orphans(snap: HangSnapshot) -> list:
    return proven_hangs(evidence(main_proc(state="sleeping", exit_code=None, ended_s=None),
                                 hang=snap)).orphaned  # fmt: skip


def test_a_read_whose_writer_is_outside_or_hidden_proves_nothing() -> None:
    assert _orphans(_reader())  # the baseline: proven
    # `tail -f log | mpdoctor run prog.py`: the writer is outside the tree
    assert not _orphans(_reader(writers=[], external=True))
    assert not _orphans(_reader(writers=[]))  # no writer at all: the read would see EOF
    hidden = _reader(writers=[(100, 4), (120, 9)])
    hidden.unreadable_fds = {120}
    hidden.threads[120] = [ThreadState(120, "S", "read", fd=0, blocked=True)]
    assert not _orphans(hidden)  # a process whose descriptors we cannot see might write


def test_a_thread_that_can_still_act_releases_the_wait() -> None:
    # a listener thread in accept() will put() on the queue the main thread reads
    assert not _orphans(_reader([ThreadState(101, "S", "accept", fd=5, blocked=True)]))
    # an asyncio loop in epoll, a lock shared with other processes, a hidden system call
    assert not _orphans(_reader([ThreadState(101, "S", "epoll_wait", blocked=True)]))
    assert not _orphans(_reader([ThreadState(101, "S", "futex", futex="wait shared",
                                             blocked=True)]))  # fmt: skip
    assert not _orphans(_reader([ThreadState(101, "S", None, readable=False)]))
    # a thread of its own waiting on a private lock only the stuck reader could free: stuck
    assert _orphans(_reader([ThreadState(101, "S", "futex", futex="wait private", blocked=True)]))


def test_a_process_with_signal_handlers_is_never_proven_stuck() -> None:
    snap = _reader()
    snap.catches = {100: [2, 42]}  # Python's SIGINT handler and the stack signal
    snap.stack_signal = 42
    assert _orphans(snap)
    snap.catches = {100: [2, 15, 42]}  # a SIGTERM handler may end any wait
    assert not _orphans(snap)


def test_a_join_whose_drain_thread_waits_on_a_busy_sibling_is_not_a_deadlock() -> None:
    snap = join_before_drain()
    drain = ThreadState(103, "S", "read", fd=9, blocked=True)
    snap.threads[100].append(drain)  # reads B's results before draining the joined child
    snap.threads[102] = [ThreadState(102, "R", "running")]  # B still working
    snap.pipes.append(PipeState(5001, readers=[(100, 9)], writers=[(102, 4)]))
    ev = evidence(main_proc(state="sleeping", exit_code=None, ended_s=None),
                  proc(101, t=0.1, state="sleeping", exit_code=None),
                  proc(102, t=0.1, state="running", exit_code=None), hang=snap)  # fmt: skip
    assert not proven_hangs(ev)
