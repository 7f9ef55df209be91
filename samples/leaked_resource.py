"""A SharedMemory block is created and closed but never unlinked.

Expect: leaked-resource
Exit: 0

close() only unmaps it; unlink() would free it. At shutdown the resource tracker unlinks it and
warns "There appear to be 1 leaked shared_memory objects to clean up at shutdown".
"""

from multiprocessing import shared_memory

if __name__ == "__main__":
    block = shared_memory.SharedMemory(create=True, size=1024)  # <- finding (created)
    block.buf[:5] = b"hello"
    print(bytes(block.buf[:5]).decode())
    block.close()  # the missing call is block.unlink()
