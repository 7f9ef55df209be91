"""mpdoctor's probe: runs inside every Python process of the program's tree (3.8+).

Started by the `sitecustomize` beside this package when MPDOCTOR_SESSION is set. Standard
library only, no threads, never writes to stdout, never raises into the program (any error of
its own disables it in that process).

At start it opens the event file and writes `start` (_events), and registers three cheap entry
points that live here because each extra module costs about 0.1 ms to import:
* a fork hook: a forked child gets its own event file;
* an audit hook: one set lookup per audited operation; os.kill, os.killpg and os.exec* go to
  `_audit`;
* a sys.meta_path finder: one set lookup per import; the few watched standard-library modules
  go to `_imports`, which runs the multiprocessing hooks (`_mp`) after they are executed.
"""

import os
import sys

from . import _events

# Modules whose import the probe hooks (`_imports.watch` adds traceback in multiprocessing
# children).
WATCHED = {
    "multiprocessing",
    "multiprocessing.process",
    "multiprocessing.util",
    "multiprocessing.pool",
    "multiprocessing.resource_tracker",
    "concurrent.futures.process",
}
_AUDITED = frozenset(("os.kill", "os.killpg", "os.exec"))

_started = False


def start() -> None:
    global _started
    session = os.environ.get("MPDOCTOR_SESSION")
    if _started or not session or sys.version_info < (3, 8):
        return
    _started = True
    if not _events.start(session, forked=False):
        return
    try:
        os.register_at_fork(before=_events.before_fork, after_in_child=_events.after_fork_child)
        sys.addaudithook(_audit_hook)
        sys.meta_path.insert(0, Finder())
        if not WATCHED.isdisjoint(sys.modules):
            from . import _imports

            _imports.hook_imported()  # started late: multiprocessing is already there
    except Exception:
        _events.disable()


def _audit_hook(event, args, _audited=_AUDITED):
    if event not in _audited:
        return
    if _events.on:
        from . import _audit

        _audit.record(event, args)


class Finder:
    """sys.meta_path entry: hooks the watched modules, finds nothing itself."""

    def find_spec(self, name, path=None, target=None, _watched=WATCHED):
        if name not in _watched or not _events.on:
            return None
        from . import _imports

        return _imports.hooked_spec(self, name, path, target)

    def invalidate_caches(self):
        pass
