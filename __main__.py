"""neo4j-cluster: stack config → settings → topology → rendered artifacts → platform → outputs."""
import pulumi

from components.program.stack_config import settings_from_engine
from components.render import render_artifacts
from components.topology import plan_topology

settings = settings_from_engine()
topology = plan_topology(settings)
artifacts = render_artifacts(settings, topology)  # scripts/plan.py writes these to build/<stack>/

# Both adapters place the same artifacts and return outputs of the same shape (see README).
if settings.platform == "aws":
    from components.aws import build_aws as build_platform
else:
    from components.docker import build_docker as build_platform

outputs = build_platform(settings, topology, artifacts)  # components/outputs.py: StackOutputs
for name, value in outputs.to_json().items():
    pulumi.export(name, value)
