"""Twenty fork children that return at once: each lives about a millisecond, far less than the
10 ms clock tick a create_time counts."""

import multiprocessing


def nothing():
    pass


if __name__ == "__main__":
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=nothing) for _ in range(20)]
    for child in children:
        child.start()
    for child in children:
        child.join()
