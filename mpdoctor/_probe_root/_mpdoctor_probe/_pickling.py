"""Pickling failures: what could not be sent, every member that fails, and where it was sent.

Three places see one, none of them on the program's normal path:

* An uncaught exception whose traceback passes through multiprocessing.reduction's dump or
  dumps (`_failures.record_uncaught`, at exit): a Pool task, a spawn Process, an executor
  call item or anything the program sent over a Connection. The object is still the `obj`
  argument of that frame (the frame ended with the exception, so its locals stay as they were).
* A pool worker building `MaybeEncodingError` (its result could not be sent back), and the
  `ExceptionWithTraceback` of a Pool or ProcessPoolExecutor worker (an exception about to be
  sent back: it is round-tripped through the pickler here, since an exception that cannot be
  rebuilt in the parent kills the pool's result handler and the pool hangs). `_watches` sees
  both through write-only descriptors.

Each writes one `unpicklable` event; the search itself is `_search`.
"""

import os
import sys

import _mpdoctor_probe as probe
from _mpdoctor_probe import _stack
from _mpdoctor_probe._search import find_unpicklable


def after_uncaught(exc) -> None:
    tb = exc.__traceback__
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    reduction = sys.modules.get("multiprocessing.reduction")
    if reduction is None:
        return
    dump_file = reduction.__file__
    index = None
    for i, frame in enumerate(frames):
        code = frame.f_code
        if code.co_filename == dump_file and code.co_name in ("dump", "dumps"):
            index = i
    if index is None:
        return
    obj = frames[index].f_locals.get("obj")
    api, site, awaited = _call_site(frames[:index])
    what, roots = _roots(obj, frames[:index])
    _emit(what, exc, roots, api=api, site=site, awaited=awaited)


def _call_site(frames):
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
            awaited = name in ("get", "wait", "result", "__get_result", "next", "__next__")
            return api, _stack.site(user), awaited
    return None, None, False


_UNBOUND = {"result_iterator": "Executor.map", "result": "Future.result"}


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
    """MaybeEncodingError(exc, value) is being built in a pool worker: the result failed."""
    frame = _caller("worker")
    if frame is None:
        return
    result = frame.f_locals.get("result")
    task = frame.f_locals.get("task")
    if type(result) is not tuple or len(result) != 2:
        return
    if not result[0]:
        return  # an exception that failed to pickle: on_exception reported it already
    roots = _result_roots(result[1], task)
    _emit("result", _Described(error), roots, task=task)


def on_exception(wrapper, exc, old) -> None:
    """A worker wraps an exception to send it back (pool's ExceptionWithTraceback, or the
    executor's _ExceptionWithTraceback): can the parent rebuild it?"""
    if not isinstance(exc, BaseException):
        return
    from . import _failures

    _failures.record_task_exception(exc)
    frame = _caller("_sendback_result")
    if frame is not None and frame.f_locals.get("exception") is None:
        # the executor could not send a result back: this exception is the pickling error
        result = frame.f_locals.get("result")
        _emit("result", exc, [("result", result)])
        return
    reduction = sys.modules.get("multiprocessing.reduction")
    cls = type(exc)
    if reduction is None or cls in _round_tripped:
        return
    _round_tripped.add(cls)  # once per class: a program may raise thousands of them
    pickler = reduction.ForkingPickler
    try:
        data = pickler.dumps(exc)
    except Exception as failure:
        _emit("exception", failure, [("exception", exc)], raised=exc)
        return
    try:
        pickler.loads(data)
    except Exception as failure:
        _emit("exception", failure, [], raised=exc, rebuild=_init_signature(type(exc)))


_round_tripped = set()  # exception classes already checked in this process


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
          rebuild=None):  # fmt: skip
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
    try:
        return "%s: %s" % (type(error).__name__, error)
    except Exception:
        return type(error).__name__


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
