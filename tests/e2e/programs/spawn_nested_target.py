"""A spawn Process whose target is a nested function: Process.start() raises in the parent."""

import multiprocessing


def main():
    def report():
        print("child")

    child = multiprocessing.get_context("spawn").Process(target=report)
    child.start()
    child.join()


if __name__ == "__main__":
    main()
