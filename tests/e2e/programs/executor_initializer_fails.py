"""A ProcessPoolExecutor initializer raises: the worker logs it and returns, the executor breaks."""

from concurrent.futures import ProcessPoolExecutor


def open_database():
    raise ValueError("no database")


def work(x):
    return x


if __name__ == "__main__":
    with ProcessPoolExecutor(2, initializer=open_database) as executor:
        print(list(executor.map(work, range(3))))
