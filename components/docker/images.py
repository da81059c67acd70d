"""The container images of the docker platform: every reference pinned here, in one place.

Official images only. Each support image is pinned by tag and, optionally, by digest: set
`digest` ("sha256:…", from `docker buildx imagetools inspect <image>`) to make a re-pushed tag
harmless. Neo4j's tag follows `neo4j:version` and `neo4j:edition`.
"""
from __future__ import annotations

from dataclasses import dataclass

from components.settings import Settings


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
