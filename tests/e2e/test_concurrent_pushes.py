"""Two pushes to one app at once: one builds, the other waits its turn and says so."""

import shutil
import threading
import time

from tests.e2e.stack import commit_all, git, unique_app_name


def test_a_second_push_waits_and_never_moves_the_branch_behind_the_first(stack, tmp_path):
    app = unique_app_name("race")
    base = stack.checkout("dockerfile-hello", tmp_path / "base")
    assert stack.push(base, app).returncode == 0
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copytree(base, first)
    shutil.copytree(base, second)
    # The first push builds slowly, so the second arrives while it is still building.
    dockerfile = first / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + f"RUN echo {app}-first && sleep 6\n")
    first_sha = commit_all(first, "slow build")
    (second / "README").write_text("second\n")
    commit_all(second, "quick change")

    results = {}
    slow = threading.Thread(target=lambda: results.setdefault("first", stack.push(first, app)))
    slow.start()
    for _ in range(100):  # start the second push once the first is building
        if stack.build_running(app):
            break
        time.sleep(0.1)
    results["second"] = stack.push(second, app)
    slow.join()

    assert results["first"].returncode == 0, results["first"].stderr
    assert results["second"].returncode != 0
    assert "waiting for it to finish" in results["second"].stderr
    assert "the branch moved while this push waited" in results["second"].stderr
    assert stack.server_ref(app) == first_sha
    assert git(first, "rev-parse", "HEAD") == first_sha
