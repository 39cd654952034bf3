"""A sampling profiler for the benchmark's server processes (py-spy is not installed here).

Python imports ``sitecustomize`` at start-up from the path; ``bench/load.py`` puts this directory
first on the server's ``PYTHONPATH`` when ``HMS_BENCH_LOAD_PROFILE`` names an output directory.
Every Python process of the server (``hms serve``, ``reflex run``, each granian worker) then runs
a thread that reads every other thread's stack every ``HMS_SAMPLER_INTERVAL_MS`` (default 5) with
``sys._current_frames()`` and writes the counts of the stacks it saw to ``<dir>/<pid>.json``
every few seconds. ``bench/load.py`` sums them up (``summarize_profile``).

A sample is taken with the interpreter lock held, so a thread running C code without the lock
(a SQLite or PostgreSQL query, a socket read) shows as the Python line that called it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

_OUT = os.environ.get("HMS_SAMPLER_OUT", "")


def _stack(frame) -> str:
    parts = []
    while frame is not None:
        code = frame.f_code
        parts.append(f"{code.co_filename}:{code.co_name}:{frame.f_lineno}")
        frame = frame.f_back
    return ";".join(reversed(parts))


def _run(path: str, interval: float) -> None:
    me = threading.get_ident()
    counts: dict[str, int] = {}
    samples = 0
    last_write = time.monotonic()
    while True:
        time.sleep(interval)
        names = {thread.ident: thread.name for thread in threading.enumerate()}
        for ident, frame in sys._current_frames().items():
            if ident == me:
                continue
            key = f"{names.get(ident, ident)}|{_stack(frame)}"
            counts[key] = counts.get(key, 0) + 1
        samples += 1
        if time.monotonic() - last_write > 3:
            last_write = time.monotonic()
            with open(path + ".tmp", "w") as out:
                json.dump({"samples": samples, "interval": interval, "argv": sys.argv, "stacks": counts}, out)
            os.replace(path + ".tmp", path)


def _start() -> None:
    if not _OUT:
        return
    interval = float(os.environ.get("HMS_SAMPLER_INTERVAL_MS", "5")) / 1000
    path = os.path.join(_OUT, f"{os.getpid()}.json")
    threading.Thread(target=_run, args=(path, interval), name="hms-sampler", daemon=True).start()


_start()
os.register_at_fork(after_in_child=_start)
