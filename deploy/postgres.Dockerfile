# PostgreSQL on the paas stack image, Debian's package (no registry needed): for the control
# plane under docker-compose.yml (postgres-start.sh), and for the backing services of
# `paas postgres:create` (START_SCRIPT=postgres-service-start.sh, built by
# paas/build/service_images.py). STACK_IMAGE picks the stack, so its Debian release picks the
# PostgreSQL major version (bookworm: 15).
ARG STACK_IMAGE=paas/stack:bookworm
FROM ${STACK_IMAGE}
ARG START_SCRIPT=postgres-start.sh

# No cluster from the package's postinst: postgres-start.sh makes one in the data volume.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-common \
 && sed -ri 's/^#? *create_main_cluster.*/create_main_cluster = false/' \
        /etc/postgresql-common/createcluster.conf \
 && apt-get install -y --no-install-recommends postgresql \
 && rm -rf /var/lib/apt/lists/*

# The data directory and the socket directory belong to postgres in the image, so a service
# container can run as postgres from the start: Docker gives a new, empty named volume the
# ownership of the directory it is mounted over.
RUN install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data \
 && install -d -o postgres -g postgres -m 2775 /run/postgresql

COPY ${START_SCRIPT} /usr/local/bin/paas-postgres-start
CMD ["/usr/local/bin/paas-postgres-start"]
