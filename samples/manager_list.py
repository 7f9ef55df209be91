"""A Manager's list shared by several processes.

Expect: none
Exit: 0

The Manager runs a server process; the children append through proxies; the `with` block
shuts the server down after the children have been joined.
"""

from multiprocessing import Manager, Process


def record(shared, i):
    shared.append(i * 10)


if __name__ == "__main__":
    with Manager() as manager:
        shared = manager.list()
        workers = [Process(target=record, args=(shared, i)) for i in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        print(sorted(shared))
