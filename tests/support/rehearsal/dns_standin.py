"""The VPC DNS STAND-IN: the stack's private hosted zone (its A records, with the rehearsal machines' addresses), run
inside one machine's network namespace as the nameserver of its /etc/resolv.conf.

HAProxy resolves the servers' names itself at run time (haproxy.cfg: `resolvers cluster_dns` with
`parse-resolv-conf`; a failed resolution takes a server out after its hold period), so the HAProxy node needs a
nameserver that answers, not only /etc/hosts. This one answers A queries for the zone's names, NOERROR with no
answer for their other types (AAAA: HAProxy then asks for A), and NXDOMAIN for any other name: nothing is
forwarded anywhere.

    python -m tests.support.rehearsal.dns_standin --records FILE.json --address 127.100.0.53
where FILE.json is {"core-1.dev.neo4j.internal": "169.254.23.1", …}.
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import socket
import struct
import sys

ADDRESS = "127.100.0.53"  # on the namespace's lo, beside the other stand-ins' 127.100.0.x
PORT = 53
TTL = 60  # the plan's records' ttl
TYPE_A, CLASS_IN = 1, 1
NOERROR, FORMERR, NXDOMAIN = 0, 1, 3


def _question(packet: bytes) -> tuple[str, int, int, int]:
    """(name, qtype, qclass, offset after the question) of a query's first question."""
    labels, offset = [], 12
    while True:
        length = packet[offset]
        offset += 1
        if length == 0:
            break
        if length & 0xC0:  # a query's question is never compressed
            raise ValueError("compressed name in a question")
        labels.append(packet[offset:offset + length].decode("ascii"))
        offset += length
    qtype, qclass = struct.unpack("!HH", packet[offset:offset + 4])
    return ".".join(labels).lower(), qtype, qclass, offset + 4


def answer(packet: bytes, records: dict[str, str]) -> bytes:
    """The reply to one query: the question echoed, one A record when the zone has the name."""
    (ident, flags) = struct.unpack("!HH", packet[:4])
    recursion_desired = flags & 0x0100
    try:
        name, qtype, qclass, end = _question(packet)
    except (ValueError, IndexError, struct.error):
        return struct.pack("!HHHHHH", ident, 0x8000 | recursion_desired | FORMERR, 0, 0, 0, 0)
    address = records.get(name.rstrip("."))
    rcode = NOERROR if address else NXDOMAIN
    answers = b""
    if address and qtype == TYPE_A and qclass == CLASS_IN:
        # The name as a pointer to the question's (offset 12).
        answers = struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, TTL, 4) + ipaddress.IPv4Address(address).packed
    # QR, AA (the zone's own answer), RD as asked, RA.
    header = struct.pack("!HHHHHH", ident, 0x8000 | 0x0400 | recursion_desired | 0x0080 | rcode, 1,
                         1 if answers else 0, 0, 0)
    return header + packet[12:end] + answers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="VPC DNS stand-in, run inside a machine's network namespace.")
    parser.add_argument("--records", required=True, help='JSON file: {"name": "IPv4 address", …}')
    parser.add_argument("--address", default=ADDRESS)
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args(argv)
    with open(args.records) as handle:
        records = {name.lower().rstrip("."): address for name, address in json.load(handle).items()}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind((args.address, args.port))
        print(f"dns-standin: serving {args.address}:{args.port} ({len(records)} records)", file=sys.stderr,
              flush=True)
        seen: set[tuple[str, int]] = set()
        while True:
            packet, client = server.recvfrom(4096)
            reply = answer(packet, records)
            server.sendto(reply, client)
            try:
                name, qtype, _, _ = _question(packet)
            except (ValueError, IndexError, struct.error):
                continue
            if (name, qtype) not in seen:  # HAProxy asks every few seconds: each question logged once
                seen.add((name, qtype))
                rcode = reply[3] & 0x0F
                print(f"dns-standin: {name} type {qtype} -> {'NXDOMAIN' if rcode == NXDOMAIN else 'answered'}",
                      file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
