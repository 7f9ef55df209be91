"""An uncaught exception whose __len__ raises: the probe's atexit must not test its truth."""


class Errors(Exception):
    def __len__(self):
        raise RuntimeError("len not available")


raise Errors("bad input")
