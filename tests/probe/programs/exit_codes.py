"""sys.exit(argv[1]) after a child ran: an int code, or a message (printed, exit 1)."""

import multiprocessing as mp
import sys

if __name__ == "__main__":
    p = mp.Process(target=print, args=("child says hi",))
    p.start()
    p.join()
    code = sys.argv[1]
    sys.exit(int(code) if code.lstrip("-").isdigit() else code)
