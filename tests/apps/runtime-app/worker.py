"""The runtime tests' worker: ticks once a second; WORKER_CRASH=1 makes it crash at start."""

import os
import signal
import sys
import time

if os.environ.get("WORKER_CRASH") == "1":
    print("worker: crashing on purpose", flush=True)
    sys.exit(3)

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
count = 0
while True:
    count += 1
    print(f"worker: tick {count} in v{os.environ.get('PAAS_RELEASE')}", flush=True)
    time.sleep(1)
