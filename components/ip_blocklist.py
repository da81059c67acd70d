"""The address ranges LOAD CSV may not read from (pure): the Cypher IP blocklist every server's neo4j.conf carries.

A user who may run LOAD CSV makes the server send an HTTP request to any URL: without a blocklist, to the
instance metadata service (the machine's role credentials), to the cluster's own HTTP endpoints and to
anything else in the VPC. Neo4j's knowledge base, "Protecting against Server Side Request Forgery (SSRF)"
(neo4j.com/developer/kb/protecting-against-ssrf), names the setting that refuses such URLs, and the APOC
manual's SSRF note says which edition uses what: "Neo4j Enterprise Edition: Use Load Privileges with CIDR
restrictions. [...] Neo4j Community Edition: Configure the internal.dbms.cypher_ip_blocklist setting."
The setting is not on the Operations Manual's settings page of any line (tests/fixtures/neo4j-settings); it
is declared by each line's neo4j-configuration jar, under the name of that line:

- 4.4: ``unsupported.dbms.cypher_ip_blocklist`` (4.4.46 declares no ``internal.`` name);
- 5.x and 2025: ``internal.dbms.cypher_ip_blocklist`` (5.26.30 and 2025.10.1 keep the ``unsupported.`` name only
  as the old one).

It applies on both editions (the kernel checks every LOAD CSV URL, and each redirect, against it), so Enterprise
gets it too. Neo4j resolves the URL's host and refuses it when any address falls in a listed range.
"""
from __future__ import annotations

import ipaddress

SETTING = {"4.4": "unsupported.dbms.cypher_ip_blocklist", "5": "internal.dbms.cypher_ip_blocklist",
           "2025": "internal.dbms.cypher_ip_blocklist"}

# Every range a LOAD CSV URL has no business reaching from a server, with why.
FIXED_RANGES = (
    ("0.0.0.0/8", "'this network': 0.0.0.0 reaches the machine itself on Linux"),
    ("127.0.0.0/8", "loopback: the server's own HTTP endpoints, node exporter, anything on the machine"),
    ("169.254.0.0/16", "link-local: the instance metadata service (169.254.169.254), Amazon's DNS and time"),
    ("10.0.0.0/8", "RFC 1918 private range"),
    ("172.16.0.0/12", "RFC 1918 private range"),
    ("192.168.0.0/16", "RFC 1918 private range"),
    ("::1/128", "IPv6 loopback"),
    ("fe80::/10", "IPv6 link-local"),
    ("fc00::/7", "IPv6 unique local, the metadata service's IPv6 address fd00:ec2::254 included"),
)


def blocked_ranges(vpc_cidr: str) -> tuple[str, ...]:
    """The fixed ranges, and the stack's VPC range when none of them holds it (a VPC may use public space)."""
    fixed = tuple(cidr for cidr, _ in FIXED_RANGES)
    vpc = ipaddress.ip_network(vpc_cidr)
    inside = any(vpc.version == ipaddress.ip_network(cidr).version and vpc.subnet_of(ipaddress.ip_network(cidr))
                 for cidr in fixed)
    return fixed if inside else fixed + (str(vpc),)


def blocklist_setting(line: str, vpc_cidr: str) -> dict[str, str]:
    """{"key": the line's setting name, "value": the comma-separated ranges} for the conf template."""
    return {"key": SETTING[line], "value": ",".join(blocked_ranges(vpc_cidr))}
