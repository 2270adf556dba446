"""Builds: queueing a pushed commit, and turning it into a deployed release.

``start_build`` records the Build and hands its id to a Celery worker; the worker calls
``run_build``, which exports the tree, builds the image, creates the release and deploys it.
Every step's output goes to the build log that the pusher sees live.
"""

import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from paas.build.builders import BuildJob, detect_builder, process_types_for
from paas.build.source import checkout
from paas.core.buildguard import CANCELLED_MESSAGE, BuildCancelled, BuildWatch, watch
from paas.core.buildlog import BuildLogWriter, log_path
from paas.core.models import App, Build, Release
from paas.core.platform import get_engine, repo_path
from paas.core.redis_client import get_redis
from paas.core.releases import create_release, deploy_release, image_repository
from paas.errors import PaasError, UserError

logger = logging.getLogger(__name__)

RUN_BUILD_TASK = "worker.tasks.run_build"


def start_build(app: App, commit_sha: str, user, branch: str) -> Build:
    """Queue a build of ``commit_sha``: the row first, then the task, then its id."""
    from paas.celery import app as celery_app

    build = Build.objects.create(app=app, commit_sha=commit_sha, branch=branch, created_by=user)
    result = celery_app.send_task(RUN_BUILD_TASK, args=[build.pk])
    Build.objects.filter(pk=build.pk).update(task_id=result.id)
    return build


def cache_id(app: App) -> str:
    """The name of the app's build cache. It includes the installation (PAAS_HOME), because
    BuildKit's cache is dockerd-wide and two installations may both have an app "shop" #1."""
    installation = hashlib.sha256(str(settings.PAAS_HOME).encode()).hexdigest()[:8]
    return f"paas-{installation}-{app.name}-{app.pk}"


def _read_app_json(source_dir: Path) -> dict:
    path = source_dir / "app.json"
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise UserError(f"app.json is not valid JSON: {error}", code="invalid_app_json") from None
    if not isinstance(value, dict):
        raise UserError("app.json must hold a JSON object", code="invalid_app_json")
    return value


def run_build(build_id: int) -> None:
    """Build, release and deploy build ``build_id``; record how it ended.

    The build ends (status and the log stream's ``end``, which the waiting push relays) as
    soon as its release serves; the old containers drain afterwards, logged to the file only.
    Never raises for a failing build: the outcome is the Build's status and the end of its log.
    """
    build = Build.objects.select_related("app", "created_by").get(pk=build_id)
    if build.status != Build.Status.QUEUED:
        logger.info("build %s is %s already; not running it again", build.pk, build.status)
        return
    with watch(build.pk) as build_watch:
        _run(build, build_watch)


def _run(build: Build, build_watch: BuildWatch) -> None:
    app = build.app
    log = BuildLogWriter(get_redis(), build.pk, log_path(settings.PAAS_HOME, app.name, build.pk))
    Build.objects.filter(pk=build.pk).update(status=Build.Status.RUNNING,
                                             started_at=timezone.now())

    def serving(release: Release) -> None:
        url = f"http://{app.name}.{settings.PAAS_DOMAIN}:{settings.PAAS_ROUTER_PORT}/"
        log(f"-----> Released {release.version}: {url}")
        _end(build, log, Build.Status.SUCCEEDED)

    status, message = Build.Status.FAILED, ""
    try:
        _build_and_release(build, log, build_watch, on_serving=serving)
        status = Build.Status.SUCCEEDED
    except Exception as error:
        if not log.ended and build_watch.cancel_requested():
            # However the build stopped (its client killed, or at image_built), it was asked to.
            status, message = Build.Status.CANCELLED, CANCELLED_MESSAGE
            _record_failure(build, BuildCancelled.code, message)
            log(f" !     {message}")
        elif log.ended:
            # The release serves and the push has returned: what failed afterwards (such as
            # pruning old images) does not make the build fail.
            logger.exception("build %s: a step after the release served failed", build.pk)
            log(f"       after the release: {error}")
        else:
            message = _failure_message(build, error)
            log(f" !     {message}")
    finally:
        _end(build, log, status, message)
        log.close()
        get_engine().remove_image(_build_tag(build))


def _end(build: Build, log: BuildLogWriter, status: str, message: str = "") -> None:
    """Record how ``build`` ended and end its log stream; once (later calls do nothing)."""
    if log.ended:
        return
    Build.objects.filter(pk=build.pk, status=Build.Status.RUNNING).update(
        status=status, finished_at=timezone.now())
    log.end(status, message)


def _failure_message(build: Build, error: Exception) -> str:
    """Record why ``build`` failed and return what the pusher is told."""
    if isinstance(error, UserError):
        message = str(error)
        _record_failure(build, error.code, message)
        return message
    code = error.code if isinstance(error, PaasError) else "platform_error"
    logger.error("build %s failed on a platform error", build.pk, exc_info=error)
    message = f"paas could not finish this build ({code}); the operator can find details " \
              "in the worker log"
    _record_failure(build, code, message)
    return message


def _build_tag(build: Build) -> str:
    return f"{image_repository(build.app.name)}:build-{build.pk}"


def _record_failure(build: Build, code: str, message: str) -> None:
    Build.objects.filter(pk=build.pk).update(error_code=code, error_message=message)


def _build_and_release(build: Build, log: BuildLogWriter, build_watch: BuildWatch,
                        on_serving: Callable[[Release], None]) -> Release:
    app = build.app
    log(f"-----> Building {app.name} from {build.short_sha} ({build.branch})")
    scratch = Path(tempfile.mkdtemp(prefix="paas-build-"))
    try:
        with checkout(repo_path(app.name), build.commit_sha) as source_dir:
            builder = detect_builder(source_dir, app.config)
            log(f"-----> {builder.name} app detected")
            Build.objects.filter(pk=build.pk).update(builder=builder.name)
            job = BuildJob(
                app=app.name, source_dir=source_dir, tag=_build_tag(build),
                engine=get_engine(), log=log, timeout=settings.PAAS_BUILD_TIMEOUT,
                ca_bundle=Path(settings.PAAS_BUILD_CA_BUNDLE),
                stack_image=settings.PAAS_STACK_IMAGE, cache_id=cache_id(app),
                config=dict(app.config), scratch_dir=scratch,
                buildpacks_dir=settings.PAAS_BUILDPACKS_DIR,
            )
            result = builder.build(job)
            process_types = process_types_for(source_dir, result)
            app_json = _read_app_json(source_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    build_watch.image_built()
    Build.objects.filter(pk=build.pk).update(image_id=result.image_id)
    types = ", ".join(sorted(process_types))
    log(f"-----> Image built; process types: {types}")
    release = create_release(app, result.image_id, app.config, process_types,
                             f"Deploy {build.short_sha}", user=build.created_by, build=build,
                             app_json=app_json)
    log(f"-----> Deploying {release.version}")
    deploy_release(release, log, on_serving=on_serving)
    return release
