"""A Pool task starts a Pool of its own: Pool workers are daemonic and may not have children.

Expect: daemon-children
Exit: 1

The inner Pool() raises "AssertionError: daemonic processes are not allowed to have children"
in the worker; the parent's map() re-raises it. (Under `python -O` the assert is skipped.)
"""

from multiprocessing import Pool


def square(x):
    return x * x


def fan_out(n):
    with Pool(2) as inner:  # <- finding (started)
        return sum(inner.map(square, range(n)))


if __name__ == "__main__":
    with Pool(2) as outer:
        print(outer.map(fan_out, [3, 4]))
