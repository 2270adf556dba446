# The paas control plane as an image, for docker-compose.yml. Built on the paas stack image
# (no registry needed; STACK_IMAGE picks which) by `make controlplane-image` or
# `docker compose build`, with BuildKit so that pip reaches PyPI through the build CA bundle
# (the secret paas_build_ca) without it landing in the image.
ARG STACK_IMAGE=paas/stack:bookworm
FROM ${STACK_IMAGE}

# docker.io for its CLI (builds run `docker build` against the host's dockerd), nginx with
# Lua for the router, Redis for the broker.
RUN apt-get update \
 && apt-get install -y --no-install-recommends docker.io nginx libnginx-mod-http-lua redis-server \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/paas
# The dependencies first, from pyproject.toml alone, so that a change to paas's code rebuilds
# only the layer below them.
COPY pyproject.toml README.md ./
RUN --mount=type=secret,id=paas_build_ca,target=/run/paas/build-ca.crt,mode=0444 \
    python3 -m venv /opt/paas/.venv \
 && PIP_CERT=/run/paas/build-ca.crt /opt/paas/.venv/bin/pip install --no-cache-dir '.[postgres]' \
 && /opt/paas/.venv/bin/pip uninstall --yes paas
COPY paas ./paas
COPY webui ./webui
COPY worker ./worker
COPY buildpacks ./buildpacks
COPY manage.py ./
# Editable, so that the code runs from /opt/paas, where it finds the buildpacks beside it.
RUN --mount=type=secret,id=paas_build_ca,target=/run/paas/build-ca.crt,mode=0444 \
    PIP_CERT=/run/paas/build-ca.crt /opt/paas/.venv/bin/pip install --no-cache-dir --no-deps \
        --editable .
ENV PATH=/opt/paas/.venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=paas.settings \
    PAAS_HOME=/var/lib/paas
