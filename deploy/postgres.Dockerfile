# PostgreSQL for the control plane under docker-compose.yml: Debian's package on the paas
# stack image (no registry needed). STACK_IMAGE picks the stack, so its Debian release picks
# the PostgreSQL major version (bookworm: 15).
ARG STACK_IMAGE=paas/stack:bookworm
FROM ${STACK_IMAGE}

# No cluster from the package's postinst: postgres-start.sh makes one in the data volume.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-common \
 && sed -ri 's/^#? *create_main_cluster.*/create_main_cluster = false/' \
        /etc/postgresql-common/createcluster.conf \
 && apt-get install -y --no-install-recommends postgresql \
 && rm -rf /var/lib/apt/lists/*

COPY postgres-start.sh /usr/local/bin/paas-postgres-start
CMD ["/usr/local/bin/paas-postgres-start"]
