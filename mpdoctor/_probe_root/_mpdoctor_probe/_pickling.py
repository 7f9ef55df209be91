"""Pickling failures: what could not be sent, every member that fails, and where it was sent.

Four places see one, none of them on the program's normal path:

* An uncaught exception whose traceback passes through multiprocessing.reduction's dump or
  dumps (`_failures.record_uncaught`, at exit): a Pool task, a spawn Process, an executor
  call item or anything the program sent over a Connection or a SimpleQueue. The object is
  still the `obj` argument of that frame (the frame ended with the exception, so its locals
  stay as they were).
* A Queue's feeder thread failing to pickle what the program put (`_feed` catches it, prints
  it and drops the item; put() returned long before): `_watches` calls `after_feeder_error` from
  `is_exiting()`, which `_feed` calls only on that path. The put() line is not known: noting it
  at every put() would slow the program's hot path. A ProcessPoolExecutor's call item fails
  there too (its future gets the error), recorded without a line.
* A pool worker building `MaybeEncodingError` (its result, or its exception, could not be sent
  back), and the `ExceptionWithTraceback` of a Pool or ProcessPoolExecutor worker (an exception
  about to be sent back: the parent rebuilds it as `cls(*exc.args)`, and one that cannot be
  rebuilt kills the pool's result handler, so the pool hangs; its __init__'s signature is read
  here, never called). `_watches` sees both through write-only descriptors.

Each writes one `unpicklable` event; the search itself is `_search`.
"""

import os
import sys

import _mpdoctor_probe as probe
from _mpdoctor_probe import _stack
from _mpdoctor_probe._search import find_unpicklable


def after_uncaught(exc) -> None:
    frames, lines = _traceback(exc)
    index = _dump_index(frames)
    if index is None:
        return
    obj = frames[index].f_locals.get("obj")
    api, site, awaited = _call_site(frames[:index], lines)
    what, roots = _roots(obj, frames[:index])
    _emit(what, exc, roots, api=api, site=site, awaited=awaited)


def _traceback(exc):
    """([frame], [line]) of the exception's traceback, outermost first. The line is the
    traceback's: a frame that ran on (a `finally:` block, an exit handler) has moved since."""
    tb = exc.__traceback__
    frames, lines = [], []
    while tb is not None:
        frames.append(tb.tb_frame)
        lines.append(tb.tb_lineno)
        tb = tb.tb_next
    return frames, lines


def _dump_index(frames):
    """Index of the last frame of multiprocessing.reduction's dump or dumps, or None."""
    reduction = sys.modules.get("multiprocessing.reduction")
    if reduction is None:
        return None
    dump_file = reduction.__file__
    index = None
    for i, frame in enumerate(frames):
        code = frame.f_code
        if code.co_filename == dump_file and code.co_name in ("dump", "dumps"):
            index = i
    return index


def _call_site(frames, lines):
    """(api, site, awaited): the program's last frame before multiprocessing took over, and
    the call it made there ("Pool.map"; awaited when that call only waited for the result)."""
    fs = _stack.files()
    for i, frame in enumerate(frames):
        if fs.internal(frame.f_code.co_filename) and i > 0:
            user = frames[i - 1]
            if fs.internal(user.f_code.co_filename):
                continue
            name = frame.f_code.co_name
            owner = frame.f_locals.get("self")  # Future.result sets it to None on its way out
            if owner is not None:
                api = "%s.%s" % (type(owner).__name__, name)
            else:
                api = _UNBOUND.get(name, name)
            awaited = name in _AWAITING
            code = user.f_code
            site = {"file": code.co_filename, "line": lines[i - 1], "function": code.co_name}
            return api, site, awaited
    return None, None, False


def after_feeder_error(exiting) -> None:
    """A Queue's feeder thread is handling an error (`_feed`'s `except`, about to print it, or
    to drop it silently when the process is exiting). A pickling failure is recorded with what
    was put and its members; the item never reaches get()."""
    exc = sys.exc_info()[1]
    if exc is None:
        return
    frames, _lines = _traceback(exc)
    index = _dump_index(frames)
    if index is None:
        return  # not a pickling failure (a broken pipe, a closed queue)
    obj = frames[index].f_locals.get("obj")  # dumps ended with the exception: a dead frame
    if type(obj).__name__ == "_CallItem" and hasattr(obj, "fn"):
        # ProcessPoolExecutor fails the call's future. Recorded now: the program may handle
        # that error, or hang (CPython's executor can, on 3.8 and 3.9); when the error goes
        # uncaught, after_uncaught adds the line and the diagnosis keeps that one.
        _emit("call", exc, _call_roots(obj.fn, obj.args, obj.kwargs))
        return
    _emit("object", exc, [("object", obj)], api="Queue.put", dropped=True)


# Functions whose caller the program called: the generator that ProcessPoolExecutor.map
# returns is `_chain_from_iterable_of_lists` on 3.9+, `result_iterator` before.
_UNBOUND = {
    "result_iterator": "Executor.map",
    "_chain_from_iterable_of_lists": "Executor.map",
    "result": "Future.result",
}
_AWAITING = {"get", "wait", "result", "__get_result", "next", "__next__", "result_iterator",
             "_chain_from_iterable_of_lists"}  # fmt: skip


def _roots(obj, frames):
    """(what, [(label, value)]): name the parts of what multiprocessing was sending."""
    process = sys.modules.get("multiprocessing.process")
    if process is not None and isinstance(obj, process.BaseProcess):
        return "process", _process_roots(obj)
    if type(obj).__name__ == "_CallItem" and hasattr(obj, "fn"):
        return "call", _call_roots(obj.fn, obj.args, obj.kwargs)
    if type(obj) is tuple and len(obj) == 5 and type(obj[3]) is tuple and type(obj[4]) is dict:
        return "task", _task_roots(obj, frames)
    return "object", [("object", obj)]


_PROCESS_INTERNALS = {
    "_target", "_args", "_kwargs", "_identity", "_config", "_parent_pid", "_parent_name",
    "_popen", "_closed", "_name", "_start_method",
}  # fmt: skip


def _process_roots(p):
    roots = [("target", getattr(p, "_target", None))]
    roots += [("args[%d]" % i, a) for i, a in enumerate(getattr(p, "_args", ()) or ())]
    roots += [("kwargs[%r]" % k, v) for k, v in (getattr(p, "_kwargs", {}) or {}).items()]
    for name, value in vars(p).items():
        if name not in _PROCESS_INTERNALS:
            roots.append(("%s.%s" % (type(p).__name__, name), value))
    return roots


def _call_roots(fn, args, kwargs):
    inner = getattr(fn, "func", None)
    if inner is not None and getattr(inner, "__name__", "") == "_process_chunk" and fn.args:
        # ProcessPoolExecutor.map: partial(_process_chunk, fn) over a chunk of argument tuples
        roots = [("function", fn.args[0])]
        chunk = args[0] if args else ()
        for item in chunk:
            if type(item) is tuple and len(item) == 1:
                roots.append(("item of the iterable", item[0]))
            else:
                roots.append(("item of the iterables", item))
        return roots
    roots = [("function", fn)]
    roots += [("args[%d]" % i, a) for i, a in enumerate(args or ())]
    roots += [("kwargs[%r]" % k, v) for k, v in (kwargs or {}).items()]
    return roots


def _mapped(task):
    """(function, chunk) of a Pool map-family task `(job, i, mapstar, ((f, chunk),), {})`."""
    pool = sys.modules.get("multiprocessing.pool")
    if type(task) is not tuple or len(task) != 5 or pool is None:
        return None
    func, args = task[2], task[3]
    if func not in (pool.mapstar, pool.starmapstar) or len(args) != 1:
        return None
    pair = args[0]
    return pair if type(pair) is tuple and len(pair) == 2 else None


def _task_roots(task, frames):
    _job, index, func, args, kwds = task
    mapped = _mapped(task)
    if mapped is not None:
        function, chunk = mapped
        base = _chunk_base(frames, index)
        roots = [("function", function)]
        for j, item in enumerate(chunk):
            label = "iterable[%d]" % (base + j) if base is not None else "an item of the iterable"
            roots.append((label, item))
        return roots
    roots = [("function", func)]
    roots += [("args[%d]" % i, a) for i, a in enumerate(args)]
    roots += [("kwds[%r]" % k, v) for k, v in kwds.items()]
    return roots


def _chunk_base(frames, index):
    """Index in the iterable of the chunk's first item, when the MapResult says the chunk size."""
    for frame in frames:
        result = frame.f_locals.get("self")
        size = getattr(result, "_chunksize", None)
        if type(size) is int and size > 0:
            return index * size
    return 0 if index == 0 else None


# In workers: results and exceptions on their way back to the parent


def on_encoding_error(error, value, old) -> None:
    """MaybeEncodingError(exc, value) is being built in a pool worker: what the worker tried to
    send back (a result, or an exception) could not be pickled."""
    init = _caller("__init__")
    worker = _caller("worker")
    if init is None or worker is None:
        return  # not built by a worker (e.g. unpickled in the parent)
    failed = init.f_locals.get("value")  # a short-lived frame: its locals go with it
    task, is_result = _worker_task(worker)
    if not is_result and hasattr(failed, "exc"):
        _emit("exception", _Described(error), [("exception", failed.exc)], raised=failed.exc)
        return
    _emit("result", _Described(error), _result_roots(failed, task), task=task)


def _worker_task(frame):
    """(task, sending a result) from Pool's worker() frame, without keeping its locals alive.

    Up to 3.12, reading f_locals leaves a snapshot of every local on the frame, which would keep
    the failed result and the task's arguments alive for the worker's whole life. The snapshot's
    entries are reset to None: worker() uses none of them again before it resets them itself
    (`e`, the pickling error, holds the failed object through its traceback), so even a tracer
    writing the snapshot back into the frame changes nothing it reads."""
    locals_ = frame.f_locals
    task = locals_.get("task")
    result = locals_.get("result")
    if sys.version_info < (3, 13):
        for name in ("task", "result", "func", "args", "kwds", "e"):
            if name in locals_:
                locals_[name] = None
    is_result = not (type(result) is tuple and len(result) == 2 and not result[0])
    return task, is_result


def on_exception(wrapper, exc, old) -> None:
    """A worker wraps an exception to send it back (pool's ExceptionWithTraceback, or the
    executor's _ExceptionWithTraceback): record it, and say if the parent cannot rebuild it."""
    if not isinstance(exc, BaseException):
        return
    from . import _failures

    cls = type(exc)
    if cls in _checked and _failures.task_exceptions_full():
        return  # the steady state of a program raising many: nothing to learn
    _failures.record_task_exception(exc)
    sendback = _caller("_sendback_result")
    if sendback is not None:  # the executor failed to send: `exc` is the pickling error
        locals_ = sendback.f_locals  # a short-lived frame
        sent = locals_.get("exception")
        if sent is None:
            _emit("result", exc, [("result", locals_.get("result"))])
        else:
            original = getattr(sent, "exc", sent)
            _emit("exception", exc, [("exception", original)], raised=original)
        return
    if cls in _checked:
        return
    _checked.add(cls)
    problem = _rebuild_problem(cls, getattr(exc, "args", ()))
    if problem is not None:
        _emit("exception", problem, [], raised=exc, rebuild=_init_signature(cls))


_checked = set()  # exception classes already checked in this process


def _rebuild_problem(cls, args):
    """Why `cls(*args)` (how the parent rebuilds the exception) would fail, read from the
    signature of the class's __init__ without calling anything; None when it would not, or when
    the class rebuilds itself its own way."""
    if not isinstance(args, tuple):
        return None
    for name in ("__reduce__", "__reduce_ex__", "__getnewargs__", "__getnewargs_ex__"):
        for klass in cls.__mro__:
            if klass is BaseException or klass is object:
                break
            if name in klass.__dict__:
                return None  # it says itself how to rebuild it
    init = None
    for klass in cls.__mro__:
        if "__init__" in klass.__dict__:
            init = klass.__dict__["__init__"]
            break
    code = getattr(init, "__code__", None)
    if code is None:
        return None  # a built-in __init__ (BaseException's, OSError's): takes the args
    positional = code.co_varnames[1 : code.co_argcount]  # without self
    defaults = getattr(init, "__defaults__", None) or ()
    required = positional[: len(positional) - len(defaults)]
    varargs = bool(code.co_flags & 0x04)
    keyword_only = code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
    kwdefaults = getattr(init, "__kwdefaults__", None) or {}
    name = "%s.__init__()" % cls.__qualname__
    if len(args) < len(required):
        missing = required[len(args) :]
        return "TypeError: %s missing %d required positional argument%s: %s" % (
            name, len(missing), "s" if len(missing) > 1 else "",
            " and ".join("'%s'" % m for m in missing),
        )  # fmt: skip
    if len(args) > len(positional) and not varargs:
        return "TypeError: %s takes %d positional arguments but %d were given" % (
            name, len(positional) + 1, len(args) + 1,
        )  # fmt: skip
    missing_kw = [k for k in keyword_only if k not in kwdefaults]
    if missing_kw:
        return "TypeError: %s missing required keyword-only argument: '%s'" % (
            name, missing_kw[0],
        )  # fmt: skip
    return None


def _result_roots(value, task):
    if _mapped(task) is not None and type(value) is list:
        index = task[1]
        if index == 0:
            return [("result[%d]" % j, v) for j, v in enumerate(value)]
        return [("a result of task %d" % index, v) for v in value]
    return [("result", value)]


def _caller(name):
    """The nearest frame of multiprocessing or concurrent.futures running function `name`."""
    fs = _stack.files()
    frame = sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        if code.co_name == name and fs.internal(code.co_filename):
            return frame
        frame = frame.f_back
    return None


class _Described:
    """MaybeEncodingError keeps only repr()s: its `exc` attribute is the reason's repr."""

    def __init__(self, error):
        self.text = getattr(error, "exc", "")


def _emit(what, error, roots, api=None, site=None, awaited=False, task=None, raised=None,
          rebuild=None, dropped=False):  # fmt: skip
    members, truncated = find_unpicklable(roots) if roots else ([], False)
    fields = {
        "what": what,
        "error": _error_text(error),
        "members": members,
        "truncated": truncated,
        "api": api,
        "site": site,
        "awaited": awaited,
    }
    if dropped:
        fields["dropped"] = True  # sent later by a Queue's feeder thread, which dropped it
    if task is not None and type(task) is tuple and len(task) == 5:
        fields["function"] = _function_name(task)
    if raised is not None:
        fields["exception"] = {
            "type": type(raised).__qualname__,
            "module": type(raised).__module__,
            "defined": _class_defined(type(raised)),
            "init": rebuild,
        }
    probe.emit("unpicklable", fields)


def _function_name(task):
    mapped = _mapped(task)
    func = mapped[0] if mapped is not None else task[2]
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", None)


def _error_text(error):
    if isinstance(error, _Described):
        return error.text
    if isinstance(error, str):
        return error
    try:
        text = str(error)
    except Exception:
        text = ""
    return "%s: %s" % (type(error).__name__, text) if text else type(error).__name__


def _init_signature(cls):
    """`MyError.__init__(self, code, detail)`: why `cls(*exc.args)` fails in the parent."""
    init = getattr(cls, "__init__", None)
    code = getattr(init, "__code__", None)
    if code is None:
        return None
    names = list(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])
    return {
        "text": "%s.__init__(%s)" % (cls.__qualname__, ", ".join(names)),
        "file": code.co_filename,
        "line": code.co_firstlineno,
    }


def _class_defined(cls):
    init = getattr(cls, "__init__", None)
    code = getattr(init, "__code__", None)
    if code is not None:
        return {"file": code.co_filename, "line": code.co_firstlineno}
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    return {"file": os.path.abspath(path), "line": None} if path else None
