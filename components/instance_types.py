"""Memory and CPU of the EC2 instance types we size for (AWS's published figures)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InstanceType:
    name: str
    memory_gib: float
    vcpus: int
    arch: str  # "x86_64" | "arm64": picks the AMI


def _family(prefix: str, arch: str, sizes: dict[str, tuple[float, int]]) -> dict[str, InstanceType]:
    return {f"{prefix}.{size}": InstanceType(f"{prefix}.{size}", mem, cpu, arch) for size, (mem, cpu) in sizes.items()}


# Memory-per-vCPU ratios of the families: general purpose 4 GiB, memory optimised 8 GiB.
_GENERAL = {"large": (8, 2), "xlarge": (16, 4), "2xlarge": (32, 8), "4xlarge": (64, 16), "8xlarge": (128, 32)}
_MEMORY = {"large": (16, 2), "xlarge": (32, 4), "2xlarge": (64, 8), "4xlarge": (128, 16), "8xlarge": (256, 32),
           "12xlarge": (384, 48), "16xlarge": (512, 64)}
_BURSTABLE = {"small": (2, 2), "medium": (4, 2), "large": (8, 2), "xlarge": (16, 4), "2xlarge": (32, 8)}

INSTANCE_TYPES: dict[str, InstanceType] = {
    **_family("t3", "x86_64", _BURSTABLE),
    **_family("t3a", "x86_64", _BURSTABLE),
    **_family("t4g", "arm64", _BURSTABLE),
    **_family("m5", "x86_64", _GENERAL),
    **_family("m6i", "x86_64", _GENERAL),
    **_family("m7i", "x86_64", _GENERAL),
    **_family("m6g", "arm64", _GENERAL),
    **_family("m7g", "arm64", _GENERAL),
    **_family("r5", "x86_64", _MEMORY),
    **_family("r6i", "x86_64", _MEMORY),
    **_family("r7i", "x86_64", _MEMORY),
    **_family("r6g", "arm64", _MEMORY),
    **_family("r7g", "arm64", _MEMORY),
}
