"""`mpdoctor check`: rules over a program's source, without running anything.

Pure: source text in, findings out, with the same finding ids and hints as `mpdoctor run`.
What is recognised as multiprocessing is what the file imports: `multiprocessing` (any alias,
its submodules, names imported from it), `concurrent.futures`, and contexts from
`get_context()`. A name the file does not tie to those is never a pool, so `df.map(lambda ...)`
is not a finding. `multiprocessing.dummy` (threads behind the multiprocessing API) is not
multiprocessing, nor are `ThreadPool` and `ThreadPoolExecutor`.

Rules:
* missing-main-guard: code that runs at import time (module level, outside
  `if __name__ == "__main__":`) creates a Pool, an executor or a Manager, starts a Process,
  calls a function of this file that does, or calls set_start_method() without force=True.
  What is in a function body (an async one too) does not run at import time.
* unpicklable-callable: a lambda or a nested function given to a pool or executor call (always
  an error) or as a Process target / pool initializer (fails under spawn and forkserver only).
* pool-not-closed: a Pool assigned to a name that is never closed, terminated, joined, used in
  a `with` block, returned or passed on.
* join-deadlock (suspected): `p.join()` before any `q.get()` of a Queue that `p` was given
  (a multiprocessing Queue: a Manager's queue is a proxy, with no feeder thread to wait for).
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass, field

from mpdoctor.diagnose.rules import missing_main_guard, unpicklable_callable
from mpdoctor.model import Finding, Hint, Location

_MP_MODULES = ("multiprocessing", "concurrent.futures")
_CREATORS = {
    "Pool": "a Pool",
    "ProcessPoolExecutor": "a ProcessPoolExecutor",
    "Manager": "a Manager",
    "SyncManager": "a Manager",
    "Process": "a Process",
}
_SENDING_METHODS = {
    "map",
    "map_async",
    "imap",
    "imap_unordered",
    "starmap",
    "starmap_async",
    "apply",
    "apply_async",
    "submit",
}
_CLOSING_METHODS = {"close", "terminate", "join", "__exit__"}
_QUEUES = ("Queue", "SimpleQueue", "JoinableQueue")
_THREADS_MODULE = "dummy"  # multiprocessing.dummy: the same API over threads

POOL_NOT_CLOSED_HINT = Hint(
    fix="Use the pool in a with block, or call close() then join() when its work is done.",
    why=(
        "An open pool keeps its worker processes and three handler threads until it is "
        "garbage-collected; leaked pools end in 'Too many open files'."
    ),
    docs="https://docs.python.org/3/library/multiprocessing.html#multiprocessing.pool.Pool",
)
JOIN_BEFORE_DRAIN_HINT = Hint(
    fix="Get everything the child put on the queue (or a sentinel) before calling join().",
    why=(
        "A child that put data on a Queue cannot exit until its feeder thread has written it "
        "into the pipe; once the pipe is full, join() in the parent waits forever."
    ),
    docs="https://docs.python.org/3/library/multiprocessing.html#programming-guidelines",
)


@dataclass
class _Scope:
    """Names bound in one function (or the module): what they hold, as far as this file says."""

    nested: set[str] = field(default_factory=set)  # nested defs and lambdas
    pools: dict[str, ast.AST] = field(default_factory=dict)  # name -> creating call
    processes: dict[str, ast.Call] = field(default_factory=dict)  # name -> Process(...) call
    queues: set[str] = field(default_factory=set)


class _Checker:
    def __init__(self, path: str, tree: ast.Module):
        self.path = path
        self.tree = tree
        self.modules: set[str] = set()  # local names of multiprocessing-ish modules
        self.imported: dict[str, str] = {}  # local name -> name in multiprocessing
        self.contexts: set[str] = set()  # names holding get_context(...) results
        self.findings: list[Finding] = []
        self._imports()

    # -- what the file imports ---------------------------------------------------------------
    def _imports(self) -> None:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] not in ("multiprocessing", "concurrent"):
                        continue
                    if alias.asname and _is_threads_module(alias.name):
                        continue  # `import multiprocessing.dummy as d`: d.Pool is threads
                    self.modules.add((alias.asname or alias.name).split(".")[0])
            elif isinstance(node, ast.ImportFrom) and node.module:
                if _is_threads_module(node.module):
                    continue  # `from multiprocessing.dummy import Pool`: a thread pool
                if node.module.startswith(_MP_MODULES) or node.module == "concurrent":
                    for alias in node.names:
                        self.imported[alias.asname or alias.name] = alias.name
            elif isinstance(node, ast.Assign) and self._is_context(node.value):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.contexts.add(target.id)

    def _mp_base(self, node: ast.AST) -> bool:
        """`node` is multiprocessing-ish: a module alias, a context, get_context(...)."""
        if isinstance(node, ast.Name):
            return node.id in self.modules or node.id in self.contexts
        if isinstance(node, ast.Attribute):
            # `multiprocessing.dummy.Pool`: threads
            return node.attr != _THREADS_MODULE and self._mp_base(node.value)
        if isinstance(node, ast.Call):
            return self._is_context(node)
        return False

    def _is_context(self, node: ast.AST) -> bool:
        if not isinstance(node, ast.Call):
            return False
        func = node.func
        if isinstance(func, ast.Name):
            return self.imported.get(func.id) == "get_context"
        return (
            isinstance(func, ast.Attribute)
            and func.attr == "get_context"
            and self._mp_base(func.value)
        )

    def creator(self, node: ast.AST) -> str | None:
        """ "a Pool", "a Process"... when `node` is a call creating one."""
        if not isinstance(node, ast.Call):
            return None
        func = node.func
        if isinstance(func, ast.Name):
            return _CREATORS.get(self.imported.get(func.id, ""))
        if isinstance(func, ast.Attribute) and func.attr in _CREATORS and self._mp_base(func.value):
            return _CREATORS[func.attr]
        return None

    def _is_call_to(self, node: ast.AST, name: str) -> bool:
        if not isinstance(node, ast.Call):
            return False
        func = node.func
        if isinstance(func, ast.Name):
            return self.imported.get(func.id) == name
        return isinstance(func, ast.Attribute) and func.attr == name and self._mp_base(func.value)

    # -- rules -----------------------------------------------------------------------------
    def run(self) -> list[Finding]:
        functions = {
            node.name: node
            for node in self.tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        starting = self._functions_that_start(functions)
        for stmt in self.tree.body:
            if _is_main_guard(stmt) or isinstance(
                stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            ):
                continue
            self._import_time(stmt, starting)
        self._scope(self.tree.body, _Scope())
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self._scope(node.body, _Scope())
        return self.findings

    def _functions_that_start(self, functions: dict[str, ast.AST]) -> dict[str, ast.Call]:
        """Module-level functions that start processes, directly or through each other."""
        direct: dict[str, ast.Call] = {}
        calls: dict[str, set[str]] = {}
        for name, func in functions.items():
            calls[name] = set()
            for node in _walk_code(func):
                if self.creator(node) and name not in direct:
                    direct[name] = node  # type: ignore[assignment]
                elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                    calls[name].add(node.func.id)
        changed = True
        while changed:
            changed = False
            for name, callees in calls.items():
                if name in direct:
                    continue
                for callee in callees:
                    if callee in direct:
                        direct[name] = direct[callee]
                        changed = True
                        break
        return direct

    def _import_time(self, stmt: ast.stmt, starting: dict[str, ast.Call]) -> None:
        for node in _walk_code(stmt):
            if not isinstance(node, ast.Call):
                continue
            what = self.creator(node)
            if what and what != "a Process":
                self._guard_finding(node, f"creates {what} at import time")
            elif self._starts_process(node):
                self._guard_finding(node, "starts a Process at import time")
            elif self._is_call_to(node, "set_start_method") and not _forced(node):
                self._guard_finding(
                    node,
                    "calls set_start_method() at import time: a child raises "
                    "'context has already been set'",
                )
            elif isinstance(node.func, ast.Name) and node.func.id in starting:
                inner = starting[node.func.id]
                self._guard_finding(
                    node,
                    f"calls {node.func.id}() at import time, which starts processes "
                    f"(line {inner.lineno})",
                )

    def _starts_process(self, call: ast.Call) -> bool:
        """`Process(...).start()` or `p.start()` with p = Process(...) at module level."""
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr == "start"):
            return False
        if self.creator(func.value) == "a Process":
            return True
        if isinstance(func.value, ast.Name):
            for stmt in self.tree.body:
                if isinstance(stmt, ast.Assign) and self.creator(stmt.value) == "a Process":
                    if any(isinstance(t, ast.Name) and t.id == func.value.id for t in stmt.targets):
                        return True
        return False

    def _guard_finding(self, node: ast.AST, what: str) -> None:
        line = node.lineno  # type: ignore[attr-defined]
        self.findings.append(
            Finding(
                id=missing_main_guard.RULE_ID,
                severity="error",
                certainty="proven",
                title="processes started at import time of the main module",
                message=(
                    f'Line {line} {what}, outside `if __name__ == "__main__":`. Under spawn '
                    "(macOS, Windows) and forkserver (Linux from Python 3.14) every child "
                    "imports the main module again and runs it too."
                ),
                locations=[Location("module-level", self.path, line)],
                hint=missing_main_guard.HINT,
            )
        )

    def _scope(self, body: list[ast.stmt], scope: _Scope) -> None:
        """Rules over one function body (or the module's): names bound there, calls made."""
        statements = list(_walk_statements(body))
        for stmt in statements:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and body is not (
                self.tree.body
            ):
                scope.nested.add(stmt.name)
            elif isinstance(stmt, ast.Assign):
                self._bind(stmt.targets, stmt.value, scope)
            elif isinstance(stmt, (ast.With, ast.AsyncWith)):
                for item in stmt.items:
                    if isinstance(item.optional_vars, ast.Name) and self.creator(item.context_expr):
                        scope.pools[item.optional_vars.id] = item.context_expr
        for stmt in statements:
            for node in _walk_code(stmt):
                if isinstance(node, ast.Call):
                    self._sent_callables(node, scope)
        self._unclosed_pools(body, statements, scope)
        self._join_before_drain(statements, scope)

    def _bind(self, targets: list[ast.expr], value: ast.expr, scope: _Scope) -> None:
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        what = self.creator(value)
        for name in names:
            if isinstance(value, ast.Lambda):
                scope.nested.add(name)
            elif what in ("a Pool", "a ProcessPoolExecutor"):
                scope.pools[name] = value
            elif what == "a Process":
                scope.processes[name] = value  # type: ignore[assignment]
            elif any(self._is_call_to(value, queue) for queue in _QUEUES):
                # multiprocessing's own queue (mp.Queue(), ctx.Queue(), Queue() imported from
                # it), not manager.Queue(): a proxy, whose put() returns once the manager has
                # the item, so joining its putter before reading cannot block.
                scope.queues.add(name)

    def _sent_callables(self, call: ast.Call, scope: _Scope) -> None:
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in _SENDING_METHODS and call.args:
            receiver = func.value
            is_pool = (isinstance(receiver, ast.Name) and receiver.id in scope.pools) or bool(
                self.creator(receiver)
            )
            if is_pool:
                self._callable_finding(call.args[0], scope, f"{func.attr}()", always=True)
        what = self.creator(call)
        if what:
            for keyword in call.keywords:
                if keyword.arg in ("target", "initializer"):
                    self._callable_finding(
                        keyword.value, scope, f"{what[2:]}({keyword.arg}=...)", always=False
                    )

    def _callable_finding(self, arg: ast.expr, scope: _Scope, api: str, always: bool) -> None:
        if isinstance(arg, ast.Lambda):
            kind, name = "a lambda", "lambda"
        elif isinstance(arg, ast.Name) and arg.id in scope.nested:
            kind, name = "a nested function", arg.id
        else:
            return
        when = (
            "multiprocessing sends it by name, and it has none the child can find"
            if always
            else "it works under fork but fails under spawn and forkserver (macOS, Windows, "
            "Python 3.14), where it must be pickled"
        )
        self.findings.append(
            Finding(
                id=unpicklable_callable.RULE_ID,
                severity="error" if always else "warning",
                certainty="proven" if always else "suspected",
                title=f"{api} is given {kind}",
                message=f"Line {arg.lineno} gives {api} {kind} ({name}): {when}.",
                locations=[Location("sent", self.path, arg.lineno)],
                hint=unpicklable_callable.HINT,
            )
        )

    def _unclosed_pools(
        self, body: list[ast.stmt], statements: list[ast.stmt], scope: _Scope
    ) -> None:
        for name, created in scope.pools.items():
            if self.creator(created) != "a Pool" or _with_target(statements, name):
                continue
            if _managed(body, name):
                continue
            line = created.lineno  # type: ignore[attr-defined]
            self.findings.append(
                Finding(
                    id="pool-not-closed",
                    severity="warning",
                    certainty="suspected",
                    title="a Pool is never closed",
                    message=(
                        f"The Pool created at line {line} ({name}) is never closed, terminated "
                        "or joined, nor used in a with block."
                    ),
                    locations=[Location("created", self.path, line)],
                    hint=POOL_NOT_CLOSED_HINT,
                )
            )

    def _join_before_drain(self, statements: list[ast.stmt], scope: _Scope) -> None:
        for name, created in scope.processes.items():
            given = {a.id for a in _call_arguments(created) if isinstance(a, ast.Name)}
            queues = given & scope.queues
            if not queues:
                continue
            join_line = _first_method_call(statements, name, "join")
            if join_line is None:
                continue
            for queue in sorted(queues):
                get_line = _first_method_call(statements, queue, "get")
                if get_line is not None and get_line > join_line:
                    self.findings.append(
                        Finding(
                            id="join-deadlock",
                            severity="warning",
                            certainty="suspected",
                            title="join() before the queue is drained",
                            message=(
                                f"Line {join_line} joins {name} before line {get_line} reads "
                                f"{queue}, which {name} was given: if the child puts more than "
                                "the pipe holds (64 KiB on Linux), join() never returns."
                            ),
                            locations=[
                                Location("blocked", self.path, join_line),
                                Location("drained", self.path, get_line),
                            ],
                            hint=JOIN_BEFORE_DRAIN_HINT,
                        )
                    )


def decode_source(data: bytes) -> str:
    """The text of a source file's bytes, decoded as Python decodes it: the encoding of its
    coding cookie or UTF-8, a UTF-8 BOM dropped, CRLF and CR read as LF (the same lines).
    Raises ValueError (UnicodeDecodeError among them) when Python could not decode it either."""
    try:
        return importlib.util.decode_source(data)
    except SyntaxError as exc:  # a cookie naming no codec, a first line that is not UTF-8
        raise ValueError(exc.msg) from None
    except LookupError as exc:  # a cookie naming a codec that is not a text encoding
        raise ValueError(str(exc)) from None


def check_source(source: str, path: str) -> list[Finding]:
    """Findings for the program in `source` (raises SyntaxError like compile())."""
    try:
        tree = ast.parse(source, filename=path)
    except ValueError as exc:  # a NUL byte under Python 3.10 (a SyntaxError from 3.11)
        raise SyntaxError(str(exc)) from None
    findings = _Checker(path, tree).run()
    unique: dict[tuple, Finding] = {}
    for finding in findings:
        key = (finding.id, tuple((loc.file, loc.line) for loc in finding.locations))
        unique.setdefault(key, finding)
    return sorted(unique.values(), key=lambda f: f.locations[0].line if f.locations else 0)


# -- AST helpers --------------------------------------------------------------------------------


def _is_main_guard(stmt: ast.stmt) -> bool:
    if not isinstance(stmt, ast.If) or not isinstance(stmt.test, ast.Compare):
        return False
    test = stmt.test
    sides = [test.left, *test.comparators]
    names = {s.id for s in sides if isinstance(s, ast.Name)}
    values = {s.value for s in sides if isinstance(s, ast.Constant)}
    return "__name__" in names and "__main__" in values and isinstance(test.ops[0], ast.Eq)


def _is_threads_module(module: str) -> bool:
    """`multiprocessing.dummy` and its submodules: the multiprocessing API over threads."""
    parts = module.split(".")
    return parts[0] == "multiprocessing" and _THREADS_MODULE in parts[1:2]


def _forced(call: ast.Call) -> bool:
    """set_start_method(method, force=...) with a force that is not a literal false: the call
    does not raise when the method is already set (a child's re-import of the main module)."""
    force = call.args[1] if len(call.args) > 1 else None
    for keyword in call.keywords:
        if keyword.arg in ("force", None):  # None: **kwargs, which may hold force
            force = keyword.value
    if force is None:
        return False
    return not (isinstance(force, ast.Constant) and not force.value)


def _walk_code(node: ast.AST):
    """Every node under `node` that runs when `node` runs: not inside nested function, class or
    lambda bodies."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        for child in ast.iter_child_nodes(current):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                continue
            stack.append(child)


def _walk_statements(body: list[ast.stmt]):
    """The statements of a body and of its blocks (if/for/with/try), not of nested functions."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for name in ("body", "orelse", "finalbody"):
            yield from _walk_statements(getattr(stmt, name, []) or [])
        for handler in getattr(stmt, "handlers", []) or []:
            yield from _walk_statements(handler.body)


def _call_arguments(call: ast.Call):
    yield from call.args
    for keyword in call.keywords:
        if keyword.arg == "args" and isinstance(keyword.value, (ast.Tuple, ast.List)):
            yield from keyword.value.elts
        else:
            yield keyword.value


def _with_target(statements: list[ast.stmt], name: str) -> bool:
    for stmt in statements:
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                expr = item.context_expr
                if isinstance(expr, ast.Name) and expr.id == name:
                    return True
                if isinstance(item.optional_vars, ast.Name) and item.optional_vars.id == name:
                    return True
    return False


def _managed(body: list[ast.stmt], name: str) -> bool:
    """The pool is closed, terminated or joined, or leaves the scope (returned, passed on,
    stored elsewhere) where this file cannot follow it."""
    for stmt in body:
        for node in ast.walk(stmt):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == name
                and node.func.attr in _CLOSING_METHODS
            ):
                return True
            if isinstance(node, ast.Return) and _mentions(node.value, name):
                return True
            if isinstance(node, ast.Call) and any(
                _mentions(a, name) for a in _call_arguments(node)
            ):
                return True
            if isinstance(node, ast.Assign) and _mentions(node.value, name):
                return True
    return False


def _mentions(node: ast.AST | None, name: str) -> bool:
    """`node` is the name itself, or a tuple, list, set or dict holding it (a call on the pool,
    `pool.map(...)`, does not hand the pool on)."""
    if isinstance(node, ast.Name):
        return node.id == name
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_mentions(e, name) for e in node.elts)
    if isinstance(node, ast.Dict):
        return any(_mentions(v, name) for v in node.values)
    if isinstance(node, ast.Starred):
        return _mentions(node.value, name)
    return False


def _first_method_call(statements: list[ast.stmt], name: str, method: str) -> int | None:
    lines = [
        node.lineno
        for stmt in statements
        for node in _walk_code(stmt)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == method
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == name
    ]
    return min(lines) if lines else None
