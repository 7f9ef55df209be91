"""Shared memory with Value and Array: a child fills both and the parent reads them.

Expect: none
Exit: 0

The example of the docs ("Sharing state between processes"), with the Value's lock used for
an increment that several processes make at once.
"""

from multiprocessing import Array, Process, Value


def fill(number, array):
    with number.get_lock():
        number.value += 1
    with array.get_lock():  # three children negate it: each pass must be whole
        for i in range(len(array)):
            array[i] = -array[i]


if __name__ == "__main__":
    num = Value("d", 0.0)
    arr = Array("i", range(10))
    workers = [Process(target=fill, args=(num, arr)) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print(num.value)
    print(arr[:])
