"""Evidence: everything the collectors learned about one run, as plain data.

This is the input of the rules (pure functions, no I/O). The collectors (`mpdoctor.collect`)
build it from probe events and psutil / /proc samples; tests build it by hand.
Times are seconds since the run started (the launch of the target).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mpdoctor.model import Frame


@dataclass(frozen=True)
class ProcessKey:
    """A process's identity: a reused pid is a different process (psutil's rule)."""

    pid: int
    create_time: float  # seconds since the epoch, as psutil.Process.create_time() gives


@dataclass
class ExceptionInfo:
    """An exception that escaped a process target (printed by multiprocessing's _bootstrap),
    or that Python printed as uncaught in a process's main thread."""

    type: str  # qualified class name, e.g. "ZeroDivisionError"
    message: str
    traceback: str  # the text Python printed, byte for byte
    frames: list[Frame] = field(default_factory=list)  # innermost last
    where: str = "target"  # target | uncaught | task | initializer (an executor worker's)


@dataclass
class Defined:
    """Where a function or class is defined (line None when Python does not say)."""

    file: str
    line: int | None


@dataclass
class UnpicklableMember:
    """One member of what was sent that cannot be pickled, found by the probe's search."""

    path: str  # "args[0] -> Counter.guard"
    type: str  # "_thread.lock"
    reason: str  # "TypeError: cannot pickle '_thread.lock' object"
    kind: str  # callable (sent by name and not found by it) | object
    name: str | None = None  # a callable's qualified name
    defined: Defined | None = None
    instance: bool = False  # an instance of the (local) class named


@dataclass
class RaisedClass:
    """An exception class a worker raised that the parent cannot rebuild."""

    type: str
    module: str | None
    defined: Defined | None
    init: str | None  # "MyError.__init__(self, code, detail)"
    init_at: Defined | None


@dataclass
class PicklingEvidence:
    """multiprocessing failed to pickle something, as the probe of `pid` saw it."""

    pid: int
    t_s: float
    # task (a Pool task) | call (an executor call) | process (a spawn/forkserver Process)
    # | object (sent by the program) | result (a worker's return value)
    # | exception (an exception a worker raised)
    what: str
    error: str  # the pickler's error, as raised
    members: list[UnpicklableMember] = field(default_factory=list)
    truncated: bool = False  # the search hit its step budget
    api: str | None = None  # "Pool.map", "SpawnProcess.start", "Future.result"
    site: Site | None = None  # the program's line that made that call
    awaited: bool = False  # that call only waited for the result: not where it was sent
    function: str | None = None  # the task's function (results)
    raised: RaisedClass | None = None  # what == "exception"
    # a Queue's feeder thread failed to send what put() had buffered, and dropped it
    dropped: bool = False


@dataclass
class Site:
    """A line of the user's code (the first frame outside multiprocessing and mpdoctor)."""

    file: str
    line: int
    function: str


@dataclass
class ProcessEvidence:
    """Everything known of one process: samples, probe events, how it ended."""

    key: ProcessKey
    ppid: int | None
    cmdline: list[str]  # raw; renderers redact
    exe: str | None = None
    name: str | None = None  # multiprocessing's process name (ForkPoolWorker-1), else psutil's
    probed: bool = False  # the probe registered in this process
    python: str | None = None  # "3.11.7", from the probe
    start_method: str | None = None  # how multiprocessing started it: fork | spawn | forkserver
    # What started it, from the parent's probe: process | pool-worker | executor-worker |
    # manager | forkserver | resource-tracker, or None when no probed parent reported it.
    started_as: str | None = None
    pool_id: str | None = None  # the pool or executor it worked for
    start_site: Site | None = None  # the user's line that led to its start
    target: str | None = None  # the process target's qualified name, when known
    daemon: bool | None = None
    # Last sampled state: running | sleeping | disk-sleep | stopped | zombie | exited | unknown
    state: str = "unknown"
    exit_code: int | None = None  # exit status when it exited normally
    signal: int | None = None  # the signal that killed it
    exit_seen_by: str | None = None  # parent-probe | monitor-reap | zombie-stat | psutil
    started_s: float | None = None
    ended_s: float | None = None
    zombie_since_s: float | None = None  # first sample that saw it as a zombie
    zombie_until_s: float | None = None  # last sample that saw it as a zombie
    cpu_s: float | None = None
    peak_rss_bytes: int | None = None
    num_threads: int | None = None
    exception: ExceptionInfo | None = None  # what ended it (escaped its target, or uncaught)
    task_exceptions: list[ExceptionInfo] = field(default_factory=list)  # first few tasks' own
    # Who sent it a signal, from the sender's probe (os.kill audit): see KillEvidence.
    kills: list[KillEvidence] = field(default_factory=list)
    alive_after_main: bool = False  # still alive when the main process had exited + grace
    threads_at_fork: int | None = None  # forked: threads its parent had (native ones included)
    fork_threads: list[ForkThreadInfo] = field(default_factory=list)  # the others, at fork
    joins: list[JoinInfo] = field(default_factory=list)  # join() calls it made, in order
    ended_by_mpdoctor: bool = False  # mpdoctor ended it while tearing the tree down


@dataclass(frozen=True)
class JoinInfo:
    """A join() a thread was in: on which child, from which line."""

    child: int  # the pid joined
    ident: int | None  # the joining thread (threading.get_ident())
    t_s: float


@dataclass
class ForkThreadInfo:
    """A thread (not multiprocessing's) that ran in the parent when it forked this process."""

    name: str | None
    frames: list[Frame] = field(default_factory=list)  # innermost first, at the fork


@dataclass
class KillEvidence:
    """A signal a probed process sent, and where from."""

    sender_pid: int
    target_pid: int
    signal: int
    t_s: float
    # pool-terminate (a Pool's terminate / with-block exit), executor-shutdown,
    # process-terminate (Process.terminate/kill by user code), user (a bare os.kill)
    via: str
    site: Site | None = None


@dataclass
class PoolEvidence:
    """A Pool or executor: its size, its workers, how it ended."""

    pool_id: str  # unique within the run: "<owner pid>:<n>"
    kind: str  # Pool | ProcessPoolExecutor
    owner_pid: int
    size: int | None
    start_method: str | None
    site: Site | None  # where the user created it
    created_s: float
    ended_s: float | None = None  # when it was terminated / closed / shut down
    ended_how: str | None = None  # terminate | close | shutdown


@dataclass
class WarningEvidence:
    """A warning printed by a process of the tree (resource-tracker leaks)."""

    pid: int
    t_s: float
    category: str  # UserWarning, ResourceWarning, ...
    message: str
    filename: str | None = None
    lineno: int | None = None


@dataclass
class ResourceEvidence:
    """A named semaphore or shared memory block the program registered with the tracker."""

    pid: int
    name: str
    rtype: str  # semaphore | shared_memory
    created_s: float
    site: Site | None  # the user's line that created it
    unregistered_s: float | None = None  # None: never unlinked by the program


@dataclass
class ManagerEndEvidence:
    """A Manager was shut down by the process that started it."""

    owner_pid: int
    manager_pid: int | None
    t_s: float
    site: Site | None  # the program's line (the end of the `with Manager()` block)
    exiting: bool = False  # by multiprocessing's exit handler, as the program ended


@dataclass
class ThreadState:
    """One thread of a stalled tree, from /proc (collect/waits.py)."""

    tid: int
    state: str
    syscall: str | None  # "read", "wait4", "futex", "running"...; None: not in a system call
    readable: bool = True  # False: ptrace rules hid the system call (findings: "suspected")
    fd: int | None = None
    waits_for_pid: int | None = None
    futex: str | None = None
    futex_addr: int | None = None
    futex_mapping: str | None = None  # a shared futex: the object it lives in ("dev inode")
    timed: bool | None = None  # True: returns by itself; None: no timeout of its own (fd I/O)
    blocked: bool = False

    @property
    def waits_untimed(self) -> bool:
        """Blocked in a call that will not return by itself."""
        return self.blocked and self.timed is not True


@dataclass
class PipeState:
    """A pipe some thread of the tree waits on, and who holds its ends."""

    inode: int
    readers: list[tuple[int, int]] = field(default_factory=list)  # (pid, fd) of read ends
    writers: list[tuple[int, int]] = field(default_factory=list)
    queued: int | None = None  # bytes in the pipe (FIONREAD through a read end)
    # A process outside the tree holds an end (mpdoctor's own stdio, the root's parent): never
    # proven; readers and writers may then list only the ends the tree's threads are on.
    external: bool = False


@dataclass
class ThreadStack:
    """One thread's Python stack, dumped by faulthandler on the stack signal."""

    ident: int  # threading.get_ident()
    tid: int | None  # native id (/proc/PID/task/TID), from the probe's thread records
    name: str | None  # MainThread, QueueFeederThread, Thread-3 (_handle_results)...
    current: bool = False  # the thread that ran the signal handler
    frames: list[Frame] = field(default_factory=list)  # innermost first


@dataclass
class HangSnapshot:
    """What every thread of a stalled tree waited on, who held each pipe, and the stacks."""

    t_s: float
    threads: dict[int, list[ThreadState]] = field(default_factory=dict)  # pid -> threads
    pipes: list[PipeState] = field(default_factory=list)
    stacks: dict[int, list[ThreadStack]] = field(default_factory=dict)  # pid -> threads
    stacks_skipped: dict[int, str] = field(default_factory=dict)  # pid -> why no stack
    quiet_s: float = 0.0  # how long the tree had made no progress
    # why it was taken: hang-after | timeout | signal (one sent to mpdoctor, before it is
    # forwarded) | deadlock (a proven wait held steady) | inspect
    reason: str = "hang-after"
    hang_after_s: float | None = None  # the run's --hang-after (None: stall reports off)
    ended: bool = False  # the hang lasted until the end of the run (stopped, timeout, Ctrl-C)
    # (file, line) -> source text, around the program's innermost frame of each stack
    sources: dict[tuple[str, int], str] = field(default_factory=dict)
    unreadable_fds: set[int] = field(default_factory=set)  # pids whose descriptors are hidden
    catches: dict[int, list[int]] = field(default_factory=dict)  # pid -> signals it handles
    # a shared futex's object ("dev inode") -> the pids that map it (who might release it)
    sharers: dict[str, set[int]] = field(default_factory=dict)
    stack_signal: int | None = None  # the probe's (a handler that never ends a wait)

    def stack_of(self, pid: int, tid: int) -> ThreadStack | None:
        return next((s for s in self.stacks.get(pid, []) if s.tid == tid), None)


@dataclass
class Evidence:
    """What the rules read: every process of the run and what the probe saw."""

    main: ProcessKey | None
    processes: dict[ProcessKey, ProcessEvidence]
    pools: list[PoolEvidence] = field(default_factory=list)
    warnings: list[WarningEvidence] = field(default_factory=list)
    resources: list[ResourceEvidence] = field(default_factory=list)
    pickling: list[PicklingEvidence] = field(default_factory=list)
    manager_ends: list[ManagerEndEvidence] = field(default_factory=list)
    hang: HangSnapshot | None = None  # taken when the tree stalled (the hang issue)
    # a parent whose children kept dying at start-up, and mpdoctor stopped the run for it
    respawn_stopped_parent: int | None = None
    # OOM kills counted by the cgroup (memory.events oom_kill) during the run; None: unreadable.
    cgroup_oom_kills: int | None = None
    duration_s: float = 0.0
    main_ended_s: float | None = None
    platform: str = "linux"
    notes: list[str] = field(default_factory=list)

    def by_pid(self, pid: int) -> list[ProcessEvidence]:
        """Every process that had this pid during the run (pids are reused)."""
        return [p for k, p in self.processes.items() if k.pid == pid]
