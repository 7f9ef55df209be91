"""A spawn Manager at module level: its server process dies re-importing the main module."""

import multiprocessing

manager = multiprocessing.get_context("spawn").Manager()
print(manager.list())
