"""``python -m zoo.run.reaper PARENT``: when zoo dies, even by kill -9, end every process it started.

The kernel does not end a dead process's children, and a local Ray instance (its GCS server,
raylet, agents and workers) would run on for nobody: Ray's raylet dies with zoo, but the
agents it started do not. This small watcher, in a session of its own so that Ctrl-C does not
reach it, polls its parent and remembers the parent's descendants; once the parent is gone,
it ends those that are still running (SIGTERM, then SIGKILL after 5 s). When zoo ends
normally it shuts Ray down itself and stops this watcher.
"""

import os
import sys
import time

import psutil


def descendants(parent: psutil.Process) -> list[psutil.Process]:
    try:
        return [p for p in parent.children(recursive=True) if p.pid != os.getpid()]
    except psutil.NoSuchProcess:
        return []


def reap(processes: list[psutil.Process]) -> None:
    # is_running() compares creation times too: a reused pid is never ended by mistake.
    running = [p for p in processes if p.is_running()]
    for process in running:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(running, timeout=5)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


def main(parent_pid: int) -> None:
    parent = psutil.Process(parent_pid)
    known: dict[int, psutil.Process] = {}
    while os.getppid() == parent_pid:  # re-parented once zoo is gone
        known.update({p.pid: p for p in descendants(parent)})
        time.sleep(0.5)
    reap(list(known.values()))


if __name__ == "__main__":
    main(int(sys.argv[1]))
