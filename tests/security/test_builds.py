"""Tenant separation in builds: what a Dockerfile may name, build cache ids, buildpack trees
copied without following links, and destroy leaving nothing for a later app of the same name."""

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from paas.build import source
from paas.build.build_ca import add_build_ca
from paas.build.builders import DockerfileBuilder, SelectedBuildpackBuilder
from paas.build.dockerfile_policy import check_dockerfile
from paas.build.job import BuildJob
from paas.core import applications, volumes
from paas.core.buildcache import SECRET_FILE, cache_id
from paas.core.buildlog import log_path
from paas.core.models import App, Volume
from paas.errors import PlatformError, UserError

OTHER = "paas/other:v1"
STACK = "FROM paas/stack:bookworm\n"
FROM_OTHER = f"FROM {OTHER}\n"


class RecordingEngine:
    """Answers the builders' engine calls and remembers every build it was asked for."""

    def __init__(self) -> None:
        self.built: list[Path] = []

    def build_image(self, context_dir, tag, log, timeout, dockerfile=None, secrets=None):
        self.built.append(Path(dockerfile or context_dir))
        return "sha256:built"

    def read_image_file(self, ref, path):
        return b"default_process_types:\n  web: ./serve\n"


def dockerfile_job(tmp_path: Path, text: str, app: str = "shop") -> BuildJob:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "Dockerfile").write_text(text)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return BuildJob(app=app, source_dir=tree, tag=f"paas/{app}:build-1",
                    engine=RecordingEngine(), log=lambda line: None, timeout=60,
                    ca_bundle=Path("/ca.crt"), stack_image="paas/stack:bookworm",
                    cache_id="c", scratch_dir=scratch)


HOSTILE_DOCKERFILES = {
    "from_another_app": (f"FROM {OTHER}\n", "dockerfile_foreign_image"),
    "from_another_app_in_lower_and_upper_case": ("from PAAS/Other:v1\n",
                                                 "dockerfile_foreign_image"),
    "from_another_app_through_docker_hub": ("FROM docker.io/paas/other:v1\n",
                                            "dockerfile_foreign_image"),
    "from_another_app_through_a_registry": ("FROM 127.0.0.1:5000/paas/other:v1\n",
                                            "dockerfile_foreign_image"),
    "from_another_app_by_digest": ("FROM paas/other@sha256:" + "a" * 64 + "\n",
                                   "dockerfile_foreign_image"),
    "from_another_app_over_a_continuation": ("FROM \\\n  # a comment\n\n  paas/other:v1\n",
                                             "dockerfile_foreign_image"),
    "from_another_app_with_a_backtick_escape": ("# escape=`\nFROM `\n paas/other:v1\n",
                                                "dockerfile_foreign_image"),
    "from_another_app_in_quotes": ('FROM "paas"/other:v1\n', "dockerfile_foreign_image"),
    "from_another_app_through_an_arg": (f"ARG BASE={OTHER}\nFROM $BASE\n",
                                        "dockerfile_foreign_image"),
    "from_another_app_through_an_arg_in_braces": ("ARG NS=paas\nFROM ${NS}/other:v1\n",
                                                  "dockerfile_foreign_image"),
    "from_another_app_through_an_arg_default": ("FROM ${MISSING:-paas/other}:v1\n",
                                                "dockerfile_foreign_image"),
    "from_another_app_through_an_alternative": ("ARG SET=1\nFROM pa${SET:+as/other}:v1\n",
                                                "dockerfile_foreign_image"),
    "from_an_app_named_stack": ("FROM paas/stack:v1\n", "dockerfile_foreign_image"),
    "from_an_app_named_stacks_build": ("FROM paas/stack:build-7\n",
                                       "dockerfile_foreign_image"),
    "from_an_arg_without_a_value": ("ARG BASE\nFROM $BASE\n", "dockerfile_unresolved_image"),
    "from_an_undeclared_arg": ("FROM $BASE\n", "dockerfile_unresolved_image"),
    "from_an_expansion_paas_does_not_read": ("ARG B=x\nFROM ${B/x/paas}/other:v1\n",
                                             "dockerfile_unresolved_image"),
    "from_an_image_id": ("FROM sha256:" + "b" * 64 + "\n", "dockerfile_image_id"),
    "from_a_short_image_id": ("FROM 0123456789ab\n", "dockerfile_image_id"),
    "copy_from_another_app": (f"FROM paas/stack:bookworm\nCOPY --from={OTHER} /app /x\n",
                              "dockerfile_foreign_image"),
    "copy_from_another_app_in_quotes": (
        f'FROM paas/stack:bookworm\ncopy --from="{OTHER}" /app /x\n', "dockerfile_foreign_image"),
    "copy_from_a_variable": ("FROM paas/stack:bookworm\nARG S\nCOPY --from=$S /app /x\n",
                             "dockerfile_variable_source"),
    "add_from_another_app": (f"FROM paas/stack:bookworm\nADD --from={OTHER} /app /x\n",
                             "dockerfile_foreign_image"),
    "bind_mount_from_another_app": (
        f"FROM paas/stack:bookworm\nRUN --mount=type=bind,from={OTHER},target=/x true\n",
        "dockerfile_foreign_image"),
    "bind_mount_from_another_app_by_default_type": (
        f"FROM paas/stack:bookworm\nRUN --mount=from={OTHER},target=/x true\n",
        "dockerfile_foreign_image"),
    "cache_mount_naming_another_apps_id": (
        "FROM paas/stack:bookworm\nRUN --mount=type=cache,id=paas-other-1,target=/c true\n",
        "dockerfile_cache_id"),
    "cache_mount_without_an_id": (
        "FROM paas/stack:bookworm\nRUN --mount=type=cache,target=/root/.cache/pip true\n",
        "dockerfile_cache_mount"),
    "cache_mount_in_upper_case_after_its_target": (
        "FROM paas/stack:bookworm\nRUN --mount=target=/c,TYPE=CACHE true\n",
        "dockerfile_cache_mount"),
    "cache_mount_in_a_later_flag": (
        "FROM paas/stack:bookworm\nRUN --network=none \\\n  --mount=type=cache,target=/c true\n",
        "dockerfile_cache_mount"),
    "mount_from_a_variable": (
        "FROM paas/stack:bookworm\nARG T=cache\nRUN --mount=type=$T,target=/c true\n",
        "dockerfile_variable_source"),
    "run_on_the_hosts_network": ("FROM paas/stack:bookworm\nRUN --network=host true\n",
                                 "dockerfile_run_flag"),
    "run_without_the_sandbox": ("FROM paas/stack:bookworm\nRUN --security=insecure true\n",
                                "dockerfile_run_flag"),
    "onbuild_copy_from_another_app": (
        f"FROM paas/stack:bookworm\nONBUILD COPY --from={OTHER} /app /x\n",
        "dockerfile_foreign_image"),
    "onbuild_cache_mount": (
        "FROM paas/stack:bookworm\nONBUILD RUN --mount=type=cache,id=x,target=/c true\n",
        "dockerfile_cache_id"),
    "syntax_directive": ("# syntax=docker/dockerfile:1\nFROM paas/stack:bookworm\n",
                         "dockerfile_syntax_directive"),
    "syntax_directive_spaced_and_cased": ("#  SyNtAx = evil/frontend\nFROM paas/stack:bookworm\n",
                                          "dockerfile_syntax_directive"),
    "heredoc_hiding_an_instruction": (
        "FROM paas/stack:bookworm\nRUN <<EOF\nFROM paas/other:v1\nEOF\n",
        "dockerfile_foreign_image"),
}


@pytest.mark.parametrize("text,code", HOSTILE_DOCKERFILES.values(), ids=HOSTILE_DOCKERFILES)
def test_it_refuses_a_dockerfile_that_names_what_is_not_the_apps_own(tmp_path, text, code):
    job = dockerfile_job(tmp_path, text)
    with pytest.raises(UserError) as error:
        DockerfileBuilder().build(job)
    assert error.value.code == code
    assert str(error.value).startswith("Dockerfile line ")
    assert job.engine.built == []  # refused before anything was built
    assert not (job.scratch_dir / "Dockerfile.paas").exists()


ALLOWED_DOCKERFILES = {
    "the_stack": "FROM paas/stack:bookworm\nCMD [\"true\"]\n",
    "the_stack_without_a_tag": "FROM paas/stack\n",
    "the_apps_own_image": "FROM paas/shop:v3\n",
    "the_apps_own_image_through_a_registry": "FROM 127.0.0.1:5000/paas/shop:v3\n",
    "a_public_image": "FROM python:3.12-slim\n",
    "a_public_image_by_digest": "FROM debian@sha256:" + "c" * 64 + "\n",
    "an_image_from_an_arg_with_a_default": "ARG PY=3.12\nFROM python:${PY}-slim\n",
    "an_image_from_an_arg_alternative": "FROM python:${PY:-3.12}\n",
    "named_stages": ("FROM python:3.12 AS build\nRUN pip wheel -w /w .\n"
                     "FROM paas/stack:bookworm AS final\nCOPY --from=build /w /w\n"
                     "COPY --from=0 /etc/os-release /x\nFROM final\n"),
    "a_stage_named_in_another_case": "FROM python:3.12 AS Build\nCOPY --from=build /a /b\n",
    "secret_bind_and_tmpfs_mounts": (
        "FROM paas/stack:bookworm\n"
        "RUN --mount=type=secret,id=token --mount=type=bind,source=req.txt,target=/r "
        "--mount=type=tmpfs,target=/t --network=none true\n"),
    "a_commented_syntax_word_in_a_run": "FROM paas/stack:bookworm\nRUN echo syntax=ok\n",
    "an_app_named_stack_using_its_own_releases": "FROM paas/stack:v1\n",
}


@pytest.mark.parametrize("text", ALLOWED_DOCKERFILES.values(), ids=ALLOWED_DOCKERFILES)
def test_it_builds_a_dockerfile_that_names_only_public_stack_or_own_images(tmp_path, text):
    app = "stack" if "paas/stack:v1" in text else "shop"
    job = dockerfile_job(tmp_path, text, app=app)
    result = DockerfileBuilder().build(job)
    assert result.image_id == "sha256:built"
    assert job.engine.built == [job.scratch_dir / "Dockerfile.paas"]


def test_the_ca_rewrite_of_an_allowed_dockerfile_is_allowed_too():
    text = ALLOWED_DOCKERFILES["secret_bind_and_tmpfs_mounts"]
    check_dockerfile(add_build_ca(text), "shop")  # raises if paas's own plumbing were refused


# --- build cache ids --------------------------------------------------------------------------


@pytest.mark.django_db
def test_cache_ids_are_distinct_across_apps_and_a_reused_name(users, settings, tmp_path):
    settings.PAAS_HOME = tmp_path / "home"
    shop = applications.create_app("shop", users.owner)
    blog = applications.create_app("blog", users.owner)
    first_shop = cache_id(shop)
    assert cache_id(shop) == first_shop  # stable for one app
    assert first_shop != cache_id(blog)
    shop.delete()
    again = applications.create_app("shop", users.owner)
    assert cache_id(again) != first_shop


@pytest.mark.django_db
def test_cache_ids_are_unguessable_without_the_installations_secret(users, settings, tmp_path):
    settings.PAAS_HOME = tmp_path / "one"
    shop = applications.create_app("shop", users.owner)
    first = cache_id(shop)
    secret = settings.PAAS_HOME / SECRET_FILE
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert len(first.removeprefix("paas-shop-")) == 40
    assert not first.endswith(f"-{shop.pk}")  # the pk is hashed in, never spelt out
    settings.PAAS_HOME = tmp_path / "two"  # a reinstall on the same dockerd
    assert cache_id(shop) != first
    settings.PAAS_HOME = tmp_path / "one"
    assert cache_id(shop) == first  # the secret is kept, not made anew


@pytest.mark.django_db
def test_it_refuses_to_key_caches_on_a_truncated_secret(users, settings, tmp_path):
    settings.PAAS_HOME = tmp_path
    (tmp_path / SECRET_FILE).write_text("short\n")
    shop = applications.create_app("shop", users.owner)
    with pytest.raises(PlatformError) as error:
        cache_id(shop)
    assert error.value.code == "build_cache_secret"
    assert (tmp_path / SECRET_FILE).read_text() == "short\n"


# --- buildpack trees ---------------------------------------------------------------------------


def hostile_buildpack(root: Path, linked_script: str, host_file: Path) -> Path:
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True)
    for script in ("detect", "compile", "release"):
        if script == linked_script:
            (bin_dir / script).symlink_to(host_file)
        else:
            (bin_dir / script).write_text("#!/bin/sh\nexit 0\n")
    return root


@pytest.mark.parametrize("linked_script", ["compile", "detect"])
def test_it_refuses_a_buildpack_whose_bin_links_to_a_host_file(tmp_path, linked_script):
    host_file = tmp_path / "host-secret"
    host_file.write_text("root only\n")
    host_file.chmod(0o600)
    operator_dir = tmp_path / "buildpacks"
    hostile_buildpack(operator_dir / "evil", linked_script, host_file)
    job = dockerfile_job(tmp_path, "unused")
    (job.source_dir / "Dockerfile").unlink()
    (job.source_dir / ".buildpacks").write_text(f"{operator_dir / 'evil'}\n")
    job = BuildJob(**{**job.__dict__, "buildpacks_dir": operator_dir})
    with pytest.raises(UserError) as error:
        SelectedBuildpackBuilder().build(job)
    assert error.value.code == "invalid_buildpack"
    assert "symbolic link" in str(error.value)
    assert stat.S_IMODE(host_file.stat().st_mode) == 0o600  # never chmod'ed through the link
    assert host_file.read_text() == "root only\n"
    assert job.engine.built == []


def test_it_refuses_a_buildpack_whose_metadata_links_to_a_host_file(tmp_path):
    from paas.build.buildpacks import Buildpack
    host_file = tmp_path / "host-secret"
    host_file.write_text("{}")
    pack = hostile_buildpack(tmp_path / "evil", "", host_file)
    (pack / "buildpack.json").symlink_to(host_file)
    with pytest.raises(UserError) as error:
        Buildpack.load(pack)
    assert error.value.code == "invalid_buildpack"


def _tree_with_symlink(target: str) -> tarfile.TarFile:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        link = tarfile.TarInfo("Dockerfile")
        link.type = tarfile.SYMTYPE
        link.linkname = target
        archive.addfile(link)
    buffer.seek(0)
    return tarfile.open(fileobj=buffer, mode="r:")


@pytest.mark.parametrize("with_tarfiles_filter", [True, False])
@pytest.mark.parametrize("target", ["/etc/passwd", "../../etc/passwd"])
def test_it_refuses_a_pushed_tree_whose_link_leaves_it(tmp_path, monkeypatch, target,
                                                       with_tarfiles_filter):
    if not with_tarfiles_filter:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    with pytest.raises(UserError) as error:
        source._extract_safely(_tree_with_symlink(target), tmp_path / "tree")
    assert error.value.code == "unsafe_path"
    assert not (tmp_path / "tree" / "Dockerfile").is_symlink()


def test_it_keeps_a_pushed_link_that_stays_in_the_tree(tmp_path, monkeypatch):
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    source._extract_safely(_tree_with_symlink("docker/Dockerfile"), tmp_path)
    assert os.readlink(tmp_path / "Dockerfile") == "docker/Dockerfile"


# --- destroy leaves nothing behind -------------------------------------------------------------


@pytest.mark.django_db
def test_a_reused_app_name_inherits_nothing_from_the_destroyed_app(users, platform, settings,
                                                                   tmp_path):
    settings.PAAS_HOME = tmp_path / "home"
    old = applications.create_app("shop", users.owner)
    old_volume = volumes.add_volume(old, "data", "/data")
    assert platform.scheduler.volumes == {old_volume.docker_name: "shop"}
    saved = platform.scheduler.saved_logs_dir("shop") / "v1" / "web.1.log"
    saved.parent.mkdir(parents=True)
    saved.write_text("old tenant's request log\n")
    build_log = log_path(settings.PAAS_HOME, "shop", 41)
    build_log.parent.mkdir(parents=True)
    build_log.write_text("old tenant's build\n")

    applications.destroy_app(old, users.owner)

    assert platform.scheduler.volumes == {}
    assert not saved.parent.parent.exists()
    assert not build_log.parent.exists()
    assert not Volume.objects.exists()
    new = applications.create_app("shop", users.outsider)
    new_volume = volumes.add_volume(new, "data", "/data")
    assert new_volume.docker_name != old_volume.docker_name
    assert list(platform.scheduler.volumes) == [new_volume.docker_name]
    assert not platform.scheduler.saved_logs_dir("shop").exists()
    assert App.objects.get(name="shop").owner == users.outsider


@pytest.mark.django_db
def test_volume_names_differ_for_an_app_created_again_under_the_same_name(users):
    first = applications.create_app("shop", users.owner)
    first_name = Volume.objects.create(app=first, name="data", mount_path="/data").docker_name
    first.delete()
    second = applications.create_app("shop", users.owner)
    second_name = Volume.objects.create(app=second, name="data", mount_path="/data").docker_name
    assert first_name == f"paas-shop_{first.uid}_data" and len(first.uid) == 12
    assert second_name == f"paas-shop_{second.uid}_data"
    assert first_name != second_name


@pytest.mark.django_db
def test_a_volume_removed_with_its_data_kept_comes_back_to_the_same_app(users, platform):
    shop = applications.create_app("shop", users.owner)
    name = volumes.add_volume(shop, "data", "/data").docker_name
    volumes.remove_volume(shop, "data")
    assert volumes.add_volume(shop, "data", "/data").docker_name == name
    assert list(platform.scheduler.volumes) == [name]


@pytest.mark.django_db
def test_an_app_from_before_uids_keeps_its_volumes_names(users):
    old = applications.create_app("shop", users.owner)
    App.objects.filter(pk=old.pk).update(uid="")  # as migration 0005 leaves existing apps
    old.refresh_from_db()
    volume = Volume.objects.create(app=old, name="data", mount_path="/data")
    assert volume.docker_name == "paas-shop-data"


SMUGGLED_DOCKERFILES = {
    # Python's strip() calls "\x1c" blank, Go's does not: BuildKit ends the RUN on that line.
    "a_line_python_calls_blank": f"{STACK}RUN echo \\\n\x1c\n{FROM_OTHER}",
    # BuildKit continues a line only on the escape plus spaces and tabs, not a form feed.
    "an_escape_before_a_form_feed": f"{STACK}RUN echo \\\x0c\n{FROM_OTHER}",
    "a_comment_ending_in_an_escape": f"{STACK}# note \\\n{FROM_OTHER}",
    "crlf_line_ends": f"{STACK}RUN true \\\r\n  && true\r\n{FROM_OTHER}",
    "a_byte_order_mark": f"\ufeff{FROM_OTHER}",
    "a_platform_flag": "FROM --platform=linux/amd64 paas/other:v1\n",
    "an_empty_from_flag": f"{STACK}COPY --from= /a /b\n",
    "a_stage_named_like_another_apps_image": f"FROM {STACK[5:-1]} AS {OTHER}\n"
                                             f"COPY --from={OTHER} /app /x\n",
}


@pytest.mark.parametrize("text", SMUGGLED_DOCKERFILES.values(), ids=SMUGGLED_DOCKERFILES)
def test_it_refuses_an_instruction_smuggled_past_a_lax_parser(tmp_path, text):
    job = dockerfile_job(tmp_path, text)
    with pytest.raises(UserError) as error:
        DockerfileBuilder().build(job)
    assert error.value.code in ("dockerfile_foreign_image", "dockerfile_invalid")
    assert job.engine.built == []
