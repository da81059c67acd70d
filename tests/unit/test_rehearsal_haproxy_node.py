"""The HAProxy node's rehearsal pieces that need no machine (issue 23): the VPC DNS stand-in's answers and the
open-files drop-in's rule (tests/support/rehearsal/dns_standin.py, haproxy_node.py)."""
from __future__ import annotations

import struct

from tests.support.rehearsal.dns_standin import NXDOMAIN, answer
from tests.support.rehearsal.haproxy_node import PACKAGE_EXTRAOPTS, open_files_dropin

RECORDS = {"core-1.dev.neo4j.internal": "169.254.23.1"}


def query(name: str, qtype: int, ident: int = 0x1234) -> bytes:
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + labels + struct.pack("!HH", qtype, 1)


def test_dns_standin_answers_a_zone_name_with_its_address():
    reply = answer(query("Core-1.dev.neo4j.internal", 1), RECORDS)
    ident, flags, questions, answers = struct.unpack("!HHHH", reply[:8])
    assert (ident, flags & 0x8000, flags & 0x0F, questions, answers) == (0x1234, 0x8000, 0, 1, 1)
    assert reply[-4:] == bytes([169, 254, 23, 1])


def test_dns_standin_has_no_aaaa_and_refuses_other_names():
    aaaa = answer(query("core-1.dev.neo4j.internal", 28), RECORDS)
    assert struct.unpack("!HH", aaaa[6:10]) == (0, 0) and aaaa[3] & 0x0F == 0  # NOERROR, no answer: ask for A
    other = answer(query("example.com", 1), RECORDS)
    assert other[3] & 0x0F == NXDOMAIN and struct.unpack("!H", other[6:8]) == (0,)


CFG = "global\n    log stdout format raw local0 info\n    maxconn 20000\n\ndefaults\n    maxconn 300\n"


def test_open_files_dropin_only_where_the_limit_is_short_of_twice_maxconn():
    assert open_files_dropin(CFG, hard_limit=524288) is None
    dropin = open_files_dropin(CFG, hard_limit=20000)
    assert dropin is not None
    assert f'Environment="EXTRAOPTS={PACKAGE_EXTRAOPTS} -n 9900"' in dropin  # 2 x 9900 + 200 fits in 20000
