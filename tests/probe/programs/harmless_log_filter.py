"""A message object that cannot be compared, logged to concurrent.futures: the probe's
filter stays silent."""

import logging

logging.basicConfig()


class Msg:
    def __eq__(self, other):
        raise TypeError("no comparisons")

    __hash__ = object.__hash__

    def __str__(self):
        return "custom message object"


log = logging.getLogger("concurrent.futures")
log.warning(Msg())
print("after log")
