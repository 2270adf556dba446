"""Settings for the test process: paas.settings with a private PAAS_HOME.

The test process is an entry point, so it may set the environment before paas.settings reads it.
The e2e stack the tests start gets its own PAAS_HOME and ports (tests/e2e/stack.py).
"""

import os
import tempfile

os.environ.setdefault("PAAS_HOME", tempfile.mkdtemp(prefix="paas-test-"))
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:1/0")  # unit tests never reach Redis

from paas.settings import *  # noqa: E402,F403
