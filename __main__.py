"""neo4j-cluster: stack config → settings → topology → rendered artifacts → platform → outputs."""
import pulumi

from components.render import HAPROXY_PORTS, render_artifacts
from components.stack_config import settings_from_engine
from components.topology import plan_topology

settings = settings_from_engine()
topology = plan_topology(settings)
artifacts = render_artifacts(settings, topology)  # scripts/plan.py writes these to build/<stack>/

# The AWS and Docker adapters (components/aws, components/docker) place `artifacts`; until they
# exist this program creates no resources and says so.
pulumi.log.warn(f"the {settings.platform} adapter is not built yet: this program creates no resources")

pulumi.export("servers", [
    {"name": s.name, "role": s.role, "zone": s.zone, "hostname": s.hostname,
     "boltUri": f"neo4j://{s.hostname}:{topology.ports.bolt}"}
    for s in topology.servers
])
pulumi.export("faultTolerance", topology.fault_tolerance)
pulumi.export("routingUri", f"neo4j://{topology.primaries[0].hostname}:{topology.ports.bolt}")
if topology.haproxy:
    pulumi.export("haproxyBoltUri", f"bolt://{topology.haproxy.hostname}:{HAPROXY_PORTS['bolt_write']}")
