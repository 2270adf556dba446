# A Redis backing service (`paas redis:create`): Debian's redis-server on the paas stack image
# (no registry needed), built by paas/build/service_images.py.
ARG STACK_IMAGE=paas/stack:bookworm
FROM ${STACK_IMAGE}

RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o redis -g redis -m 0750 /var/lib/redis

COPY redis-service-start.sh /usr/local/bin/paas-redis-start
CMD ["/usr/local/bin/paas-redis-start"]
