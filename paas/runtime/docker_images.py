"""Images: BuildKit builds through the docker CLI, and the image operations paas needs.

Part of the one Docker wrapper (``paas.runtime.docker_engine.DockerEngine``).
"""

import contextlib
import io
import logging
import os
import selectors
import shutil
import signal
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import docker.errors

from paas.errors import UserError
from paas.runtime.build_limits import BuildCgroup, limit_hit, limit_hit_in_output
from paas.runtime.docker_client import reported
from paas.runtime.docker_registry import DockerRegistry
from paas.runtime.lines import split_lines

logger = logging.getLogger(__name__)

SETPRIV = shutil.which("setpriv")  # util-linux, on every Debian system


class BuildFailed(UserError):
    code = "build_failed"


class BuildTimedOut(UserError):
    code = "build_timeout"


class _DeadlinePassed(Exception):
    pass


def _output_until(process: subprocess.Popen[bytes], deadline: float) -> Iterator[bytes]:
    """Chunks of ``process``'s stdout until it closes; raises _DeadlinePassed at ``deadline``
    (checked at least every second, even while the process prints nothing)."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _DeadlinePassed
            if not selector.select(timeout=min(remaining, 1.0)):
                continue
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                return
            yield chunk


class DockerImages(DockerRegistry):
    """Building, tagging, pushing, inspecting and removing images; the BuildKit cache."""

    def build_image(
        self,
        context_dir: Path,
        tag: str,
        log: Callable[[str], None],
        timeout: float,
        dockerfile: Path | None = None,
        secrets: dict[str, Path] | None = None,
        build_args: dict[str, str] | None = None,
    ) -> str:
        """Build ``context_dir`` with BuildKit, tag it ``tag`` and return the image id.

        Each output line goes to ``log`` as it comes. ``secrets`` (id -> file) are offered to
        ``RUN --mount=type=secret`` steps and never stored in the image. With a registry, the
        image is pushed there too, its layers logged (the build is what changed them).
        Raises BuildFailed (with the tail of the output), BuildTimedOut or
        PlatformError(registry_push_failed).
        """
        argv = [self.cli, "build", "--progress=plain", "--tag", tag]
        if dockerfile is not None:
            argv += ["--file", str(dockerfile)]
        for secret_id, path in (secrets or {}).items():
            argv += ["--secret", f"id={secret_id},src={path}"]
        for key, value in (build_args or {}).items():
            argv += ["--build-arg", f"{key}={value}"]
        argv += ["--", str(context_dir)]
        env = {**os.environ, "DOCKER_BUILDKIT": "1"}
        if self.base_url:
            env["DOCKER_HOST"] = self.base_url
        tail: list[str] = []
        cgroup = BuildCgroup()
        before = cgroup.counters()
        returncode = self._stream_process(argv, env, log, timeout, tail)
        if returncode is None:
            raise BuildTimedOut(f"build timed out after {int(timeout)} seconds and was stopped")
        if returncode != 0:
            reason = next((line for line in reversed(tail) if line.strip()), "docker build failed")
            # The ceilings are shared by every build on this dockerd, so one hit meanwhile is
            # most likely, not surely, this build's: said as the likely cause, beside the output.
            why = limit_hit(before, cgroup.counters(), self.build_memory, self.build_pids) \
                or limit_hit_in_output(tail, self.build_memory, self.build_pids)
            if why:
                log(f" !     {why}")
                reason = f"{why}; {reason}"
            raise BuildFailed(f"image build failed: {reason}")
        image_id = reported(self.client.images.get(tag).id, f"id for image {tag}")
        self.push_image(tag, log)
        return image_id

    @staticmethod
    def _stream_process(
        argv: Sequence[str],
        env: dict[str, str],
        log: Callable[[str], None],
        timeout: float,
        tail: list[str],
    ) -> int | None:
        """Run ``argv``, sending each output line to ``log``; None if it ran past ``timeout``."""
        deadline = time.monotonic() + timeout
        if SETPRIV:
            # If the worker dies mid-build, take the build client down with it: BuildKit then
            # cancels the build instead of finishing it for nobody.
            argv = [SETPRIV, "--pdeathsig", "KILL", "--", *argv]
        process = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        assert process.stdout is not None
        try:
            for raw in split_lines(_output_until(process, deadline)):
                line = raw.decode("utf-8", "replace").rstrip("\r")
                tail.append(line)
                del tail[:-20]
                log(line)
        except _DeadlinePassed:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return None
        finally:
            process.stdout.close()
        return process.wait()

    def image_id(self, ref: str) -> str | None:
        """The id of image ``ref``, or None if it does not exist."""
        try:
            return self.client.images.get(ref).id
        except docker.errors.ImageNotFound:
            return None

    def tag_image(self, image_id: str, repository: str, tag: str) -> None:
        """Tag ``image_id`` ``repository:tag``, in the registry too if there is one (its layers
        are there since the build: only the tag is new). Raises
        PlatformError(registry_push_failed)."""
        self.client.images.get(image_id).tag(repository, tag)
        self.push_image(f"{repository}:{tag}")

    def remove_image(self, ref: str) -> bool:
        """Remove tag or image ``ref`` (and its registry-named tag on this host, which would
        keep the image otherwise); False if it is gone already or still in use."""
        if self.registry and not ref.startswith("sha256:"):
            with contextlib.suppress(docker.errors.ImageNotFound, docker.errors.APIError):
                self.client.images.remove(self.pull_reference(ref), noprune=True)
        try:
            self.client.images.remove(ref, noprune=False)
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.APIError as error:
            logger.info("image %s not removed: %s", ref, error)
            return False
        return True

    def read_image_file(self, ref: str, path: str) -> bytes | None:
        """The content of file ``path`` in image ``ref``, or None if it has no such file.

        Uses a created, never started, container that is always removed.
        Raises UserError(image_missing) if the image does not exist.
        """
        try:
            # Never started; confined all the same, and on no network.
            container = self.client.containers.create(
                ref, command=["true"], entrypoint=[], network_disabled=True,
                cap_drop=["ALL"], security_opt=["no-new-privileges:true"])
        except docker.errors.ImageNotFound as error:
            raise UserError(f"image {ref} is missing", code="image_missing") from error
        try:
            try:
                stream, _ = container.get_archive(path)
            except docker.errors.NotFound:
                return None
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
                for member in archive:
                    if member.isfile():
                        handle = archive.extractfile(member)
                        return handle.read() if handle else None
            return None
        finally:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)

    def prune_build_cache(self, marker: str) -> int:
        """Remove BuildKit cache records whose description contains ``marker``; return how many.

        A step's description holds its command line, so a marker written into the commands of
        one app's build steps selects that app's records (its cache mount and its layers' cache)
        on a dockerd shared with other apps. Records that are in use are left alone.
        """
        removed = 0
        # A record may be the parent of another; a few passes take children before parents.
        for _ in range(5):
            records = self.client.api.df().get("BuildCache") or []
            ids = [r["ID"] for r in records
                   if marker in (r.get("Description") or "") and not r.get("InUse")]
            before = removed
            for record_id in ids:
                try:
                    # The stubs list only the dangling/until filters; dockerd takes id too.
                    result = self.client.api.prune_builds(
                        filters={"id": record_id}, all=True)  # type: ignore[arg-type]
                except docker.errors.APIError as error:
                    logger.info("build cache record %s not pruned: %s", record_id, error)
                    continue
                removed += len((result or {}).get("CachesDeleted") or [])
            if not ids or removed == before:
                break
        return removed
