"""Ending what is left of the tree, without ever hanging and without hitting a stranger.

A pool whose worker dies starts a new one, so killing processes one by one can chase respawns
forever. Instead every process is first frozen with SIGSTOP (the tree is rescanned until no new
process appears), then all get SIGTERM and SIGCONT together, and what survives a short wait gets
SIGKILL; the whole round repeats for anything that slipped in, a bounded number of times.
Processes marked `last` (multiprocessing's resource tracker, which ignores SIGTERM and unlinks
the semaphores and shared memory the program leaked once every other process is gone) get their
SIGKILL only after the others are gone and a wait of their own: as after Ctrl-C, /dev/shm is
left clean.
A signal is sent only after checking that the pid still has the recorded (pid, create_time):
a pid reused by an unrelated process is never touched.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from mpdoctor.collect import identity
from mpdoctor.diagnose.evidence import ProcessKey


class Tree(Protocol):
    def refresh(self) -> list[ProcessKey]:
        """Sample now; the tree's processes that are alive (not zombies)."""
        ...


@dataclass
class TeardownResult:
    """What ending a tree did: the processes ended, those that survived."""

    ended: set[ProcessKey] = field(default_factory=set)  # every process mpdoctor signalled
    killed: set[ProcessKey] = field(default_factory=set)  # those that needed SIGKILL
    survivors: list[ProcessKey] = field(default_factory=list)  # alive after all rounds
    rounds: int = 0


def send(key: ProcessKey, signo: int) -> bool:
    """Signal `key` only if its pid still names that very process."""
    if not identity.is_same(key):
        return False
    try:
        os.kill(key.pid, signo)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def wait_until_gone(
    tree: Tree,
    keys: set[ProcessKey],
    timeout: float,
    *,
    reap: Callable[[], object] | None = None,
    poll: float = 0.02,
) -> list[ProcessKey]:
    """Wait up to `timeout` s for `keys` to exit; the ones still alive."""
    deadline = time.monotonic() + timeout
    while True:
        if reap is not None:
            reap()
        alive = [k for k in tree.refresh() if k in keys]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(poll)


def freeze(tree: Tree, max_sweeps: int = 10) -> set[ProcessKey]:
    """SIGSTOP every live process, rescanning until no new one appears (bounded)."""
    stopped: set[ProcessKey] = set()
    for _ in range(max_sweeps):
        new = [k for k in tree.refresh() if k not in stopped]
        if not new:
            break
        for key in new:
            if send(key, signal.SIGSTOP):
                stopped.add(key)
    return stopped


def end_tree(
    tree: Tree,
    *,
    reap: Callable[[], object] | None = None,
    term_wait: float = 1.0,
    kill_wait: float = 1.0,
    max_rounds: int = 4,
    last: Callable[[ProcessKey], bool] = lambda _key: False,
) -> TeardownResult:
    """End every live process of `tree`: freeze, TERM, CONT, wait, KILL (those marked `last`
    after the others); repeat (bounded).

    Worst case about max_rounds * (term_wait + 2 * kill_wait) seconds; usually one round.
    """
    result = TeardownResult()
    for _ in range(max_rounds):
        frozen = freeze(tree)
        if not frozen:
            break
        result.rounds += 1
        result.ended |= frozen
        for key in frozen:
            send(key, signal.SIGTERM)
        for key in frozen:
            send(key, signal.SIGCONT)
        left = wait_until_gone(tree, frozen, term_wait, reap=reap)
        spared = {key for key in left if last(key)}
        _kill(tree, set(left) - spared, result, kill_wait, reap)
        if spared:  # they end on their own once the others are gone
            _kill(tree, set(wait_until_gone(tree, spared, kill_wait, reap=reap)), result,
                  kill_wait, reap)  # fmt: skip
    if reap is not None:
        reap()
    result.survivors = tree.refresh()
    return result


def _kill(
    tree: Tree,
    keys: set[ProcessKey],
    result: TeardownResult,
    wait: float,
    reap: Callable[[], object] | None,
) -> None:
    """SIGKILL `keys`, then wait up to `wait` s for them to be gone."""
    for key in keys:
        if send(key, signal.SIGKILL):
            result.killed.add(key)
    if keys:
        wait_until_gone(tree, keys, wait, reap=reap)
