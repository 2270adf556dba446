"""The images of backing services, built offline from the stack image with Debian's packages.

PostgreSQL reuses the control plane's own recipe (``deploy/postgres.Dockerfile``) with the
service's start script; Redis has its own small one (``deploy/redis-service.Dockerfile``).
Each image is tagged with a hash of its recipe: built on first use, and built again (for new
services and recreated containers) only when the recipe changes. Every ``RUN`` step gets the
build CA bundle (``PAAS_BUILD_CA_BUNDLE``) as a BuildKit secret, as app builds do, so apt
works behind a TLS-inspecting proxy and the bundle lands in no layer.
"""

import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from paas.build.build_ca import SECRET_ID, add_build_ca, hide_build_ca
from paas.runtime.docker_images import BuildFailed, DockerImages


@dataclass(frozen=True)
class Recipe:
    dockerfile: str
    files: tuple[str, ...]  # what the Dockerfile copies from the context
    build_args: tuple[tuple[str, str], ...] = ()


RECIPES = {
    "postgres": Recipe("postgres.Dockerfile", ("postgres-service-start.sh",),
                       (("START_SCRIPT", "postgres-service-start.sh"),)),
    "redis": Recipe("redis-service.Dockerfile", ("redis-service-start.sh",)),
}


def service_image_tag(kind: str, recipes_dir: Path, stack_image: str) -> str:
    """``paas/service-<kind>:<hash of the recipe and the stack>``."""
    recipe = RECIPES[kind]
    digest = hashlib.sha256(stack_image.encode())
    for name in (recipe.dockerfile, *recipe.files):
        digest.update((recipes_dir / name).read_bytes())
    digest.update(repr(recipe.build_args).encode())
    return f"paas/service-{kind}:{digest.hexdigest()[:12]}"


def ensure_service_image(engine: DockerImages, kind: str, recipes_dir: Path, ca_bundle: Path,
                         stack_image: str, log: Callable[[str], None],
                         timeout: float) -> str:
    """The image tag of ``kind``'s services, built first if it is missing.

    Raises BuildFailed or BuildTimedOut (from ``build_image``).
    """
    tag = service_image_tag(kind, recipes_dir, stack_image)
    if engine.image_id(tag) is not None:
        return tag
    recipe = RECIPES[kind]
    log(f"-----> Building the {kind} image {tag} from {stack_image}")
    with tempfile.TemporaryDirectory(prefix="paas-service-image-") as scratch:
        dockerfile = Path(scratch) / "Dockerfile"
        dockerfile.write_text(add_build_ca((recipes_dir / recipe.dockerfile).read_text()))
        try:
            engine.build_image(recipes_dir, tag, lambda line: log(hide_build_ca(line)),
                               timeout, dockerfile=dockerfile,
                               secrets={SECRET_ID: ca_bundle},
                               build_args={"STACK_IMAGE": stack_image,
                                           **dict(recipe.build_args)})
        except BuildFailed as error:
            raise BuildFailed(hide_build_ca(str(error))) from None
    return tag
