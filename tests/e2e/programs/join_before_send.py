"""The parent joins a child that waits to receive what the parent sends only after the join."""

from multiprocessing import Pipe, Process


def child(receiver):
    print(receiver.recv())


if __name__ == "__main__":
    receiver, sender = Pipe(duplex=False)
    process = Process(target=child, args=(receiver,))
    process.start()
    process.join()
    sender.send("go")
