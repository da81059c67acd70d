"""The plan summary's plugin lines: what neo4j:plugins installs where, the servers that run GDS, and a warning for
each role granted a plugin namespace (apoc.*, gds.*) that no server installs."""
from __future__ import annotations

from components.plugins import GDS, GDS_LICENSE_ON_SECONDARY, missing_plugin_warnings
from components.render import GDS_LICENSE_FILE, GDS_LICENSE_KEY, RenderedCluster
from components.settings import Settings


def plugin_lines(settings: Settings, rendered: RenderedCluster) -> list[str]:
    lines = []
    if settings.plugins:
        on = {key: [name for name, plan in rendered.servers.items() if key in {p.key for p in plan.plugins}]
              for key in settings.plugins}
        every = len(rendered.servers)
        placed = [f"{key} on {'every server' if len(names) == every else ', '.join(names)}"
                  for key, names in on.items()]
        lines.append(f"Plugins (neo4j:plugins, from the package's labs/ and products/): {'; '.join(placed)}")
        if GDS in settings.plugins:
            lines.append(f"GDS servers: {', '.join(on[GDS])}"
                         + (" (dedicated secondary: no primary runs GDS)" if settings.clustered else ""))
            if GDS_LICENSE_KEY in settings.secrets_set:
                lines.append(f"GDS licence: neo4j:gdsLicense, installed on {', '.join(on[GDS])} as "
                             f"gds.enterprise.license_file={GDS_LICENSE_FILE}")
            elif settings.clustered:
                secondary = "Read Replica" if settings.version_line == "4.4" else "Secondary"
                lines.append(f"GDS licence: none given (neo4j:gdsLicense), so GDS runs its Community features; the "
                             f"GDS manual (GDS with Neo4j cluster): \"{GDS_LICENSE_ON_SECONDARY} _{secondary}_\"")
    lines += missing_plugin_warnings(settings.roles, settings.plugins, settings.version, settings.version_line)
    return lines
