"""Cancelling one build stops its own processes only, though the builder runs several builds
as threads of one process."""

import signal
import subprocess
import threading

from paas.core.buildguard import cancel_key, watch


class ThreadedBuild:
    """A build that runs one child process (as `docker build` would) in a thread of its own,
    watched as the builder watches it; its watch ends when the process does."""

    def __init__(self, build_id: int) -> None:
        self.started = threading.Event()
        self.watch_ended = threading.Event()
        self.process: subprocess.Popen | None = None
        self.thread = threading.Thread(target=self._build, args=(build_id,))
        self.thread.start()

    def _build(self, build_id: int) -> None:
        with watch(build_id):
            self.process = subprocess.Popen(["sleep", "600"], start_new_session=True)
            self.started.set()
            self.process.wait()  # until killed
        self.watch_ended.set()  # its watcher has stopped: it kills nothing more

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
        self.thread.join(timeout=60)


def test_cancelling_a_build_kills_its_process_and_not_the_other_builds(platform):
    cancelled, other = ThreadedBuild(1), ThreadedBuild(2)
    try:
        # Bounds on a hang only: the watcher acts within CANCEL_POLL_SECONDS.
        assert cancelled.started.wait(timeout=60) and other.started.wait(timeout=60)

        platform.redis.set(cancel_key(1), "1")

        assert cancelled.watch_ended.wait(timeout=60)
        assert cancelled.process.returncode == -signal.SIGKILL
        # Still running: it ends by this SIGTERM, not by a SIGKILL the cancel sent it (a
        # process that has been sent SIGKILL dies of that, whatever it is sent next).
        other.process.terminate()
        assert other.process.wait(timeout=60) == -signal.SIGTERM
    finally:
        cancelled.stop()
        other.stop()
