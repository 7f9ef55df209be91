"""Asks for fork by name: fine on Linux and macOS, impossible on Windows."""

import multiprocessing


def work():
    print("worked")


if __name__ == "__main__":
    child = multiprocessing.get_context("fork").Process(target=work)
    child.start()
    child.join()
