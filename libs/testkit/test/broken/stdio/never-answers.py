"""Broken: reads the task and never answers."""
import sys
import time

sys.stdin.readline()
print("thinking...", file=sys.stderr, flush=True)
time.sleep(3600)
