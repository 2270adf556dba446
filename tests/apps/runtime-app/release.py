"""The runtime tests' release command: RELEASE_FAIL=1 makes it fail (and the deploy with it);
RELEASE_SLEEP=<seconds> makes it take that long (to kill a worker mid-deploy)."""

import os
import sys
import time

print(f"release phase of v{os.environ.get('PAAS_RELEASE')}", flush=True)
if os.environ.get("RELEASE_FAIL") == "1":
    print("release phase: failing on purpose", flush=True)
    sys.exit(7)
time.sleep(float(os.environ.get("RELEASE_SLEEP", "0")))
