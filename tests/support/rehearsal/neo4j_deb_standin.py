"""The Neo4j Debian package STAND-IN: a `neo4j` package built from the Maven Central distribution of Neo4j
Community (the jars tests/support/neo4j_dist.py resolves into ~/.m2), laid out as Neo4j's own package is, so the
boot scripts install, configure and run it as on Ubuntu with debian.neo4j.com.

The layout (Operations Manual, "Default file locations", Debian / RPM column; and the package's unit as
`systemctl cat neo4j` shows it on a machine):
- the neo4j system user and group, owning /var/lib/neo4j (NEO4J_HOME: data, import, plugins, certificates, run,
  licenses) and /var/log/neo4j;
- /etc/neo4j: neo4j.conf, server-logs.xml, user-logs.xml, all conffiles;
- /usr/share/neo4j/lib (the jars) and /usr/share/neo4j/bin; neo4j and neo4j-admin in /usr/bin, run with
  NEO4J_CONF=/etc/neo4j and NEO4J_HOME=/var/lib/neo4j;
- /lib/systemd/system/neo4j.service: `neo4j console` as neo4j, enabled and started by the maintainer script
  through deb-systemd-invoke, which honours policy-rc.d (setup-neo4j.sh relies on that).
What it lacks, said here: cypher-shell (Neo4j's package depends on the separate cypher-shell package; no Maven
artifact of it is resolved here), the browser, the man pages, and Neo4j's own log layouts (the log configs below
are plain Log4j 2 patterns writing the same files).
What it adds, said here too: its launchers export JAVA_TOOL_OPTIONS=-XX:TieredStopAtLevel=1 (C1 only), the test
machine's JVM option that the tests' own servers have; each JVM notes it on its standard error ("Picked up
JAVA_TOOL_OPTIONS"). The rehearsal module spent ~10% less CPU with it (measured 2026-12-07).

Built once per version and recipe into the tests' cache (rehearsal/apt/).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import textwrap
from pathlib import Path

from tests.support.neo4j_dist import cache_root, neo4j_classpath

PACKAGE = "neo4j"
RECIPE = 1  # bumped when the package's content changes in a way the version does not show
MAINTAINER = "neo4j-cluster boot rehearsal <rehearsal@neo4j-cluster.invalid>"

UNIT = """\
[Unit]
Description=Neo4j Graph Database (rehearsal stand-in package)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/usr/share/neo4j/bin/neo4j console
Restart=on-abnormal
User=neo4j
Group=neo4j
Environment="NEO4J_CONF=/etc/neo4j" "NEO4J_HOME=/var/lib/neo4j"
LimitNOFILE=60000
TimeoutSec=120

[Install]
WantedBy=multi-user.target
"""

# The distribution's launchers run the bootloader (org.neo4j.server.startup.Neo4jCommand / Neo4jAdminCommand),
# which forks the server or the admin command with the options of neo4j.conf.
LAUNCHER = """\
#!/bin/sh
# STAND-IN for Neo4j's {command} launcher (tests/support/rehearsal/neo4j_deb_standin.py).
: "${{NEO4J_HOME:=/var/lib/neo4j}}"
: "${{NEO4J_CONF:=/etc/neo4j}}"
export NEO4J_HOME NEO4J_CONF
# A test-machine JVM option, as the tests' own servers have (tests/support/neo4j_local.py TEST_JVM_ARGS): C1 only,
# for this launcher's JVM and the server or admin JVM it forks (they inherit the variable).
JAVA_TOOL_OPTIONS="-XX:TieredStopAtLevel=1${{JAVA_TOOL_OPTIONS:+ $JAVA_TOOL_OPTIONS}}"
export JAVA_TOOL_OPTIONS
exec "${{JAVA_HOME:+$JAVA_HOME/bin/}}java" -cp '/usr/share/neo4j/lib/*' {main_class} "$@"
"""
ON_PATH = """\
#!/bin/sh
NEO4J_CONF=${{NEO4J_CONF:-/etc/neo4j}} NEO4J_HOME=${{NEO4J_HOME:-/var/lib/neo4j}} \\
    exec /usr/share/neo4j/bin/{command} "$@"
"""
MAIN_CLASSES = {"neo4j": "org.neo4j.server.startup.Neo4jCommand",
                "neo4j-admin": "org.neo4j.server.startup.Neo4jAdminCommand"}

DEFAULT_CONF = """\
# neo4j.conf of the rehearsal's STAND-IN package: the directories of Neo4j's Debian package.
server.directories.data=/var/lib/neo4j/data
server.directories.plugins=/var/lib/neo4j/plugins
server.directories.logs=/var/log/neo4j
server.directories.lib=/usr/share/neo4j/lib
server.directories.run=/var/lib/neo4j/run
server.directories.import=/var/lib/neo4j/import
server.logs.config=/etc/neo4j/server-logs.xml
server.logs.user.config=/etc/neo4j/user-logs.xml
"""


def _rolling(name: str, file: str) -> str:
    return (f'    <RollingRandomAccessFile name="{name}" fileName="${{config:server.directories.logs}}/{file}" '
            f'filePattern="${{config:server.directories.logs}}/{file}.%02i">\n'
            '      <PatternLayout pattern="%d{yyyy-MM-dd HH:mm:ss.SSSZ}{GMT+0} %-5p [%c{1.}] %m%n"/>\n'
            '      <Policies><SizeBasedTriggeringPolicy size="20 MB"/></Policies>\n'
            '      <DefaultRolloverStrategy fileIndex="min" max="7"/>\n'
            '    </RollingRandomAccessFile>\n')


# Log4j 2 configurations writing the files Neo4j's own write (debug, http, query, security; neo4j.log), with
# plain patterns: neo4j-failed-logins.sh reads security.log's messages, not its layout.
SERVER_LOGS = ('<?xml version="1.0" encoding="UTF-8"?>\n<!-- STAND-IN (rehearsal): Neo4j server logs -->\n'
               '<Configuration status="ERROR" monitorInterval="30" packages="org.neo4j.logging.log4j">\n'
               '  <Appenders>\n' + _rolling("DebugLog", "debug.log") + _rolling("HttpLog", "http.log")
               + _rolling("QueryLog", "query.log") + _rolling("SecurityLog", "security.log") + '  </Appenders>\n'
               '  <Loggers>\n'
               '    <Root level="INFO"><AppenderRef ref="DebugLog"/></Root>\n'
               '    <Logger name="HttpLogger" level="INFO" additivity="false"><AppenderRef ref="HttpLog"/></Logger>\n'
               '    <Logger name="QueryLogger" level="INFO" additivity="false"><AppenderRef ref="QueryLog"/></Logger>\n'
               '    <Logger name="SecurityLogger" level="INFO" additivity="false">'
               '<AppenderRef ref="SecurityLog"/></Logger>\n'
               '  </Loggers>\n</Configuration>\n')
USER_LOGS = ('<?xml version="1.0" encoding="UTF-8"?>\n<!-- STAND-IN (rehearsal): Neo4j user log -->\n'
             '<Configuration status="ERROR" monitorInterval="30" packages="org.neo4j.logging.log4j">\n'
             '  <Appenders>\n' + _rolling("Neo4jLog", "neo4j.log")
             + '    <Console name="ConsoleAppender" target="SYSTEM_OUT">\n'
             '      <PatternLayout pattern="%d{yyyy-MM-dd HH:mm:ss.SSSZ}{GMT+0} %-5p %m%n"/>\n'
             '    </Console>\n  </Appenders>\n'
             '  <Loggers>\n    <Root level="INFO"><AppenderRef ref="Neo4jLog"/><AppenderRef ref="ConsoleAppender"/>'
             '</Root>\n  </Loggers>\n</Configuration>\n')

POSTINST = """\
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    getent group neo4j >/dev/null || groupadd --system neo4j
    getent passwd neo4j >/dev/null || useradd --system --gid neo4j --home-dir /var/lib/neo4j --no-create-home \\
        --shell /bin/bash neo4j
    chown -R neo4j:neo4j /var/lib/neo4j /var/log/neo4j
    chown neo4j:adm /etc/neo4j/neo4j.conf /etc/neo4j/server-logs.xml /etc/neo4j/user-logs.xml
fi
# As debhelper's systemd snippets: enabled, then started through deb-systemd-invoke (policy-rc.d may say no).
if [ -d /run/systemd/system ]; then
    deb-systemd-helper enable neo4j.service >/dev/null || true
    systemctl --system daemon-reload >/dev/null || true
    deb-systemd-invoke start neo4j.service >/dev/null || true
fi
"""
PRERM = """\
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    deb-systemd-invoke stop neo4j.service >/dev/null || true
fi
"""


def deb_version(version: str) -> str:
    return f"1:{version}"  # the epoch of Neo4j's packages (setup-neo4j.sh installs neo4j=1:<version>)


def recipe_key(version: str) -> str:
    recipe = {"version": version, "recipe": RECIPE, "unit": UNIT, "launcher": LAUNCHER, "on_path": ON_PATH,
              "conf": DEFAULT_CONF, "server_logs": SERVER_LOGS, "user_logs": USER_LOGS, "postinst": POSTINST,
              "prerm": PRERM}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def build_deb(version: str, out_dir: Path) -> Path:
    """The stand-in package of `version` in out_dir (built when missing); its path."""
    deb = out_dir / f"{PACKAGE}_{version}_all.deb"
    if deb.exists():
        return deb
    jars = [Path(entry) for entry in neo4j_classpath(version).split(":") if entry.endswith(".jar")]
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix="build-") as work:
        root = Path(work) / "root"
        lib = root / "usr/share/neo4j/lib"
        lib.mkdir(parents=True)
        for jar in jars:
            shutil.copyfile(jar, lib / jar.name)
        for command, main_class in MAIN_CLASSES.items():
            _write(root / "usr/share/neo4j/bin" / command, LAUNCHER.format(command=command, main_class=main_class),
                   0o755)
            _write(root / "usr/bin" / command, ON_PATH.format(command=command), 0o755)
        _write(root / "etc/neo4j/neo4j.conf", DEFAULT_CONF)
        _write(root / "etc/neo4j/server-logs.xml", SERVER_LOGS)
        _write(root / "etc/neo4j/user-logs.xml", USER_LOGS)
        _write(root / "lib/systemd/system/neo4j.service", UNIT)
        for directory in ("data", "import", "plugins", "certificates", "run", "licenses", "products"):
            (root / "var/lib/neo4j" / directory).mkdir(parents=True)
        (root / "var/log/neo4j").mkdir(parents=True)
        size_kb = sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) // 1024
        control = textwrap.dedent(f"""\
            Package: {PACKAGE}
            Version: {deb_version(version)}
            Architecture: all
            Maintainer: {MAINTAINER}
            Installed-Size: {size_kb}
            Depends: openjdk-17-jre-headless | java17-runtime-headless
            Section: database
            Priority: optional
            Description: STAND-IN of Neo4j Community {version} for the boot rehearsal
             Built from the Maven Central distribution by tests/support/rehearsal/neo4j_deb_standin.py,
             laid out as Neo4j's Debian package. Not Neo4j's package; never for a real machine.
            """)
        _write(root / "DEBIAN/control", control)
        _write(root / "DEBIAN/conffiles",
               "/etc/neo4j/neo4j.conf\n/etc/neo4j/server-logs.xml\n/etc/neo4j/user-logs.xml\n")
        _write(root / "DEBIAN/postinst", POSTINST, 0o755)
        _write(root / "DEBIAN/prerm", PRERM, 0o755)
        partial = deb.with_suffix(".partial")
        # The jars are compressed already: gzip -1 costs seconds, xz would cost minutes for nothing.
        result = subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "--build", str(root),
                                 str(partial)], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"rehearsal: dpkg-deb could not build the stand-in package: {result.stderr.strip()}")
        partial.rename(deb)
    return deb


def cached_deb(version: str) -> Path:
    return build_deb(version, cache_root() / "rehearsal" / "apt" / f"deb-{version}-{recipe_key(version)}")
