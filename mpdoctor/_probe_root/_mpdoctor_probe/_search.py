"""Which members of an object multiprocessing cannot pickle, and the path to each one.

Runs only after a real pickling failure (never on the program's normal path). It walks the
object the way multiprocessing's ForkingPickler would save it (its dispatch table, then
`__reduce_ex__` with the same protocol, then the reduce tuple's parts) and reports every
member that fails on its own, not only the first: a lambda, a local class, a lock, a generator.

It never pickles anything whole and runs none of the program's code: multiprocessing's own
reducers (sockets, connections, file descriptors) are leaves it does not call, since they may
start the resource sharer's thread or duplicate descriptors; a class with its own pickling hooks
(`__reduce__`, `__getstate__`...) written outside the standard library is a leaf too (the
failed send may never have reached that code, which can have side effects); so is a buffer of a
megabyte or more. Functions and classes are checked one by one with the C pickler (pickled by
reference: no recursion, no side effect). A step budget and a depth limit bound the walk, so a
huge object never stalls the program.

Paths read like the call that sent the object: `args[0] -> Counter.guard` is the attribute
`guard` of the Counter instance given as the first argument.
"""

import functools
import os
import pickle
import sys
import types

_ATOMS = frozenset(
    (type(None), bool, int, float, complex, str, bytes, bytearray, range, type(Ellipsis))
)
_BY_REFERENCE = (types.FunctionType, types.BuiltinFunctionType, type)
_NEWOBJ = None  # copyreg.__newobj__, __newobj_ex__


_BIG = 1 << 20  # bytes


_MAX_DEPTH = 100  # deeper than any real argument: a linked list is not walked to its end
_STDLIB = os.path.dirname(os.__file__) + os.sep
# What the pickler looks up on a class to save an instance: the program's own versions are
# code the failed send may never have reached (side effects, slow __sizeof__): never called.
_PROTOCOL_HOOKS = (
    "__reduce_ex__",
    "__reduce__",
    "__getstate__",
    "__getnewargs_ex__",
    "__getnewargs__",
    "__getattr__",
    "__getattribute__",
)


def _sizeof(obj):
    if isinstance(getattr(type(obj), "__sizeof__", None), types.FunctionType):
        return 0  # the program's own __sizeof__ (a DataFrame's walks all its data)
    try:
        return sys.getsizeof(obj, 0)
    except Exception:
        return 0


def _own_protocol(t):
    """The class defines (in Python, outside the standard library) how it is pickled."""
    for name in _PROTOCOL_HOOKS:
        hook = getattr(t, name, None)
        code = getattr(hook, "__code__", None)
        if code is not None and not code.co_filename.startswith(_STDLIB):
            return True
    return False


class _Exhausted(Exception):
    pass


def find_unpicklable(roots, budget=20000, protocol=None):
    """[(label, obj)] -> ([member dicts], truncated). A member: {path, type, reason, kind,
    name, defined}; kind is "callable" (pickled by reference and not found where the child
    would look: lambda, nested function, local class) or "object"."""
    search = _Search(budget, pickle.DEFAULT_PROTOCOL if protocol is None else protocol)
    truncated = False
    try:
        for label, obj in roots:
            search.visit(obj, [label])
    except _Exhausted:
        truncated = True
    except RecursionError:
        truncated = True
    return search.found, truncated or search.too_deep


def _reducers():
    """(dispatch table, multiprocessing's own reducer types) as ForkingPickler uses them."""
    import copyreg

    table = dict(copyreg.dispatch_table)
    own = set()
    reduction = sys.modules.get("multiprocessing.reduction")
    if reduction is not None:
        extra = getattr(reduction.ForkingPickler, "_extra_reducers", {})
        table.update(extra)
        own = {t for t, f in extra.items() if getattr(f, "__name__", "") not in _PLAIN_REDUCERS}
    return table, own


# multiprocessing's reducers that only build a tuple (bound methods, method descriptors,
# partials): safe to call. The others duplicate descriptors (sockets, connections).
_PLAIN_REDUCERS = frozenset(("_reduce_method", "_reduce_method_descriptor", "_reduce_partial"))


class _Search:
    def __init__(self, budget, protocol):
        global _NEWOBJ
        import copyreg

        _NEWOBJ = (copyreg.__newobj__, getattr(copyreg, "__newobj_ex__", None))
        self.budget = budget
        self.protocol = protocol
        self.table, self.leaves = _reducers()
        self.memo = {}  # id -> fails (bool); `keep` holds the objects so ids stay unique
        self.keep = []
        self.found = []
        self.depth = 0
        self.too_deep = False

    def visit(self, obj, path):
        """True if `obj` cannot be pickled (each failing member is recorded once)."""
        self.budget -= 1
        if self.budget < 0:
            raise _Exhausted
        t = type(obj)
        if t in _ATOMS:
            return False
        key = id(obj)
        if key in self.memo:
            return self.memo[key]
        if self.depth >= _MAX_DEPTH:
            self.too_deep = True
            return False
        self.memo[key] = False  # a cycle back to an object being walked is not a failure
        self.keep.append(obj)
        self.depth += 1
        try:
            fails = self._visit(obj, t, path)
        finally:
            self.depth -= 1
        self.memo[key] = fails
        return fails

    def _visit(self, obj, t, path):
        if t in self.leaves:
            return False
        if t is list or t is tuple:
            return self._items(enumerate(obj), path)
        if t is dict:
            return self._mapping(obj.items(), path)
        if t is set or t is frozenset:
            return self._items(((None, item) for item in obj), path)
        if isinstance(obj, _BY_REFERENCE):
            return self._reference(obj, path)
        if t is functools.partial:
            fails = self.visit(obj.func, _join(path, "partial.func"))
            for i, arg in enumerate(obj.args):
                fails |= self.visit(arg, _join(path, "partial.args[%d]" % i))
            for name, value in (obj.keywords or {}).items():
                fails |= self.visit(value, _join(path, "partial.keywords[%r]" % name))
            return fails
        if isinstance(obj, types.MethodType):  # sent as (getattr, (self, name)): self goes too
            name = getattr(obj.__func__, "__qualname__", "method")
            return self.visit(obj.__self__, _join(path, name + ".__self__"))
        reduce = self.table.get(t)
        if reduce is None and _own_protocol(t):
            return False  # its own pickling code: not run from here, assumed to work
        if _sizeof(obj) > _BIG:
            return False  # a big buffer (an array): its reduce would copy it; data pickles
        try:
            if reduce is not None:
                rv = reduce(obj)
            else:
                rv = obj.__reduce_ex__(self.protocol)
        except Exception as exc:
            return self._culprit(obj, path, "object", _reason(exc))
        if isinstance(rv, str):
            return self._reference(obj, path)
        if not isinstance(rv, tuple) or not 2 <= len(rv) <= 6:
            return False  # the real pickler rejects it too, but names no member
        return self._reduced(obj, rv, path)

    def _reduced(self, obj, rv, path):
        func, args = rv[0], rv[1]
        state = rv[2] if len(rv) > 2 else None
        list_items = rv[3] if len(rv) > 3 else None
        dict_items = rv[4] if len(rv) > 4 else None
        owner = type(obj).__name__
        fails = False
        if func in _NEWOBJ and args:
            fails |= self._class_of(obj, args[0], path)
            for i, arg in enumerate(args[1:]):
                fails |= self.visit(arg, _join(path, "%s(arg %d)" % (owner, i + 1)))
        else:
            fails |= self.visit(func, _join(path, "%s(reconstructor)" % owner))
            if isinstance(args, tuple):
                for i, arg in enumerate(args):
                    fails |= self.visit(arg, _join(path, "%s(arg %d)" % (owner, i)))
        if state is not None:
            fails |= self._state(owner, state, path)
        if list_items is not None:
            fails |= self._items(enumerate(list_items), path)
        if dict_items is not None:
            fails |= self._mapping(dict_items, path)
        return fails

    def _state(self, owner, state, path):
        if (
            type(state) is tuple
            and len(state) == 2
            and (state[0] is None or type(state[0]) is dict)
        ):
            fails = False
            for part in state:  # (__dict__, slots)
                if part:
                    fails |= self._attributes(owner, part, path)
            return fails
        if type(state) is dict:
            return self._attributes(owner, state, path)
        return self.visit(state, _join(path, "%s.__getstate__()" % owner))

    def _attributes(self, owner, attrs, path):
        fails = False
        for name, value in attrs.items():
            fails |= self.visit(value, _join(path, "%s.%s" % (owner, name)))
        return fails

    def _items(self, pairs, path):
        fails = False
        for index, item in pairs:
            fails |= self.visit(item, _join(path, "[%s]" % ("?" if index is None else index)))
        return fails

    def _mapping(self, pairs, path):
        fails = False
        for key, value in pairs:
            label = repr(key) if type(key) in _ATOMS else "<%s key>" % type(key).__name__
            if len(label) > 40:
                label = label[:37] + "..."
            fails |= self.visit(key, _join(path, "[%s] (key)" % label))
            fails |= self.visit(value, _join(path, "[%s]" % label))
        return fails

    def _class_of(self, obj, cls, path):
        """An instance is rebuilt from its class, looked up by name in the child."""
        if not isinstance(cls, type):
            return self.visit(cls, _join(path, "(class)"))
        if id(cls) in self.memo:
            return self.memo[id(cls)]
        reason = _reference_error(cls, self.protocol)
        self.memo[id(cls)] = reason is not None
        self.keep.append(cls)
        if reason is None:
            return False
        return self._culprit(cls, path, "callable", reason, instance_of=True)

    def _reference(self, obj, path):
        reason = _reference_error(obj, self.protocol)
        if reason is None:
            return False
        return self._culprit(obj, path, "callable", reason)

    def _culprit(self, obj, path, kind, reason, instance_of=False):
        name = getattr(obj, "__qualname__", None) if kind == "callable" else None
        self.found.append(
            {
                "path": " -> ".join(path),
                "type": _type_name(type(obj)) if not instance_of else _type_name(obj),
                "reason": reason,
                "kind": kind,
                "name": name if isinstance(name, str) else None,
                "defined": _defined(obj) if kind == "callable" else None,
                "instance": instance_of,
            }
        )
        return True


def _join(path, segment):
    """Add a segment: `[i]` attaches to the last one, `Owner.attr` goes after an arrow."""
    if not segment.startswith("["):
        return [*path, segment]
    return [*path[:-1], path[-1] + segment]


def _reference_error(obj, protocol):
    """Why a function or class cannot be pickled by reference, or None if it can."""
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", "")
    module = getattr(obj, "__module__", None)
    if module is not None and module not in sys.modules:
        return None  # pickling would import it: never run a program's module from here
    if "<lambda>" in qualname:
        return "a lambda: functions are sent by name, and a lambda has none"
    if "<locals>" in qualname:
        outer = qualname.split(".<locals>", 1)[0]
        what = "class" if isinstance(obj, type) else "function"
        return "a %s defined inside %s(): only module-level names can be sent" % (what, outer)
    try:
        pickle.dumps(obj, protocol)
    except Exception as exc:
        return _reason(exc)
    return None


def _reason(exc):
    try:
        text = str(exc)
    except Exception:
        text = ""
    return "%s: %s" % (type(exc).__name__, text) if text else type(exc).__name__


def _type_name(t):
    module = getattr(t, "__module__", None)
    name = getattr(t, "__qualname__", None) or getattr(t, "__name__", "?")
    return name if module in (None, "builtins") else "%s.%s" % (module, name)


def _defined(obj):
    """{file, line} where a function (or a class, when Python says) is defined."""
    code = getattr(obj, "__code__", None)
    if code is not None:
        return {"file": code.co_filename, "line": code.co_firstlineno}
    line = getattr(obj, "__firstlineno__", None)  # classes, 3.13+
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    path = getattr(module, "__file__", None)
    if path:
        return {"file": path, "line": line if type(line) is int else None}
    return None
