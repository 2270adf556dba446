"""Tenant separation in builds, for real: a tenant's Dockerfile cannot build on another app's
image or name its build cache, and an app created again under a destroyed app's name finds none
of the old app's data."""

import subprocess
import sys

import pytest

from tests.e2e.stack import PROJECT_DIR, commit_all, git, unique_app_name


@pytest.fixture(scope="module")
def victim(stack, tmp_path_factory):
    """The owner's app, deployed: v1 exists as paas/<victim>:v1 on the shared dockerd."""
    app = unique_app_name("victim")
    repo = stack.checkout("dockerfile-hello", tmp_path_factory.mktemp("victim"))
    result = stack.push(repo, app)
    assert result.returncode == 0, result.stderr + stack.logs()
    return app


@pytest.fixture(scope="module")
def outsider(stack):
    """Another tenant, pushing with their own token."""
    name = unique_app_name("outsider")
    return name, stack.create_user(name).token


def attacker_repo(tmp_path, dockerfile: str):
    repo = tmp_path / "attacker"
    repo.mkdir()
    (repo / "Dockerfile").write_text(dockerfile)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "try to read another tenant's build")
    return repo


def images_of(app: str) -> list[str]:
    return subprocess.run(["docker", "image", "ls", "-q", f"paas/{app}"], capture_output=True,
                          text=True, check=True).stdout.split()


def cache_id_of(stack, app: str) -> str:
    """The victim's real build cache id, as only the platform can compute it."""
    code = ("import os\nfrom paas.core.buildcache import cache_id\n"
            "from paas.core.models import App\n"
            "print(cache_id(App.objects.get(name=os.environ['APP_NAME'])))\n")
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=PROJECT_DIR,
                            capture_output=True, text=True, timeout=120,
                            env={**stack.env, "APP_NAME": app})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def refused_push(stack, tmp_path, outsider, dockerfile: str, expected: str) -> str:
    """Push ``dockerfile`` as the outsider's new app; assert it was refused and left nothing."""
    username, token = outsider
    app = unique_app_name("attacker")
    repo = attacker_repo(tmp_path, dockerfile)
    result = stack.push(repo, app, token=token, username=username)
    assert result.returncode != 0, result.stderr
    assert expected in result.stderr, result.stderr
    assert stack.server_ref(app) is None  # the ref never moved
    assert images_of(app) == []
    releases = stack.api("GET", f"/apps/{app}/releases", token=token)
    assert releases.status == 200 and releases.json() == [], releases.body
    return app


def test_it_refuses_a_dockerfile_built_on_another_tenants_image(stack, tmp_path, victim,
                                                                outsider):
    refused_push(stack, tmp_path, outsider,
                 f"FROM paas/{victim}:v1\nCMD [\"cat\", \"/app/server.py\"]\n",
                 f"Dockerfile line 1: FROM paas/{victim}:v1: paas/{victim}:v1 is not this app's")
    assert stack.get(victim).body == "Hello from dockerfile-hello\n"


def test_it_refuses_a_dockerfile_copying_from_another_tenants_image(stack, tmp_path, victim,
                                                                   outsider):
    refused_push(stack, tmp_path, outsider,
                 f"FROM paas/stack:bookworm\nCOPY --from=paas/{victim}:v1 /app /loot\n",
                 "is not this app's image")


def test_it_refuses_a_dockerfile_naming_another_tenants_cache(stack, tmp_path, victim,
                                                             outsider):
    victims_cache = cache_id_of(stack, victim)
    assert victims_cache.startswith(f"paas-{victim}-")
    refused_push(stack, tmp_path, outsider,
                 f"FROM paas/stack:bookworm\nRUN --mount=type=cache,id={victims_cache},"
                 "target=/c,uid=1000 sh -c 'echo planted > /c/uv'\n",
                 "a Dockerfile may not name a cache id")


def test_a_reused_app_name_finds_none_of_the_destroyed_apps_data(stack, tmp_path_factory):
    app = unique_app_name("reused")
    repo = stack.checkout("dockerfile-hello", tmp_path_factory.mktemp("reused"))
    first = stack.push(repo, app)
    assert first.returncode == 0, first.stderr + stack.logs()
    added = stack.paas("storage:add", "data:/data", "-a", app)
    assert added.returncode == 0, added.stderr
    wrote = stack.paas("run", "-a", app, "--", "sh", "-c", "echo old-tenant > /data/secret")
    assert wrote.returncode == 0, wrote.stderr
    old_volumes = docker_volumes(app)
    assert len(old_volumes) == 1
    assert (stack.home / "logs" / "builds" / app).is_dir()

    destroyed = stack.paas("apps:destroy", "--confirm", app, "-a", app)
    assert destroyed.returncode == 0, destroyed.stderr
    assert docker_volumes(app) == []
    assert not (stack.home / "logs" / "builds" / app).exists()
    assert not (stack.home / "logs" / "apps" / app).exists()

    again = stack.push(repo, app)
    assert again.returncode == 0, again.stderr + stack.logs()
    assert stack.paas("storage:add", "data:/data", "-a", app).returncode == 0
    assert docker_volumes(app) != old_volumes
    looked = stack.paas("run", "-a", app, "--", "sh", "-c",
                        "ls -A /data; test ! -e /data/secret")
    assert looked.returncode == 0, looked.stdout + looked.stderr
    assert looked.stdout.strip() == ""
    builds = stack.api("GET", f"/apps/{app}/builds").json()
    assert len(builds) == 1  # the old app's builds went with it


def docker_volumes(app: str) -> list[str]:
    return subprocess.run(["docker", "volume", "ls", "-q", "--filter", f"name=paas-{app}_"],
                          capture_output=True, text=True, check=True).stdout.split()
