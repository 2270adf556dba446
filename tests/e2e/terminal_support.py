"""The real ``paas`` CLI on a pseudo-terminal, as a user at a terminal runs it: keys typed in,
what the terminal shows read back, the window resized."""

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import threading
from pathlib import Path

from tests.e2e.stack import PAAS_CLI, cli_env

# Like the other helpers of the suite, a session that never shows what is awaited is
# killed after this long, so the suite fails instead of hanging.
GIVE_UP_SECONDS = 600


class TerminalSession:
    """``paas ARGV`` with a pseudo-terminal as its stdin, stdout and stderr."""

    def __init__(self, config: Path, *argv: str, cwd: Path, rows: int = 24,
                 cols: int = 80) -> None:
        self.user_side, program_side = os.openpty()
        self.resize(rows, cols, signal_it=False, fd=program_side)
        self.process = subprocess.Popen(
            [str(PAAS_CLI), *argv], cwd=cwd, env={**cli_env(config), "TERM": "xterm"},
            stdin=program_side, stdout=program_side, stderr=program_side,
            start_new_session=True)
        os.close(program_side)
        self.shown = b""
        self._watchdog = threading.Timer(GIVE_UP_SECONDS, self.process.kill)
        self._watchdog.start()

    def type(self, keys: str) -> None:
        os.write(self.user_side, keys.encode())

    def expect(self, pattern: str) -> re.Match:
        """Read what the terminal shows until ``pattern`` (a regex) matches it."""
        wanted = re.compile(pattern.encode())
        while (found := wanted.search(self.shown)) is None:
            if not self._read():
                raise AssertionError(f"{pattern!r} never shown; the terminal showed:\n"
                                     f"{self.shown.decode(errors='replace')}")
        return found

    def resize(self, rows: int, cols: int, signal_it: bool = True, fd: int | None = None) -> None:
        """Set the window's size; SIGWINCH as the kernel sends it to a terminal's foreground
        process (the CLI runs in a session of its own, without a controlling terminal)."""
        fcntl.ioctl(self.user_side if fd is None else fd, termios.TIOCSWINSZ,
                    struct.pack("HHHH", rows, cols, 0, 0))
        if signal_it:
            os.kill(self.process.pid, signal.SIGWINCH)

    def wait(self) -> int:
        """The CLI's exit status, once it ended (what it showed meanwhile is read)."""
        while self._read():
            pass
        code = self.process.wait()
        self.close()
        return code

    def close(self) -> None:
        self._watchdog.cancel()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.user_side >= 0:
            os.close(self.user_side)
            self.user_side = -1

    def _read(self) -> bool:
        while True:
            ready, _, _ = select.select([self.user_side], [], [], 1.0)
            if ready:
                break
            if self.process.poll() is not None:
                ready, _, _ = select.select([self.user_side], [], [], 0)
                if not ready:
                    return False
                break
        try:
            chunk = os.read(self.user_side, 65536)
        except OSError:  # EIO: every program side of the terminal is closed
            return False
        self.shown += chunk
        return bool(chunk)
