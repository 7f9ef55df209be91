"""ProcessPoolExecutor.map, the concurrent.futures way.

Expect: none
Exit: 0

The `with` block shuts the executor down and waits for its workers.
"""

from concurrent.futures import ProcessPoolExecutor


def cube(x):
    return x**3


if __name__ == "__main__":
    with ProcessPoolExecutor(max_workers=2) as executor:
        print(sum(executor.map(cube, range(200), chunksize=20)))
