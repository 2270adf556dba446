# The paas control plane as an image, for docker-compose.yml. Built on the paas stack image
# (no registry needed) by `make controlplane-image`, with BuildKit so that pip reaches PyPI
# through the build CA bundle without it landing in the image.
FROM paas/stack:bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends docker.io nginx libnginx-mod-http-lua redis-server \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/paas
COPY pyproject.toml README.md ./
COPY paas ./paas
COPY webui ./webui
COPY worker ./worker
COPY buildpacks ./buildpacks
COPY manage.py ./
RUN --mount=type=secret,id=paas_build_ca,target=/run/paas/build-ca.crt,mode=0444 \
    python3 -m venv /opt/paas/.venv \
 && PIP_CERT=/run/paas/build-ca.crt /opt/paas/.venv/bin/pip install --no-cache-dir .
ENV PATH=/opt/paas/.venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=paas.settings \
    PAAS_HOME=/var/lib/paas
