"""neo4j:plugins on real Neo4j Community servers: the rendered install-plugins.sh copies APOC Core from the
package's labs/ into plugins/, the server starts with our rendered neo4j.conf and apoc.conf (strict validation
on), `apoc.version()` answers, and a plugin procedure outside the rendered allowlist is refused.

Stand-ins, named as such: the Maven artifact of org.neo4j:neo4j (what tests/support/neo4j_dist.py runs) has no
labs/ directory, so each test lays one out as the package has it (`standin_labs`), with the APOC jar of the line
from Maven Central (neo4j_dist.APOC_ARTIFACTS: apoc-core 5.26.5 `core` for 5.26, org.neo4j.procedure:apoc
4.4.0.25 for 4.4) under the name the package gives APOC Core there, `apoc-<version>-core.jar`. The "stray"
plugin (`standin_stray_plugin`) is a one-function jar compiled here against the line's procedure API: a plugin
someone dropped into plugins/ that the stack does not list.

2025: no APOC artifact of the 2025 releases is on Maven Central (org.neo4j.procedure:apoc-core stops at 5.26.19),
so 2025 has no case here (APOC_LINES): its APOC is not tested.

Operations Manual, Configure plugins (5.x): "If xref:...[`dbms.security.procedures.allowlist`] is set in your
configuration, also add the plugin to this setting" and "# * dbms.security.procedures.unrestricted=apoc.*" /
"# * dbms.security.procedures.allowlist=apoc.*"; 4.4's configuration-settings: dbms.security.procedures.allowlist
"A list of procedures (comma separated) that are to be loaded."
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from components.plugins import APOC_KEY
from components.render import render_cluster
from components.settings import load_settings
from components.topology import plan_topology
from tests.support.neo4j_dist import APOC_ARTIFACTS, NEO4J_VERSIONS, apoc_jar, line_of, neo4j_classpath
from tests.support.neo4j_local import STACK_CONFIG, prepare

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "plugins-secret-1"


def standin_labs(home: Path, version: str) -> Path:
    """NEO4J_HOME/labs/ as the package ships it (stand-in): APOC Core from Maven Central, under the package's name."""
    jar = apoc_jar(version)
    assert jar is not None
    release = jar.name.removeprefix("apoc-core-").removeprefix("apoc-").removesuffix("-core.jar").removesuffix(".jar")
    labs = home / "labs"
    labs.mkdir()
    (labs / f"apoc-{release}-core.jar").write_bytes(jar.read_bytes())
    return labs / f"apoc-{release}-core.jar"


def standin_stray_plugin(work: Path, version: str) -> Path:
    """A plugin jar with one function, stray.hello(), compiled against the line's procedure API (stand-in)."""
    source = work / "src" / "stray" / "Hello.java"
    source.parent.mkdir(parents=True)
    source.write_text(textwrap.dedent("""\
        package stray;
        import org.neo4j.procedure.UserFunction;
        public class Hello {
            @UserFunction("stray.hello")
            public String hello() { return "hello"; }
        }
        """))
    classes = work / "classes"
    release = "11" if line_of(version).name == "4.4" else "17"
    subprocess.run(["javac", "--release", release, "-cp", neo4j_classpath(version), "-d", str(classes), str(source)],
                   check=True, capture_output=True, text=True)
    jar = work / "stray-plugin.jar"
    subprocess.run(["jar", "cf", str(jar), "-C", str(classes), "."], check=True, capture_output=True, text=True)
    return jar


def stack_files(version: str) -> dict[str, str]:
    """core-1's rendered files of a standalone community stack of `version` with APOC Core in neo4j:plugins."""
    settings = load_settings("test", {**STACK_CONFIG, "neo4j:tls": "disabled", "neo4j:version": version,
                                      "neo4j:plugins": [APOC_KEY[line_of(version).name]]})
    return render_cluster(settings, plan_topology(settings)).files["core-1"]


def plugins_on_the_classpath(local, version: str) -> None:
    """What the `neo4j` launcher does and our direct `java -cp` launch (neo4j_dist.Neo4jServer) does not: the plugins
    directory's jars join the server's classpath, so a plugin's extensions (APOC's configuration components) load;
    its procedures come from plugins/ either way, through the allowlist. The later -cp replaces the first on the
    java command line. The server's own jars come first here: the Maven APOC of 5.26 is 5.26.5, and its `core` jar
    carries a commons-lang3 of 2020 that, ahead of the server's 3.18, breaks Neo4j 5.26.30's own calls
    (NoSuchMethodError ObjectUtils.getIfNull); the package's labs/ jar is built with its server and has no such
    clash, which is why neo4j:plugins installs that one and nothing downloaded."""
    local.server.jvm_args += ["-cp", f"{neo4j_classpath(version)}:{local.home / 'plugins'}/*"]


def check(local, version: str, *args: str) -> subprocess.CompletedProcess:
    """scripts/check.py against the server, as an operator runs it."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NEO4J_")}
    environment["NEO4J_PASSWORD"] = PASSWORD
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "check.py"), "--uri", local.uri, "--expect-version",
                           version, "--expect-edition", "community", "--tls", "disabled", "--timeout", "30",
                           "--json", *args], env=environment, capture_output=True, text=True, timeout=180, cwd=ROOT)


def install_plugins(script: Path, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(script), str(home)], capture_output=True, text=True, timeout=60)


# The lines with an APOC artifact on Maven Central. Not 2025: org.neo4j.procedure:apoc-core stops at 5.26.19 and
# the package's own labs/ jar is not on Maven, so 2025's APOC is not tested here (a case that could only be
# skipped would be counted as run).
APOC_LINES = [line for line in ("4.4", "5", "2025") if APOC_ARTIFACTS[line] is not None]


@pytest.mark.parametrize("version", [NEO4J_VERSIONS[line] for line in APOC_LINES],
                         ids=["5.26" if line == "5" else line for line in APOC_LINES])
def test_apoc_from_the_package_answers_and_the_allowlist_refuses_a_stray_plugin(version, tmp_path):
    local = prepare(tmp_path / "home", password=PASSWORD, version=version)
    home = local.home
    shipped = standin_labs(home, version)
    stray = standin_stray_plugin(tmp_path / "stray", version)
    (home / "plugins" / stray.name).write_bytes(stray.read_bytes())

    files = stack_files(version)
    script = tmp_path / "install-plugins.sh"
    script.write_text(files["install-plugins.sh"])
    first = install_plugins(script, home)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [f"installed {shipped.name}"]
    assert (home / "plugins" / shipped.name).read_bytes() == shipped.read_bytes()
    again = install_plugins(script, home)  # every boot runs it: nothing changes the second time
    assert (again.returncode, again.stdout) == (0, "")

    conf = files["neo4j.conf"]
    assert "dbms.security.procedures.allowlist=apoc.*\n" in conf
    assert "dbms.security.procedures.unrestricted=apoc.*\n" in conf
    (home / "conf" / "neo4j.conf").write_text(conf)
    (home / "conf" / "apoc.conf").write_text(files["apoc.conf"])
    plugins_on_the_classpath(local, version)

    with local.server:
        local.server.wait_for_bolt(180)
        with local.server.driver() as driver:
            records, _, _ = driver.execute_query("RETURN apoc.version() AS version")
            answered = records[0]["version"]
            assert answered.startswith(shipped.name.removeprefix("apoc-").removesuffix("-core.jar")), answered
            # An unrestricted APOC procedure runs; the built-in procedures are not plugins and stay.
            records, _, _ = driver.execute_query("CALL apoc.help('apoc.version') YIELD name RETURN name")
            assert "apoc.version" in {r["name"] for r in records}
            records, _, _ = driver.execute_query("CALL db.labels() YIELD label RETURN count(label) AS n")
            assert records[0]["n"] >= 0
            # The stray jar sits in plugins/, but stray.* is outside the allowlist: Neo4j does not load it.
            from neo4j.exceptions import ClientError

            with pytest.raises(ClientError, match="stray.hello"):
                driver.execute_query("RETURN stray.hello() AS h")
        # scripts/check.py calls each plugin's version function: APOC's answers for real; GDS, not installed, fails.
        key = APOC_KEY[line_of(version).name]
        result = check(local, version, "--expect-plugin", key, "--expect-plugin", "graph-data-science")
        report = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
        assert result.returncode == 1, result.stdout + result.stderr
        assert report[f"plugin:{key}"]["status"] == "PASS"
        assert report[f"plugin:{key}"]["detail"] == f"{key} {answered} on 127.0.0.1:{local.bolt_port}"
        assert report["plugin:graph-data-science"]["status"] == "FAIL"
        assert "Unknown function 'gds.version'" in report["plugin:graph-data-science"]["detail"]


def test_a_stray_plugin_loads_without_the_allowlist_so_the_refusal_above_is_the_allowlists(tmp_path):
    """The control: the same stray jar, a conf rendered without neo4j:plugins (no allowlist), and stray.hello()
    answers. So the refusal in the test above comes from our allowlist, not from a broken jar."""
    version = NEO4J_VERSIONS["5"]
    local = prepare(tmp_path / "home", password=PASSWORD, version=version)
    stray = standin_stray_plugin(tmp_path / "stray", version)
    (local.home / "plugins" / stray.name).write_bytes(stray.read_bytes())
    assert "dbms.security.procedures.allowlist" not in local.conf
    plugins_on_the_classpath(local, version)
    with local.server:
        local.server.wait_for_bolt(180)
        with local.server.driver() as driver:
            records, _, _ = driver.execute_query("RETURN stray.hello() AS h")
            assert records[0]["h"] == "hello"
