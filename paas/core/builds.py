"""Builds: queueing a pushed commit, and turning it into a deployed release.

``start_build`` records the Build and hands its id to a Celery worker; the worker calls
``run_build``, which exports the tree, builds the image, creates the release and deploys it.
Every step's output goes to the build log that the pusher sees live: ``build_pushed_commit``
queues the build of a push and relays that log until the build ends.
"""

import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from paas.build.builders import detect_builder, process_types_for
from paas.build.job import BuildJob
from paas.build.source import checkout
from paas.core import heartbeat
from paas.core.applications import app_url, repo_path
from paas.core.buildcache import cache_id
from paas.core.buildguard import (
    CANCELLED_MESSAGE,
    BuildCancelled,
    BuildWatch,
    fail_if_worker_lost,
    watch,
)
from paas.core.buildlog import (
    BuildLogWriter,
    follow_limit_seconds,
    follow_stream,
    log_path,
    stream_key,
)
from paas.core.formation import MAX_INSTANCES
from paas.core.models import App, Build, Release
from paas.core.platform import platform
from paas.core.releases import create_release, deploying, image_repository
from paas.errors import PaasError, PlatformError, UserError
from paas.names import PROCESS_TYPE_RE
from paas.runtime.health import checks_from_app_json
from paas.runtime.scheduler import Log

logger = logging.getLogger(__name__)

RUN_BUILD_TASK = "worker.tasks.run_build"
# Far more than any real app.json needs; it is stored with every release.
APP_JSON_MAX_BYTES = 64 * 1024


def start_build(app: App, commit_sha: str, user, branch: str) -> Build:
    """Queue a build of ``commit_sha``: the row first, then the task, then its id.

    Raises PlatformError(broker_down) if the broker refuses the task; the build is then
    recorded as failed, so nothing waits for it.
    """
    build = Build.objects.create(app=app, commit_sha=commit_sha, branch=branch, created_by=user)
    try:
        task_id = platform().tasks.send(RUN_BUILD_TASK, [build.pk])
    except Exception as error:  # the broker (Redis) refused: nothing will run it
        logger.exception("could not queue build %s", build.pk)
        message = "paas could not queue this build (broker_down); push again"
        Build.objects.filter(pk=build.pk).update(
            status=Build.Status.FAILED, finished_at=timezone.now(), error_code="broker_down",
            error_message=message)
        raise PlatformError(message, code="broker_down") from error
    Build.objects.filter(pk=build.pk).update(task_id=task_id)
    return build


@dataclass(frozen=True)
class BuildOutcome:
    """How a build ended, as its log's ``end`` entry says."""

    build_id: int
    status: str
    message: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == Build.Status.SUCCEEDED


def build_pushed_commit(app: App, commit_sha: str, user, branch: str, say: Log
                        ) -> BuildOutcome:
    """Build and deploy a pushed commit: queue it, relay its log to ``say`` line by line, and
    return how it ended once its release serves (or the build failed).

    The caller holds the app's ``push`` lock (see ``paas.core.locks``). A build whose worker
    died is failed (``worker_lost``) after a few quiet seconds; one that outlives
    ``follow_limit_seconds`` is reported failed to the pusher.
    """
    build = start_build(app, commit_sha, user, branch)
    say(f"-----> Build {build.pk} queued for {app.name}")
    deadline = time.monotonic() + follow_limit_seconds()
    quiet_seconds = 0
    for event in follow_stream(platform().redis, stream_key(build.pk)):
        if event is None:
            if time.monotonic() > deadline:
                return BuildOutcome(build.pk, Build.Status.FAILED,
                                    "timed out waiting for the build to finish")
            quiet_seconds += 1
            if quiet_seconds % heartbeat.LOST_WORKER_CHECK_SECONDS == 0:
                # Ends the log (and so this loop) if the build's worker died.
                fail_if_worker_lost(build.pk)
            continue
        quiet_seconds = 0
        if event.kind == "end":
            return BuildOutcome(build.pk, event.status, event.text)
        say(event.text)
    return BuildOutcome(build.pk, Build.Status.FAILED, "the build log ended unexpectedly")


def _read_app_json(source_dir: Path) -> dict:
    """The pushed tree's app.json, checked: an object of at most APP_JSON_MAX_BYTES, its
    ``healthchecks`` within the bounds of ``paas.runtime.health`` and its ``formation``
    quantities within what ``paas scale`` allows. Other keys are kept as they are.

    Raises UserError(invalid_app_json) otherwise.
    """
    path = source_dir / "app.json"
    if path.is_symlink():
        # It would be read by the worker, outside the tree it points out of.
        raise UserError("app.json must be a file, not a symbolic link", code="invalid_app_json")
    if not path.is_file():
        return {}
    if path.stat().st_size > APP_JSON_MAX_BYTES:
        raise UserError(f"app.json is larger than {APP_JSON_MAX_BYTES // 1024} KiB",
                        code="invalid_app_json")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as error:
        raise UserError(f"app.json is not valid JSON: {error}", code="invalid_app_json") from None
    if not isinstance(value, dict):
        raise UserError("app.json must hold a JSON object", code="invalid_app_json")
    checks_from_app_json(value)
    _check_app_json_formation(value.get("formation"))
    return value


def _check_app_json_formation(formation: object) -> None:
    if formation is None:
        return
    if not isinstance(formation, dict):
        raise UserError('app.json: formation must be an object like {"web": {"quantity": 1}}',
                        code="invalid_app_json")
    for process_type, entry in formation.items():
        if not isinstance(process_type, str) or not PROCESS_TYPE_RE.fullmatch(process_type):
            raise UserError(f"app.json: invalid process type {process_type!r} in formation",
                            code="invalid_app_json")
        if not isinstance(entry, dict):
            raise UserError(f"app.json: formation.{process_type} must be an object like "
                            '{"quantity": 1}', code="invalid_app_json")
        quantity = entry.get("quantity", 0)
        if isinstance(quantity, bool) or not isinstance(quantity, int) \
                or not 0 <= quantity <= MAX_INSTANCES:
            raise UserError(f"app.json: formation.{process_type}.quantity must be a whole "
                            f"number from 0 to {MAX_INSTANCES}", code="invalid_app_json")


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
    log = BuildLogWriter(platform().redis, build.pk,
                         log_path(settings.PAAS_HOME, app.name, build.pk))
    Build.objects.filter(pk=build.pk).update(status=Build.Status.RUNNING,
                                             started_at=timezone.now())
    try:
        try:
            release = _build_release(build, log, build_watch)
        except Exception as error:
            if build_watch.cancel_requested():
                # However the build stopped (its client killed, or at image_built), it was
                # asked to.
                _record_failure(build, BuildCancelled.code, CANCELLED_MESSAGE)
                _end(build, log, Build.Status.CANCELLED, CANCELLED_MESSAGE)
            else:
                _end(build, log, Build.Status.FAILED, _failure_message(build, error))
            return
        _deploy(build, release, log)
    finally:
        log.close()
        platform().images.remove_image(_build_tag(build))


def _deploy(build: Build, release: Release, log: BuildLogWriter) -> None:
    """Deploy the build's release; the build succeeds as soon as the release serves, and the
    old containers retire after that."""
    log(f"-----> Deploying {release.version}")
    served = False
    try:
        with deploying(release, log):
            served = True
            log(f"-----> Released {release.version}: {app_url(build.app.name)}")
            _end(build, log, Build.Status.SUCCEEDED)
    except Exception as error:
        if not served:
            _end(build, log, Build.Status.FAILED, _failure_message(build, error))
            return
        # The release serves and the push has returned: what failed afterwards (such as
        # pruning old images) does not make the build fail.
        logger.exception("build %s: a step after the release served failed", build.pk)
        log(f"       after the release: {error}")


def _end(build: Build, log: BuildLogWriter, status: str, message: str = "") -> None:
    """Record how ``build`` ended and end its log stream (the pusher stops waiting there)."""
    if message:
        log(f" !     {message}")
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


def _build_release(build: Build, log: BuildLogWriter, build_watch: BuildWatch) -> Release:
    """Build the image of ``build`` and record its (pending) release."""
    app = build.app
    log(f"-----> Building {app.name} from {build.short_sha} ({build.branch})")
    scratch = Path(tempfile.mkdtemp(prefix="paas-build-"))
    try:
        with checkout(repo_path(app.name), build.commit_sha) as source_dir:
            # Before building: a malformed app.json fails the push without a wasted build.
            app_json = _read_app_json(source_dir)
            builder = detect_builder(source_dir, app.config)
            log(f"-----> {builder.name} app detected")
            Build.objects.filter(pk=build.pk).update(builder=builder.name)
            job = BuildJob(
                app=app.name, source_dir=source_dir, tag=_build_tag(build),
                engine=platform().images, log=log, timeout=settings.PAAS_BUILD_TIMEOUT,
                ca_bundle=Path(settings.PAAS_BUILD_CA_BUNDLE),
                stack_image=settings.PAAS_STACK_IMAGE, cache_id=cache_id(app),
                config=dict(app.config), scratch_dir=scratch,
                buildpacks_dir=settings.PAAS_BUILDPACKS_DIR,
            )
            result = builder.build(job)
            process_types = process_types_for(source_dir, result)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    build_watch.image_built()
    Build.objects.filter(pk=build.pk).update(image_id=result.image_id)
    types = ", ".join(sorted(process_types))
    log(f"-----> Image built; process types: {types}")
    return create_release(app, result.image_id, app.config, process_types,
                          f"Deploy {build.short_sha}", user=build.created_by, build=build,
                          app_json=app_json)
