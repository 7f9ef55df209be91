"""`mpdoctor check`'s static rules on positive and negative programs (pure: source in, findings
out), and no finding on any correct sample."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from mpdoctor.static.ast_rules import check_source

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "donoharm"))
from sample_meta import all_samples  # noqa: E402


def _found(source: str) -> list[tuple[str, str, int]]:
    findings = check_source(textwrap.dedent(source), "app.py")
    return [(f.id, f.severity, f.locations[0].line) for f in findings]


POSITIVE = {
    "module-level pool": (
        """
        import multiprocessing as mp
        def f(x):
            return x
        with mp.Pool(2) as pool:
            pool.map(f, range(3))
        """,
        [("missing-main-guard", "error", 5)],
    ),
    "module-level executor from an import": (
        """
        from concurrent.futures import ProcessPoolExecutor
        ex = ProcessPoolExecutor()
        """,
        [("missing-main-guard", "error", 3)],
    ),
    "context pool and a started process": (
        """
        import multiprocessing
        ctx = multiprocessing.get_context("spawn")
        p = ctx.Process(target=print)
        p.start()
        pool = ctx.Pool()
        pool.close()
        """,
        [("missing-main-guard", "error", 5), ("missing-main-guard", "error", 6)],
    ),
    "main() called without the guard": (
        """
        from multiprocessing import Pool
        def run():
            with Pool() as p:
                p.map(abs, [1])
        def main():
            run()
        main()
        """,
        [("missing-main-guard", "error", 8)],
    ),
    "set_start_method at module level": (
        """
        import multiprocessing
        multiprocessing.set_start_method("spawn")
        if __name__ == "__main__":
            pass
        """,
        [("missing-main-guard", "error", 3)],
    ),
    "lambda and nested function sent to a pool": (
        """
        from multiprocessing import Pool
        def main():
            def inner(x):
                return x
            square = lambda x: x * x
            with Pool() as pool:
                pool.map(lambda x: x, [1])
                pool.apply_async(inner, (1,))
                pool.imap(square, [1])
        if __name__ == "__main__":
            main()
        """,
        [
            ("unpicklable-callable", "error", 8),
            ("unpicklable-callable", "error", 9),
            ("unpicklable-callable", "error", 10),
        ],
    ),
    "executor submit of a lambda, process target nested": (
        """
        import concurrent.futures as cf
        import multiprocessing as mp
        def main():
            def job():
                pass
            with cf.ProcessPoolExecutor() as ex:
                ex.submit(lambda: 1)
            mp.Process(target=job).start()
        if __name__ == "__main__":
            main()
        """,
        [("unpicklable-callable", "error", 8), ("unpicklable-callable", "warning", 9)],
    ),
    "pool never closed": (
        """
        from multiprocessing import Pool
        def main():
            pool = Pool(4)
            print(pool.map(abs, [1, -2]))
        if __name__ == "__main__":
            main()
        """,
        [("pool-not-closed", "warning", 4)],
    ),
    "join before draining the queue": (
        """
        from multiprocessing import Process, Queue
        def produce(q):
            q.put("x" * 10**6)
        if __name__ == "__main__":
            q = Queue()
            p = Process(target=produce, args=(q,))
            p.start()
            p.join()
            print(len(q.get()))
        """,
        [("join-deadlock", "warning", 9)],
    ),
    "asyncio.run() of an async main that starts processes, unguarded": (
        """
        import asyncio
        from concurrent.futures import ProcessPoolExecutor
        async def main():
            with ProcessPoolExecutor(2) as ex:
                ex.submit(abs, 1)
        asyncio.run(main())
        """,
        [("missing-main-guard", "error", 7)],
    ),
    "a real pool beside multiprocessing.dummy": (
        """
        import multiprocessing
        import multiprocessing.dummy
        from multiprocessing.dummy import Pool as ThreadPool
        threads = ThreadPool(2)
        processes = multiprocessing.Pool(2)
        processes.close()
        """,
        [("missing-main-guard", "error", 6)],
    ),
    "set_start_method with a false force": (
        """
        import multiprocessing as mp
        mp.set_start_method("spawn", force=False)
        mp.set_start_method("spawn", False)
        """,
        [("missing-main-guard", "error", 3), ("missing-main-guard", "error", 4)],
    ),
    "join before draining multiprocessing queues, however created": (
        """
        import multiprocessing
        import multiprocessing as mp
        from multiprocessing import Queue as MpQueue
        def produce(q):
            q.put("x" * 10**6)
        def main():
            ctx = mp.get_context("spawn")
            a = mp.Queue()
            b = ctx.Queue()
            c = multiprocessing.SimpleQueue()
            d = MpQueue()
            p = mp.Process(target=produce, args=(a, b, c, d))
            p.start()
            p.join()
            print(a.get())
            print(b.get())
            print(c.get())
            print(d.get())
        if __name__ == "__main__":
            main()
        """,
        [("join-deadlock", "warning", 15)] * 4,
    ),
}

NEGATIVE = {
    "guarded everything": """
        import multiprocessing as mp
        def f(x):
            return x
        if __name__ == "__main__":
            mp.set_start_method("spawn")
            with mp.Pool(2) as pool:
                pool.map(f, range(3))
        """,
    "map of a lambda on something that is not a pool": """
        import multiprocessing
        def main(series, items):
            series.map(lambda x: x)
            list(map(lambda x: x, items))
        """,
    "pool closed, joined, returned or passed on": """
        from multiprocessing import Pool
        def a():
            pool = Pool()
            pool.close()
            pool.join()
        def b():
            pool = Pool()
            return pool
        def c(register):
            pool = Pool()
            register(pool)
        def d():
            pool = Pool()
            with pool:
                pass
        """,
    "drained before join": """
        from multiprocessing import Process, Queue
        def produce(q):
            q.put(1)
        if __name__ == "__main__":
            q = Queue()
            p = Process(target=produce, args=(q,))
            p.start()
            print(q.get())
            p.join()
        """,
    "module-level names that only look alike": """
        from concurrent.futures import ThreadPoolExecutor
        from multiprocessing.pool import ThreadPool
        pool = ThreadPool(2)
        ex = ThreadPoolExecutor()
        class Pool:
            pass
        """,
    "processes started inside an async def": """
        import asyncio
        from concurrent.futures import ProcessPoolExecutor
        async def main():
            with ProcessPoolExecutor(2) as ex:
                ex.submit(abs, 1)
            pool = ProcessPoolExecutor(2)
            pool.shutdown()
        if __name__ == "__main__":
            asyncio.run(main())
        """,
    "thread pools given lambdas": """
        import concurrent.futures
        import multiprocessing.dummy
        import multiprocessing.dummy as mpd
        import multiprocessing.pool
        from concurrent.futures import ThreadPoolExecutor
        from multiprocessing.dummy import Pool as ThreadPool
        from multiprocessing.dummy import Process
        from multiprocessing.pool import ThreadPool as MpThreadPool
        pool = ThreadPool(2)
        pool.map(lambda u: u.upper(), ["a", "b"])
        mpd.Pool(2).map(lambda u: u, [1])
        multiprocessing.dummy.Pool(2).imap(lambda u: u, [1])
        multiprocessing.pool.ThreadPool(2).map(lambda u: u, [1])
        MpThreadPool(2).apply_async(lambda: 1)
        concurrent.futures.ThreadPoolExecutor().submit(lambda: 1)
        with ThreadPoolExecutor() as ex:
            ex.submit(lambda: 1)
        Process(target=lambda: 1).start()
        def main():
            with ThreadPool(2) as threads:
                threads.map(lambda u: u.upper(), ["a"])
            mpd.Process(target=lambda: 1).start()
        """,
    "set_start_method forced at module level": """
        import multiprocessing as mp
        from multiprocessing import set_start_method
        mp.set_start_method("spawn", force=True)
        set_start_method("forkserver", True)
        mp.set_start_method("spawn", **{"force": True})
        if __name__ == "__main__":
            pass
        """,
    "join before reading a manager's queue": """
        import multiprocessing as mp
        from multiprocessing import Manager, Process
        from multiprocessing.managers import SyncManager
        def produce(q):
            q.put("x" * 10**6)
        def with_block():
            with mp.Manager() as m:
                q = m.Queue()
                p = mp.Process(target=produce, args=(q,))
                p.start()
                p.join()
                print(q.get())
        def assigned():
            manager = Manager()
            q = manager.Queue()
            j = manager.JoinableQueue()
            inline = mp.Manager().Queue()
            p = Process(target=produce, args=(q, j, inline))
            p.start()
            p.join()
            print(q.get(), j.get(), inline.get())
        def sync_manager():
            manager = SyncManager()
            manager.start()
            q = manager.Queue()
            p = Process(target=produce, args=(q,))
            p.start()
            p.join()
            print(q.get())
        if __name__ == "__main__":
            with_block()
            assigned()
            sync_manager()
        """,
    "a module without multiprocessing": """
        def Pool():
            return 1
        Pool()
        """,
}


@pytest.mark.parametrize("name", sorted(POSITIVE))
def test_positive_programs(name: str) -> None:
    source, expected = POSITIVE[name]
    assert _found(source) == expected


@pytest.mark.parametrize("name", sorted(NEGATIVE))
def test_negative_programs(name: str) -> None:
    assert _found(NEGATIVE[name]) == []


@pytest.mark.parametrize(
    "sample", [s for s in all_samples(ROOT / "samples") if s.correct], ids=lambda s: s.path.stem
)
def test_no_finding_on_correct_samples(sample) -> None:
    assert check_source(sample.path.read_text(), str(sample.path)) == []


def test_findings_carry_run_hints_and_file() -> None:
    findings = check_source("import multiprocessing as mp\nmp.Pool()\n", "/x/app.py")
    assert findings[0].hint is not None and "__main__" in findings[0].hint.fix
    assert findings[0].locations[0].file == "/x/app.py"


def test_syntax_error_is_raised_for_the_cli_to_report() -> None:
    with pytest.raises(SyntaxError):
        check_source("def (:\n", "bad.py")
