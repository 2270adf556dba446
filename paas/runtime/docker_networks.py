"""One Docker network per app: its containers join only it (and the networks of the apps it is
linked to), so no app reaches another's containers unless linked.

Part of the one Docker wrapper (``paas.runtime.docker_engine.DockerEngine``). Docker keeps
user-defined bridge networks apart from each other (its DOCKER-ISOLATION chains), so two apps
on different networks cannot open each other's ports; the router reaches web containers
through their loopback-published ports, which no container can reach.

Each network gets a /24 from the installation's pool (``PAAS_NETWORK_POOL``) rather than one of
Docker's default /16s, of which there are only about thirty on a dockerd: paas needs one per
app. The pool is also what a firewall rule names to keep app containers away from the control
plane (see ``paas.hostctl.firewall``).
"""

import contextlib
import hashlib
import ipaddress
import logging

import docker.errors
import docker.types

from paas.errors import PlatformError
from paas.runtime.docker_client import LABEL_APP, LABEL_HOME, DockerConnection, reported

logger = logging.getLogger(__name__)

NETWORK_PREFIX = 24
# Subnets one network creation tries before it reports the pool exhausted.
NETWORK_ATTEMPTS = 16
LABEL_NETWORK = "paas.network"


def installation_id(home: str) -> str:
    """A short id of a paas installation, part of the names it gives shared Docker objects."""
    return hashlib.sha256(home.encode()).hexdigest()[:8]


def app_network_name(home: str, app: str) -> str:
    """The Docker network of ``app`` of the installation at ``home``: ``paas-<id>-<app>``."""
    return f"paas-{installation_id(home)}-{app}"


class DockerNetworks(DockerConnection):
    """The per-app networks of this installation."""

    def app_network(self, app: str) -> str:
        return app_network_name(self.home, app)

    def ensure_app_network(self, app: str) -> str:
        """Create ``app``'s network if it is missing, with a free /24 of the pool; return its
        name. Raises PlatformError(network_pool_exhausted) when the pool has no free /24."""
        return self.ensure_network(self.app_network(app), f"the network of {app}",
                                   {LABEL_APP: app, LABEL_NETWORK: "app"})

    def ensure_network(self, name: str, what: str, labels: dict[str, str]) -> str:
        """Create bridge network ``name`` (labelled with ``labels`` and this installation) if
        it is missing, with a free /24 of the pool; return its name. Raises
        PlatformError(network_pool_exhausted), naming it as ``what``."""
        with contextlib.suppress(docker.errors.NotFound):
            self.client.networks.get(name)
            return name
        pool = ipaddress.ip_network(self.network_pool)
        # dockerd refuses a subnet another installation takes at the same time, and one it
        # still holds for a network removed in the meantime (not in its list): either way,
        # the next attempt takes another.
        refused: set[ipaddress.IPv4Network | ipaddress.IPv6Network] = set()
        for _ in range(NETWORK_ATTEMPTS):
            used = self._used_subnets()
            subnet = next((candidate for candidate in pool.subnets(new_prefix=NETWORK_PREFIX)
                           if candidate not in refused
                           and not any(candidate.overlaps(other) for other in used)), None)
            if subnet is None:
                break
            ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(
                subnet=str(subnet), gateway=str(next(subnet.hosts())))])
            try:
                self.client.networks.create(
                    name, driver="bridge", ipam=ipam, check_duplicate=True,
                    labels={**labels, LABEL_HOME: self.home})
                return name
            except docker.errors.APIError as error:
                with contextlib.suppress(docker.errors.NotFound):
                    self.client.networks.get(name)
                    return name  # created meanwhile by a concurrent converge
                logger.info("network %s on %s not created (%s); trying another subnet",
                            name, subnet, error.explanation or error)
                refused.add(subnet)
        raise PlatformError(f"no free /{NETWORK_PREFIX} left in PAAS_NETWORK_POOL "
                            f"{self.network_pool} for {what}",
                            code="network_pool_exhausted")

    def _used_subnets(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        used = []
        for network in self.client.networks.list():
            for config in (network.attrs.get("IPAM") or {}).get("Config") or []:
                with contextlib.suppress(ValueError, KeyError):
                    used.append(ipaddress.ip_network(config["Subnet"], strict=False))
        return used

    def remove_app_network(self, app: str) -> bool:
        """Remove ``app``'s network, first disconnecting what is still attached (containers of
        apps linked to it); False if it did not exist."""
        return self.remove_network(self.app_network(app))

    def remove_network(self, name: str) -> bool:
        """Remove network ``name``, first disconnecting what is still attached; False if it
        did not exist."""
        try:
            network = self.client.networks.get(name)
        except docker.errors.NotFound:
            return False
        network.reload()
        for container_id in (network.attrs.get("Containers") or {}):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                network.disconnect(container_id, force=True)
        try:
            network.remove()
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as error:
            logger.warning("network %s not removed: %s", network.name, error)
            return False
        return True

    def remove_orphan_networks(self, known_apps: set[str]) -> list[str]:
        """Remove this installation's app networks of apps not in ``known_apps``."""
        removed = []
        networks = self.client.networks.list(
            filters={"label": [f"{LABEL_HOME}={self.home}", f"{LABEL_NETWORK}=app"]})
        for network in networks:
            app = (network.attrs.get("Labels") or {}).get(LABEL_APP)
            if not app or app in known_apps:
                continue
            # Never forced: an app created after ``known_apps`` was read may be starting its
            # first containers on it. One still in use is removed by a later reconcile.
            try:
                network.remove()
            except docker.errors.APIError as error:
                logger.info("orphan network %s not removed yet: %s", network.name, error)
                continue
            removed.append(reported(network.name, "network name"))
        return removed
