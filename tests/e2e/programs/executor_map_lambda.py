"""ProcessPoolExecutor.map() is given a lambda: the error comes out of the results iterator."""

from concurrent.futures import ProcessPoolExecutor


def main():
    factor = 3
    with ProcessPoolExecutor(2) as executor:
        print(list(executor.map(lambda x: x * factor, range(5))))


if __name__ == "__main__":
    main()
