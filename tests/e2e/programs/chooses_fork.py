"""The program sets the start method itself, under its guard: --start-method must not make this
set_start_method() fail ("context has already been set"), and fork is used."""

import multiprocessing


def name(_):
    return multiprocessing.current_process().name


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    with multiprocessing.Pool(1) as pool:
        print(pool.map(name, [0]))
