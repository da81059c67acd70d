"""The real-server fixture's promise: the conf is our templates' own, and only what must differ on a
test machine is overridden (addresses and ports, heap and page cache)."""
from __future__ import annotations

import pytest

from tests.support.neo4j_dist import parse_conf
from tests.support.neo4j_local import STACK_CONFIG, machine_overrides, rendered_conf

ALLOWED_PREFIXES = ("server.default_listen_address", "server.default_advertised_address", "server.bolt.",
                    "server.http.", "server.https.", "server.memory.", "server.directories.import")


@pytest.mark.parametrize("tls", ["disabled", "optional", "required"])
def test_overrides_replace_rendered_settings_and_touch_only_addresses_and_memory(tls, tmp_path):
    conf_file = tmp_path / "neo4j.conf"
    conf_file.write_text(rendered_conf(tls))
    conf = parse_conf(conf_file)
    overrides = machine_overrides(7001, 7002, 7003, import_dir=str(tmp_path / "import"))
    for key in overrides:
        assert key.startswith(ALLOWED_PREFIXES), key
        assert key in conf, f"{key} is added, not overridden: the template should set it"
    assert conf["server.config.strict_validation.enabled"] == "true"
    assert conf["server.bolt.tls_level"] == {"disabled": "DISABLED", "optional": "OPTIONAL",
                                             "required": "REQUIRED"}[tls]


def test_the_stack_is_a_standalone_community_server():
    assert STACK_CONFIG["neo4j:edition"] == "community" and STACK_CONFIG["neo4j:coreCount"] == 1
    assert "initial.server.mode_constraint" not in rendered_conf()  # no cluster settings
