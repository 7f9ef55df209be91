"""Two processes talk over a Pipe: the child answers each request until it gets None.

Expect: none
Exit: 0

Both ends are used in both directions; the child exits when the parent says so.
"""

from multiprocessing import Pipe, Process


def serve(conn):
    while True:
        request = conn.recv()
        if request is None:
            break
        conn.send(request.upper())
    conn.close()


if __name__ == "__main__":
    parent_conn, child_conn = Pipe()
    server = Process(target=serve, args=(child_conn,))
    server.start()
    for word in ["spam", "eggs", "ham"]:
        parent_conn.send(word)
        print(parent_conn.recv())
    parent_conn.send(None)
    server.join()
