"""neo4j:aptRepositoryUrl, neo4j:aptRepositoryAllowHttp, neo4j:aptSigningKey (issue 23): Neo4j's Debian repository or
a mirror of it, and the key apt checks it with, from the stack config to setup-neo4j.sh (servers and 4.4's Fabric
proxies), the security groups' package rules and the plan's summary. The default stays debian.neo4j.com, byte for
byte."""
from __future__ import annotations

import base64
import gzip
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.aws.egress import ENDPOINTS, OPEN, PACKAGE_SOURCES, package_sources, plan_egress
from components.aws.machine import USER_DATA_LIMIT
from components.aws.user_data import aws_artifacts
from components.settings import ConfigError
from components.topology import plan_topology
from scripts.neo4j_ops.plan.summary import package_source_lines
from tests.conftest import make_settings, require_tool
from tests.support.shell import sandbox

MIRROR = "https://artifacts.example.com/debian-neo4j"
GROUPS = ("neo4j", "fabric", "haproxy", "entry", "monitoring")
# A 4.4 stack with two Fabric proxies: they boot with setup-neo4j.sh as the servers do.
FABRIC_44 = {"version": "4.4.46", "databases": [{"name": "books"}], "fabricProxyCount": 2,
             "composites": [{"name": "library", "aliases": [{"name": "books", "database": "books"}]}]}


def gpg(home: Path, *args: str, input: bytes | None = None) -> bytes:
    result = subprocess.run([require_tool("gpg"), "--homedir", str(home), "--batch", "--yes", "--pinentry-mode",
                             "loopback", "--passphrase", "", *args], input=input, capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory) -> Iterator[tuple[str, str]]:
    """A real key made for the test (ed25519): its armored public part and its fingerprint."""
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    gpg(home, "--quick-generate-key", "apt mirror test key <test@neo4j-cluster.invalid>", "ed25519", "sign", "never")
    armored = gpg(home, "--armor", "--export").decode()
    fingerprint = next(line.split(":")[9] for line in gpg(home, "--with-colons", "--list-keys").decode().splitlines()
                       if line.startswith("fpr:"))
    yield armored, fingerprint
    # Key generation started a gpg-agent for this home; left running it outlives the suite.
    subprocess.run([require_tool("gpgconf"), "--homedir", str(home), "--kill", "gpg-agent"], check=False)


def setup_scripts(**stack) -> dict[str, str]:
    settings = make_settings(**stack)
    return {name: files["setup-neo4j.sh"] for name, files in aws_artifacts(settings, plan_topology(settings)).items()
            if "setup-neo4j.sh" in files}


def refusal(**stack) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        make_settings(**stack)
    return [p for p in refused.value.problems if p.startswith("neo4j:apt")]


# --- the default ------------------------------------------------------------------------------------------------


def test_the_default_is_neo4js_own_repository_and_its_key_from_it():
    settings = make_settings()
    assert settings.apt_repository_url == "https://debian.neo4j.com"
    assert settings.apt_signing_key_url == "https://debian.neo4j.com/neotechnology.gpg.key"
    assert settings.apt_signing_key_text == "" and settings.apt_repository_allow_http is False
    for name, script in setup_scripts(version="5.26.30").items():
        assert 'retry curl -fsSL --retry 3 -o "$APT_KEYRING.asc" https://debian.neo4j.com/neotechnology.gpg.key\n' \
            in script, name
        assert 'echo "deb [signed-by=$APT_KEYRING] https://debian.neo4j.com stable 5" >"$APT_SOURCE"' in script
    # The rules' descriptions of a stack without a mirror are the ones deployed stacks already have.
    assert [(s.groups, s.port, s.label) for s in PACKAGE_SOURCES] == [
        (("neo4j", "fabric", "haproxy", "monitoring"), 80, "Ubuntu archive"),
        (("neo4j",), 443, "debian.neo4j.com, PyPI"), (("fabric",), 443, "debian.neo4j.com"),
        (("monitoring",), 443, "apt.grafana.com"),
        (("neo4j", "fabric", "haproxy", "monitoring"), 443, "Snap Store")]  # the AWS CLI on Ubuntu 24.04


# --- validation: one line naming the key and what is allowed ---------------------------------------------------


def test_a_plain_http_repository_is_refused_without_the_opt_in():
    assert refusal(aptRepositoryUrl="http://mirror.internal/neo4j",
                   aptSigningKey="https://mirror.internal/neo4j.key") == [
        "neo4j:aptRepositoryUrl: got 'http://mirror.internal/neo4j', plain http; allowed: an https URL, or set "
        "neo4j:aptRepositoryAllowHttp: true to install from it over http on purpose"]


def test_an_http_repository_with_the_opt_in_still_needs_a_key_that_does_not_travel_over_http(signing_key):
    assert refusal(aptRepositoryUrl="http://mirror.internal/neo4j", aptRepositoryAllowHttp=True) == [
        "neo4j:aptSigningKey: got none with neo4j:aptRepositoryUrl 'http://mirror.internal/neo4j', which would fetch "
        "the key over plain http; allowed: an https URL of the key, or the ASCII-armored key itself"]
    assert refusal(aptRepositoryAllowHttp=True, aptSigningKey="http://mirror.internal/neo4j.key") == [
        "neo4j:aptSigningKey: got 'http://mirror.internal/neo4j.key', a key over plain http; allowed: an https URL, "
        "or the ASCII-armored key itself"]
    settings = make_settings(aptRepositoryUrl="http://mirror.internal:8080/neo4j/", aptRepositoryAllowHttp=True,
                             aptSigningKey=signing_key[0])
    assert settings.apt_repository_url == "http://mirror.internal:8080/neo4j"  # the trailing slash goes
    assert settings.apt_signing_key_url == "" and settings.apt_signing_key_text == signing_key[0]


@pytest.mark.parametrize("url", ["ftp://mirror.internal/neo4j", "https://user:pw@mirror.internal/neo4j",
                                 "https://mirror.internal/neo4j?token=1", "https://mirror.internal/ne o4j",
                                 "https://mirror.internal/$(reboot)", "mirror.internal/neo4j", ""])
def test_a_url_that_is_no_plain_http_s_url_is_refused_by_name(url):
    problems = refusal(aptRepositoryUrl=url)
    assert len(problems) == 1 and problems[0].startswith("neo4j:aptRepositoryUrl: got "), problems
    assert problems[0].endswith("allowed: an https URL of Neo4j's Debian repository or a mirror of it, such as "
                                "https://artifacts.example.com/debian-neo4j (no query or credentials)")


def test_a_key_that_is_neither_a_url_nor_an_armored_public_key_is_refused_in_one_line(signing_key):
    armored = signing_key[0]
    broken = armored.replace("-----END PGP PUBLIC KEY BLOCK-----", "")
    private = armored.replace("PUBLIC KEY BLOCK", "PRIVATE KEY BLOCK")
    for value in (broken, private, "mirror.internal/key", "-----BEGIN PGP PUBLIC KEY BLOCK-----\nNEO4J_APT_KEY\n"):
        problems = refusal(aptSigningKey=value)
        assert len(problems) == 1 and "\n" not in problems[0], problems
        assert problems[0].startswith("neo4j:aptSigningKey: got "), problems
        assert "allowed: " in problems[0] and len(problems[0]) < 400, problems  # a key's text is shortened


# --- the rendered boot script ------------------------------------------------------------------------------------


def test_servers_and_fabric_proxies_install_from_the_mirror_with_the_key_at_its_url():
    scripts = setup_scripts(**FABRIC_44, aptRepositoryUrl=MIRROR, aptSigningKey="https://keys.example.com/neo4j.asc")
    assert {name.split("-")[0] for name in scripts} == {"core", "replica", "fabric"}
    for name, script in scripts.items():
        assert 'retry curl -fsSL --retry 3 -o "$APT_KEYRING.asc" https://keys.example.com/neo4j.asc\n' in script, name
        assert f'echo "deb [signed-by=$APT_KEYRING] {MIRROR} stable 4.4" >"$APT_SOURCE"' in script, name
        assert "debian.neo4j.com" not in script, name
    # No key given: the mirror serves Neo4j's at the same path as debian.neo4j.com does.
    script = setup_scripts(aptRepositoryUrl=MIRROR)["core-1"]
    assert f'-o "$APT_KEYRING.asc" {MIRROR}/neotechnology.gpg.key\n' in script


def install_neo4j_for_real_gpg(tmp_path: Path, script: str):
    """install_neo4j with the machine's tools stood in, but gpg the real one: the keyring it writes is apt's."""
    box = sandbox(tmp_path)
    for tool in ("apt-get", "apt-mark", "curl"):
        box.stand_in(tool)
    # It reads the licence answer as the real one does: one that did not would leave echo a broken pipe (141).
    box.stand_in("debconf-set-selections", "cat >/dev/null")
    box.stand_in("dpkg-query", "exit 1")
    box.stand_in("systemctl", "exit 3")  # is-active: not running
    gnupg = tmp_path / "gnupg"
    gnupg.mkdir(mode=0o700)
    prelude = (f'POLICY_RC="{tmp_path}/policy-rc.d"\nAPT_KEYRING="{tmp_path}/keyrings/neo4j.gpg"\n'
               f'APT_SOURCE="{tmp_path}/neo4j.list"\nRETRY_ATTEMPTS=1\nAPT_OPTIONS=(-q)\n'
               'log() { echo "setup-neo4j: $*"; }\n')
    result = box.run(script, ["retry", "apt_install", "install_neo4j"], "install_neo4j\n", prelude=prelude,
                     env={"GNUPGHOME": str(gnupg)})
    return box, result


def test_an_inline_key_becomes_apts_keyring_and_the_boot_fetches_nothing_but_the_repository(tmp_path, signing_key):
    armored, fingerprint = signing_key
    script = setup_scripts(aptRepositoryUrl=MIRROR, aptSigningKey=armored)["core-1"]
    assert "curl" not in script[script.index("install_neo4j() {"):script.index("CONF_CHANGED=false")]
    box, result = install_neo4j_for_real_gpg(tmp_path, script)
    assert result.returncode == 0, result.stderr
    assert not [call for call in box.calls() if call.startswith("curl")], box.calls()
    keyring = tmp_path / "keyrings" / "neo4j.gpg"
    shown = subprocess.run([require_tool("gpg"), "--show-keys", "--with-colons", str(keyring)], capture_output=True,
                           text=True, check=True).stdout
    assert f"fpr:::::::::{fingerprint}:" in shown  # the binary keyring of the stack's own key
    assert (tmp_path / "neo4j.list").read_text() == (
        f"deb [signed-by={tmp_path}/keyrings/neo4j.gpg] {MIRROR} stable 5\n")
    assert not (tmp_path / "keyrings" / "neo4j.gpg.asc").exists()


def test_shellcheck_passes_the_script_with_a_key_url_and_with_an_inline_key(tmp_path, signing_key):
    variants = {"url": {"aptRepositoryUrl": MIRROR, "aptSigningKey": "https://keys.example.com/neo4j.asc"},
                "inline": {"aptRepositoryUrl": MIRROR, "aptSigningKey": signing_key[0], **FABRIC_44}}
    paths = []
    for label, stack in variants.items():
        for name, script in setup_scripts(**stack).items():
            path = tmp_path / f"{label}-{name}.sh"
            path.write_text(script)
            paths.append(str(path))
    result = subprocess.run([require_tool("shellcheck"), "--severity=info", *paths], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_inline_rsa_4096_sized_key_keeps_every_machines_user_data_under_ec2s_limit():
    # The size of an armored RSA 4096 key with a subkey (~3.1 KB; Neo4j's own is smaller): random base64 stands in
    # for its packets, which compress as badly as a real key's.
    import secrets

    body = base64.b64encode(secrets.token_bytes(2300)).decode()
    key = ("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" + "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
           + "\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n")
    settings = make_settings(**FABRIC_44, aptSigningKey=key, plugins=["apoc-core", "graph-data-science"])
    sizes = {name: len(gzip.compress(files["cloud-init.yaml"].encode(), compresslevel=9, mtime=0))
             for name, files in aws_artifacts(settings, plan_topology(settings)).items() if "cloud-init.yaml" in files}
    assert max(sizes.values()) < USER_DATA_LIMIT, sizes


# --- the security groups and the plan ----------------------------------------------------------------------------


def test_egress_names_the_mirrors_host_instead_of_debian_neo4j_com():
    rules = plan_egress(ENDPOINTS, GROUPS, package_sources(MIRROR, f"{MIRROR}/neotechnology.gpg.key"))
    whys = {(r.group, r.port): r.why for r in rules if r.to == "internet"}
    assert whys[("neo4j", 443)] == "packages: artifacts.example.com, PyPI; Snap Store"
    assert whys[("fabric", 443)] == "packages: artifacts.example.com; Snap Store"
    assert not any("debian.neo4j.com" in why for why in whys.values())


def test_a_mirror_on_its_own_port_and_a_key_elsewhere_open_exactly_those():
    sources = package_sources("https://mirror.internal:8443/neo4j", "https://keys.example.com/neo4j.asc")
    for mode in (ENDPOINTS, OPEN):
        rules = {(r.group, r.port): r.why for r in plan_egress(mode, GROUPS, sources) if r.to == "internet"}
        assert rules[("neo4j", 8443)] == rules[("fabric", 8443)] == "packages: mirror.internal port 8443"
        assert ("haproxy", 8443) not in rules and ("monitoring", 8443) not in rules
        if mode == ENDPOINTS:
            assert rules[("neo4j", 443)] == "packages: keys.example.com, PyPI; Snap Store"
            assert rules[("fabric", 443)] == "packages: keys.example.com; Snap Store"
    # Over http (aptRepositoryAllowHttp): port 80 beside the Ubuntu archive, and no Neo4j source on 443.
    rules = {(r.group, r.port): r.why for r in plan_egress(ENDPOINTS, GROUPS, package_sources("http://mirror.internal"))
             if r.to == "internet"}
    assert rules[("neo4j", 80)] == "packages: Ubuntu archive; mirror.internal"
    assert rules[("neo4j", 443)] == "packages: PyPI; Snap Store" and rules[("fabric", 443)] == "packages: Snap Store"


def test_the_plan_summary_says_where_neo4j_comes_from(signing_key):
    assert package_source_lines(make_settings()) == [
        "Neo4j packages (servers): https://debian.neo4j.com (neo4j:aptRepositoryUrl), signing key from "
        "https://debian.neo4j.com/neotechnology.gpg.key"]
    assert package_source_lines(make_settings(aptRepositoryUrl=MIRROR, aptSigningKey=signing_key[0], **FABRIC_44)) == [
        f"Neo4j packages (servers and Fabric proxies): {MIRROR} (neo4j:aptRepositoryUrl), signing key given inline "
        f"(neo4j:aptSigningKey): the boot fetches no key"]
