"""neo4j-cluster: stack config → settings → topology → rendered artifacts → platform → outputs."""
import pulumi

from components.program.stack_config import settings_from_engine
from components.render import render_cluster
from components.topology import plan_topology

settings = settings_from_engine()
topology = plan_topology(settings)
rendered = render_cluster(settings, topology)  # the texts and per-server decisions every platform places

# Both adapters place the same rendered texts (AWS adds what only its machines need) and return a
# Deployment: the files they placed and outputs of one shape (components/outputs.py).
if settings.platform == "aws":
    from components.aws import build_aws as build_platform
else:
    from components.docker import build_docker as build_platform

deployment = build_platform(settings, topology, rendered)
artifacts = deployment.files  # scripts/plan.py writes these to build/<stack>/
for name, value in deployment.outputs.to_json().items():
    pulumi.export(name, value)
