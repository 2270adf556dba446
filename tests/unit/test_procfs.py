"""Reading which processes a thread started, from /proc."""

import os
import subprocess
import threading

from paas.procfs import thread_children


def test_it_lists_the_children_a_thread_started(tmp_path):
    task = tmp_path / "41" / "task" / "43"
    task.mkdir(parents=True)
    (task / "children").write_text("101 102 ")

    assert thread_children(41, 43, proc=tmp_path) == [101, 102]


def test_a_thread_that_is_gone_has_no_children(tmp_path):
    assert thread_children(41, 43, proc=tmp_path) == []


def test_it_tells_one_threads_children_from_another_threads_on_linux():
    started: dict[str, tuple[int, subprocess.Popen]] = {}
    done = threading.Event()

    def start(name: str) -> None:
        started[name] = (threading.get_native_id(),
                         subprocess.Popen(["sleep", "600"], start_new_session=True))
        done.wait()  # a thread's children are its own only while it lives

    threads = [threading.Thread(target=start, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    try:
        for _ in range(500):  # until both have started their process (bounded)
            if len(started) == 2:
                break
            done.wait(0.01)
        (first_thread, first), (second_thread, second) = started["first"], started["second"]

        assert thread_children(os.getpid(), first_thread) == [first.pid]
        assert thread_children(os.getpid(), second_thread) == [second.pid]
    finally:
        for _, process in started.values():
            process.kill()
            process.wait()
        done.set()
        for thread in threads:
            thread.join()
