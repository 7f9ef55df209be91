"""SimpleQueue.put() and Connection.send() pickle in the caller's thread: the error escapes
through a `finally:` block that runs more lines of the same frame. The site must be the line of
the put (the traceback's), not where the frame stood when it ended."""

import multiprocessing as mp
import sys
import threading


class Box:
    def __init__(self):
        self.items = [1, 2, threading.Lock()]


if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1])
    q = ctx.SimpleQueue()
    reader, writer = ctx.Pipe()
    try:
        if sys.argv[2] == "queue":
            q.put(Box())
        else:
            writer.send(Box())
    finally:
        writer.close()
        reader.close()
        print("closed", file=sys.stderr)
