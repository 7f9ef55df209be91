"""Main forks a child that forks a grandchild and exits at once: the grandchild is orphaned
(reparented to the subreaper), exits with 7 after 0.5 s; main lives 1.5 s. Prints the pids."""

import os
import time

r, w = os.pipe()
child = os.fork()
if child == 0:
    grandchild = os.fork()
    if grandchild == 0:
        time.sleep(0.5)
        os._exit(7)
    os.write(w, b"%d\n" % grandchild)
    os._exit(0)
os.waitpid(child, 0)
grandchild = int(os.read(r, 100))
print(f"child={child} grandchild={grandchild}", flush=True)
time.sleep(1.5)
