"""Two pushes to one app at once: one builds, the other waits its turn and says so."""

import shutil

from tests.e2e.stack import add_slow_step, commit_all, git, unique_app_name


def test_a_second_push_waits_and_never_moves_the_branch_behind_the_first(stack, tmp_path):
    app = unique_app_name("race")
    base = stack.checkout("dockerfile-hello", tmp_path / "base")
    assert stack.push(base, app).returncode == 0
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copytree(base, first)
    shutil.copytree(base, second)
    # The first push builds slowly, so the second arrives while it is still building.
    first_sha = add_slow_step(first, f"{app}-first", 6)
    (second / "README").write_text("second\n")
    commit_all(second, "quick change")

    slow = stack.start_push(first, app)
    assert stack.wait_for_build(app)  # the second push arrives while the first builds
    second_result = stack.push(second, app)
    first_result = slow()

    assert first_result.returncode == 0, first_result.stderr
    assert second_result.returncode != 0
    assert "waiting for it to finish" in second_result.stderr
    assert "the branch moved while this push waited" in second_result.stderr
    assert stack.server_ref(app) == first_sha
    assert git(first, "rev-parse", "HEAD") == first_sha
