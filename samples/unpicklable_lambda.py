"""Pool.map() is given a lambda: multiprocessing sends functions by name, and a lambda has none.

Expect: unpicklable-callable
Exit: 1

Python's error names only the lambda's qualified name ("Can't pickle local object
'main.<locals>.<lambda>'", worded differently by each version); mpdoctor names the line that
defines it and the map() call that sent it. Every start method fails: Pool pickles its function
even under fork.
"""

from multiprocessing import Pool


def main():
    scale = 3
    times_scale = lambda x: x * scale  # noqa: E731  # <- finding (defined)
    with Pool(2) as pool:
        print(pool.map(times_scale, range(8)))  # <- finding (sent)


if __name__ == "__main__":
    main()
