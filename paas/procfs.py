"""Reading the process table from /proc (Linux), for the few places paas watches processes."""

from collections.abc import Iterator
from pathlib import Path

PROC = Path("/proc")


def children(parent_pid: int, proc: Path = PROC) -> Iterator[tuple[int, bytes]]:
    """(pid, command line) of each process whose parent is ``parent_pid``; processes that end
    while being read are skipped. The command line's NUL separators are kept."""
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
            # The parent pid follows the ")" that closes the command name, after the state.
            parent = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == parent_pid:
            yield int(entry.name), cmdline


def thread_children(pid: int, thread_id: int, proc: Path = PROC) -> list[int]:
    """The pids of the processes that thread ``thread_id`` of process ``pid`` started and
    that still run (Linux's /proc/<pid>/task/<tid>/children); [] if the thread is gone.

    In a process whose threads each run their own work (a worker's thread pool), this tells
    one task's processes from the others'.
    """
    try:
        text = (proc / str(pid) / "task" / str(thread_id) / "children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]
