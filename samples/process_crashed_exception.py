"""A Process target raises; multiprocessing prints the traceback and the parent carries on.

Expect: process-crashed
Exit: 0

The parent never looks at `exitcode` (1 here), so in a long log the failure is easy to miss:
the finding names the child, its exception, and the line that raised it.
"""

from multiprocessing import Process


def load_settings(path):
    settings = {"retries": 3}
    return settings["timeout"]  # <- finding (raised: KeyError)


if __name__ == "__main__":
    loader = Process(target=load_settings, args=("app.ini",))
    loader.start()  # <- finding (started)
    loader.join()
    print("settings loaded")
