#!/usr/bin/env python3
"""Starts a command that saves PATH, kills it with SIGKILL, prints how.

Usage: kill_during_save.py MODE ARG PATH -- COMMAND...
  MODE save N:  kill as soon as the N-th save's temporary file appears
                beside PATH (".<name>.<pid>-<n>.tmp"): during a save
  MODE time MS: kill after MS milliseconds, wherever the program is
Prints "killed after <ms> ms, [not ]during a save tmp=<0|1>" (tmp=1: a
temporary file existed at the moment of the kill), or "finished <status>"
if the program ended first.
"""
import os
import signal
import subprocess
import sys
import time

mode, arg, path = sys.argv[1], sys.argv[2], sys.argv[3]
cmd = sys.argv[sys.argv.index("--") + 1:]
folder, base = os.path.dirname(path) or ".", os.path.basename(path)
prefix = "." + base + "."


def temps():
    return [f for f in os.listdir(folder) if f.startswith(prefix) and f.endswith(".tmp")]


p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
t0 = time.monotonic()
if mode == "save":
    want, seen, inside = int(arg), 0, False
    while p.poll() is None:
        now = bool(temps())
        if now and not inside:
            seen += 1
            if seen == want:
                break
        inside = now
else:
    deadline = t0 + int(arg) / 1000.0
    while p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
if p.poll() is not None:
    print("finished %d" % p.returncode)
    sys.exit(0)
tmp = 1 if temps() else 0
p.send_signal(signal.SIGKILL)
p.wait()
print("killed after %d ms, %s tmp=%d" % (int((time.monotonic() - t0) * 1000),
                                        "during a save" if tmp else "not during a save", tmp))
