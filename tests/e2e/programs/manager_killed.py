import multiprocessing as mp  # noqa: I001  (QA's mgrdead.py, line for line)
import os, signal, time  # noqa: E401

if __name__ == "__main__":
    m = mp.Manager()
    d = m.dict()
    d["a"] = 1
    os.kill(m._process.pid, signal.SIGKILL)
    time.sleep(0.2)
    d["b"] = 2
    print(dict(d))
