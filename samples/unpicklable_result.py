"""A Pool task returns a generator, which cannot be pickled back to the parent.

Expect: unpicklable-result
Exit: 1

The parent gets `MaybeEncodingError: Error sending result: '[<generator object ...>]'`; mpdoctor
names the function, the member of its return value that failed, and the call that waited.
"""

from multiprocessing import Pool


def squares(n):
    return (i * i for i in range(n))


def main():
    with Pool(2) as pool:
        print(pool.map(squares, [3, 4]))  # <- finding (awaited)


if __name__ == "__main__":
    main()
