"""Benchmark 6 counts the memory of supervisord and everything below it, and nothing else."""

from bench.memory import control_plane_memory


def _process(proc, pid: int, parent: int, name: str, rss_kib: int, pss_kib: int) -> None:
    entry = proc / str(pid)
    entry.mkdir()
    (entry / "stat").write_text(f"{pid} ({name}) S {parent} {pid} {pid} 0 -1\n")
    (entry / "status").write_text(f"Name:\t{name}\nVmRSS:\t{rss_kib} kB\nThreads:\t1\n")
    (entry / "smaps_rollup").write_text(f"Rss:  {rss_kib} kB\nPss:  {pss_kib} kB\n")
    (entry / "cmdline").write_bytes(name.encode() + b"\0--flag\0")


def test_it_sums_supervisord_and_all_its_descendants(tmp_path):
    _process(tmp_path, 10, 1, "supervisord", 20480, 10240)
    _process(tmp_path, 11, 10, "nginx: master process", 6144, 1024)
    _process(tmp_path, 12, 11, "nginx: worker process", 4096, 1024)  # a grandchild
    _process(tmp_path, 99, 1, "sshd", 999_999, 999_999)  # not the control plane's

    measured = control_plane_memory(10, proc=tmp_path)

    assert (measured["rss_mb"], measured["pss_mb"]) == (30.0, 12.0)
    assert [p["pid"] for p in measured["processes"]] == [10, 11, 12]
    assert measured["processes"][2]["command"] == "nginx: worker process --flag"
