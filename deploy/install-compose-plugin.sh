#!/usr/bin/env bash
# Install Docker Compose v2, the docker CLI plugin, from Debian's archive on Debian 12.
#
# bookworm's docker-compose is the old Python tool (1.29), which reads docker-compose.yml
# differently (no depends_on conditions it knows of, no --wait). trixie's docker-compose
# package is Compose v2 as a CLI plugin (/usr/libexec/docker/cli-plugins/docker-compose, a Go
# binary that needs only libc6 >= 2.34), which Debian's docker CLI (/usr/bin/docker) finds, as
# does a docker CLI in /usr/local/bin. This reads trixie's package index into a private apt
# state directory, downloads that one package and installs it with apt, which checks its
# dependencies against bookworm. The machine's sources and pinning are left as they are, so
# nothing else comes from trixie. Idempotent: does nothing when `docker compose` works.
# Usage: install-compose-plugin.sh
set -euo pipefail

docker_cli=${PAAS_DOCKER_CLI:-/usr/bin/docker}
if version=$("$docker_cli" compose version 2>/dev/null); then
    echo "compose: $version"
    exit 0
fi

mirror=${PAAS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
state=/var/cache/paas/apt-trixie
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/debs"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" \
    >"$state/sources.list"
private_apt=(
    -o "Dir::Etc::SourceList=$state/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache"
    # The download lands in a directory of root's, not the _apt user's.
    -o APT::Sandbox::User=root
)
echo "compose: reading trixie's package index"
apt-get "${private_apt[@]}" -q update >/dev/null
rm -f "$state"/debs/docker-compose_*.deb
(cd "$state/debs" && apt-get "${private_apt[@]}" -q download docker-compose)
echo "compose: installing $(basename "$state"/debs/docker-compose_*.deb)"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "$state"/debs/docker-compose_*.deb
"$docker_cli" compose version
