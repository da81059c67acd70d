"""HAProxy in front of the cluster: the official image with the rendered haproxy.cfg.

The laptop stack keeps ONE HAProxy: it runs on one machine, so a second container would fail over nothing
that matters there (the Docker engine is the single point). The AWS stack runs the pair behind an NLB
(components/aws/load_balancer.py); the same haproxy.cfg serves both, health frontend included.
"""
from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.docker.containers import ContainerSpec, HealthCheck, Upload, container, pull, reachable_as
from components.docker.images import HAPROXY_IMAGE
from components.docker.layout import HAPROXY_CA, HAPROXY_CFG, HAPROXY_PUBLISHED
from components.ports import PORTS
from components.render import HAPROXY_ENTRY_PEM, HAPROXY_STATE_DIR
from components.topology import Node


@dataclass(frozen=True)
class LoadBalancerArgs:
    node: Node  # topology.haproxy
    haproxy_cfg: str  # the rendered files["haproxy"]["haproxy.cfg"]
    network: pulumi.Input[str]
    ca_cert_pem: pulumi.Input[str] | None  # when haproxy.cfg checks the servers over HTTPS (tls=required)
    # The entry certificate and key in one PEM (HAProxy's crt), where HAProxy ends the clients' TLS (tls=required).
    entry_pem: pulumi.Input[str] | None = None
    open_files: int | None = None  # render.haproxy_open_files: what haproxy.cfg's maxconn needs


class LoadBalancer(pulumi.ComponentResource):
    """Container `<name>-haproxy`, reachable on the network as the topology's haproxy hostname."""

    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("neo4j-cluster:docker:LoadBalancer", name, None, opts)
        image = pull(f"{name}-haproxy-image", HAPROXY_IMAGE, self)
        # haproxy.cfg reads the server states saved before a reload; none here (the container is replaced instead):
        # a states file holding only its format version, "1" (an empty one makes haproxy warn).
        uploads = [Upload(HAPROXY_CFG, args.haproxy_cfg), Upload(f"{HAPROXY_STATE_DIR}/server-state", "1\n")]
        if args.ca_cert_pem is not None:
            uploads.append(Upload(HAPROXY_CA, args.ca_cert_pem))
        if args.entry_pem is not None:
            uploads.append(Upload(HAPROXY_ENTRY_PEM, args.entry_pem))
        haproxy = container(f"{name}-haproxy", ContainerSpec(
            image=image.image_id,
            role="loadbalancer",
            **reachable_as(args.network, args.node.hostname, args.node.name),
            ports=HAPROXY_PUBLISHED,
            uploads=tuple(uploads),
            health=HealthCheck(f"http://127.0.0.1:{PORTS.haproxy.stats}/stats"),
            # The image starts haproxy as its haproxy user, which can neither chroot nor change user: started as
            # root, as on the AWS nodes, its workers chroot and drop to haproxy as haproxy.cfg says.
            user="root",
            # A root without CAP_SYS_RESOURCE (a container's) cannot raise its limit to what maxconn needs.
            open_files=args.open_files,
        ), self)
        self.register_outputs({"container": haproxy.name})
