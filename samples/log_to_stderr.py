"""The program turns on multiprocessing's own logging with log_to_stderr().

Expect: none
Exit: 0

Its stderr carries multiprocessing's INFO lines (process starts, exits, clean-up) whether or
not mpdoctor also asks for them: the user's own call must keep working unchanged.
"""

import logging
import multiprocessing


def work(x):
    return x + 1


if __name__ == "__main__":
    logger = multiprocessing.log_to_stderr()
    logger.setLevel(logging.INFO)
    p = multiprocessing.Process(target=work, args=(1,))
    p.start()
    p.join()
    logger.info("child finished with exit code %s", p.exitcode)
