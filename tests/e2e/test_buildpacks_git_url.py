"""A third-party buildpack from a git URL, end to end, without leaving the machine.

paas serves git over HTTP itself, so the buildpack repository (tests/apps/buildpack-shout) is
pushed to the stack as an app's repository on a branch that does not deploy, and another app is
built with ``BUILDPACK_URL=http://<user>:<token>@127.0.0.1:<control port>/git/<bp>.git#buildpack``.
The stack's own access log shows that the build's clone was served by the stack over loopback.
"""

from urllib.parse import urlsplit

import pytest

from tests.e2e.stack import commit_all, git, unique_app_name

BRANCH = "buildpack"


def upload_pack_requests(stack, app: str) -> list[str]:
    """The control plane's access-log lines for fetches of ``app``'s repository."""
    lines = []
    for path in (stack.home / "logs").glob("web.log*"):
        lines += [line for line in path.read_text(errors="replace").splitlines()
                  if f"/git/{app}.git/git-upload-pack" in line]
    return lines


@pytest.fixture(scope="module")
def buildpack_repo(stack, tmp_path_factory):
    """buildpack-shout stored in the stack as app ``bp-*``, on a branch that never builds."""
    name = unique_app_name("bp")
    repo = stack.checkout("buildpack-shout", tmp_path_factory.mktemp("bp"))
    result = stack.push(repo, name, ref=f"main:refs/heads/{BRANCH}")
    assert result.returncode == 0, result.stderr + stack.logs()
    assert "Building" not in result.stderr
    assert stack.server_ref(name, BRANCH) is not None
    assert stack.server_ref(name, "main") is None
    return name


def test_an_app_builds_with_a_buildpack_cloned_from_the_stacks_own_git(stack, buildpack_repo,
                                                                         tmp_path):
    url = (f"http://{stack.username}:{stack.token}@127.0.0.1:{stack.control_port}"
           f"/git/{buildpack_repo}.git#{BRANCH}")
    assert urlsplit(url).hostname == "127.0.0.1"  # the test never points a build off the box

    repo = tmp_path / "shouter"
    repo.mkdir()
    (repo / "shout.txt").write_text("hello from a git buildpack\n")
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "shout app")
    app = unique_app_name("shouter")
    # Stored first (no build), so BUILDPACK_URL is config before the first build.
    stored = stack.push(repo, app, ref="main:refs/heads/setup")
    assert stored.returncode == 0, stored.stderr + stack.logs()
    configured = stack.paas("config:set", f"BUILDPACK_URL={url}", "-a", app)
    assert configured.returncode == 0, configured.stderr
    assert configured.stderr.splitlines()[-1] == "done (takes effect on next deploy)"
    assert stack.api("GET", f"/apps/{app}/config").json() == {"BUILDPACK_URL": url}
    assert stack.api("GET", f"/apps/{app}/releases").json() == []  # no release yet
    fetches_before = upload_pack_requests(stack, buildpack_repo)

    result = stack.push(repo, app)
    assert result.returncode == 0, result.stderr + stack.logs()
    shown = f"http://***@127.0.0.1:{stack.control_port}/git/{buildpack_repo}.git#{BRANCH}"
    assert f"remote: -----> Using buildpack {buildpack_repo} ({shown})" in result.stderr
    assert stack.token not in result.stderr  # the token stays out of the build log
    assert "remote: -----> Shout app detected" in result.stderr
    assert "remote: -----> shout buildpack compiling" in result.stderr
    answer = stack.get(app)
    assert answer.status == 200
    assert answer.body == "HELLO FROM A GIT BUILDPACK\n"

    # The clone was a fetch from this stack's control plane, by a loopback client.
    fetches = upload_pack_requests(stack, buildpack_repo)[len(fetches_before):]
    assert fetches, "the stack served no fetch of the buildpack repository"
    assert all(line.startswith("127.0.0.1 ") for line in fetches), fetches


def test_a_buildpack_url_to_a_missing_branch_fails_the_push_naming_it(stack, buildpack_repo,
                                                                      tmp_path):
    url = (f"http://{stack.username}:{stack.token}@127.0.0.1:{stack.control_port}"
           f"/git/{buildpack_repo}.git#no-such-branch")
    repo = tmp_path / "shouter"
    repo.mkdir()
    (repo / "shout.txt").write_text("nobody hears this\n")
    (repo / ".buildpacks").write_text(f"# the token is committed only in this test repo\n{url}\n")
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "shout app, wrong branch")
    app = unique_app_name("shouter")
    result = stack.push(repo, app)
    assert result.returncode != 0
    assert f"could not clone buildpack http://***@127.0.0.1:{stack.control_port}" \
        f"/git/{buildpack_repo}.git" in result.stderr
    assert "no-such-branch" in result.stderr  # git's own reason
    assert stack.token not in result.stderr
    assert stack.server_ref(app) is None
