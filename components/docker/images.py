"""The container images of the docker platform: every reference pinned here, in one place.

Official images only. Each support image is pinned by tag and, optionally, by digest: set
`digest` ("sha256:…", from `docker buildx imagetools inspect <image>`) to make a re-pushed tag
harmless. Neo4j's tag follows `neo4j:version` and `neo4j:edition`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from components.settings import NAMESPACE, Settings


@dataclass(frozen=True)
class ImageRef:
    repository: str
    tag: str
    digest: str | None = None

    @property
    def reference(self) -> str:
        """What `docker pull` takes: repository:tag, plus @digest when pinned by digest."""
        pinned = f"{self.repository}:{self.tag}"
        return f"{pinned}@{self.digest}" if self.digest else pinned


# HAProxy's alpine variant carries busybox wget for the health check; the Debian one has no HTTP client.
HAPROXY_IMAGE = ImageRef("haproxy", "3.2.4-alpine")
PROMETHEUS_IMAGE = ImageRef("prom/prometheus", "v3.5.0")  # the 3.5 LTS line
GRAFANA_IMAGE = ImageRef("grafana/grafana", "12.1.1")  # the Alpine variant (the default tag)


def neo4j_image(settings: Settings) -> ImageRef:
    """`neo4j:<version>-enterprise`, or `neo4j:<version>` (Community) for a single community server."""
    suffix = "-enterprise" if settings.edition == "enterprise" else ""
    return ImageRef("neo4j", f"{settings.version}{suffix}")


# The first neo4j image of each line whose entrypoint reads NEO4J_AUTH_PATH (docker-neo4j tags
# neo4j-4.4.28 and neo4j-5.14.0; every calendar release has it). Older ones read the admin password
# only from NEO4J_AUTH, an environment variable that `docker inspect` shows, and would turn
# NEO4J_AUTH_PATH into a setting. Of the lines we accept (4.4, 5.26, calendar), only 4.4 has such releases.
AUTH_FILE_SINCE = {"4.4": (4, 4, 28)}
_RELEASE = re.compile(r"^(\d+)\.(\d+)\.(\d+)")


def image_problems(settings: Settings) -> list[str]:
    """Why the stack's neo4j image cannot run as this platform runs it (empty: it can)."""
    since = AUTH_FILE_SINCE.get(settings.version_line)
    match = _RELEASE.match(settings.version)
    if since is None or match is None or tuple(int(part) for part in match.groups()) >= since:
        return []
    first = ".".join(map(str, since))
    return [f"{NAMESPACE}:version: got {settings.version!r} with platform=docker; allowed: {first} or later in the "
            f"{settings.version_line} line (older neo4j images read the admin password only from the NEO4J_AUTH "
            f"environment variable, which docker inspect shows)"]
