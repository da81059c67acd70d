"""What the neo4j.conf that Neo4j ships would have given a server, per version line and platform.

We write the whole neo4j.conf, so whatever the shipped file set and we do not, a server would lose.
Kept here, as data, with where each list comes from:

- JVM flags: the `server.jvm.additional` (4.4: `dbms.jvm.additional`) lines of the neo4j.conf in
  Neo4j's distributions (packaging/standalone/standalone-community/src/main/distribution/text/
  community/conf/neo4j.conf in github.com/neo4j/neo4j, the same file the Debian package installs as
  /etc/neo4j/neo4j.conf and the Docker image as $NEO4J_HOME/conf/neo4j.conf): the 4.4 list is that
  file's on the 4.4 branch (as a 4.4 Debian server's process list shows it), the 5 list on 5.26,
  and the 2025 list is 5.26's, which the calendar releases ship unchanged apart from additions we
  do not depend on. Every flag runs on the line's Java (4.4: 11, 5.26: 17, 2025: 21); the tests
  start the real Community server of each line with them.
- Directories: the Debian package's values in its /etc/neo4j/neo4j.conf (Operations Manual,
  configuration/file-locations.adoc, "Debian / RPM" column, 4.4 and 5.x). The Docker image's
  entrypoint fills in its own volumes (/data, /logs) for the keys we leave unset, so on the docker
  platform we set only the import directory, which no entrypoint default covers.
- Transaction-log retention: the shipped file sets `2 days 2G` (5.x, 2025) and `1 days` (4.4); our
  default keeps the size cap of the newer file on every line (components/settings.py).
"""
from __future__ import annotations

_COMMON_JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+AlwaysPreTouch",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
)
# Netty buffers, TLS hardening and profiler-friendly frames: the same lines in every shipped file.
_NETTY_TLS_PROFILING_FLAGS = (
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "-XX:FlightRecorderOptions=stackdepth=256",
    "-XX:+UnlockDiagnosticVMOptions",
    "-XX:+DebugNonSafepoints",
)

SHIPPED_JVM_FLAGS: dict[str, tuple[str, ...]] = {
    "4.4": _COMMON_JVM_FLAGS + (
        "-XX:MaxInlineLevel=15",
        "-XX:-UseBiasedLocking",
        "-Djdk.nio.maxCachedBufferSize=262144",
    ) + _NETTY_TLS_PROFILING_FLAGS + (
        "-Dlog4j2.disable.jmx=true",
    ),
    "5": _COMMON_JVM_FLAGS + (
        "-Djdk.nio.maxCachedBufferSize=1024",
    ) + _NETTY_TLS_PROFILING_FLAGS + (
        "--add-opens=java.base/java.nio=ALL-UNNAMED",
        "--add-opens=java.base/java.io=ALL-UNNAMED",
        "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
        "--enable-native-access=ALL-UNNAMED",
        "-Dlog4j2.disable.jmx=true",
        "-Dlog4j.layout.jsonTemplate.maxStringLength=32768",
    ),
}
SHIPPED_JVM_FLAGS["2025"] = SHIPPED_JVM_FLAGS["5"]

# Where the Debian package puts things (/etc/neo4j/neo4j.conf as installed).
_DEBIAN_DIRECTORIES = {
    "4.4": (
        ("dbms.directories.data", "/var/lib/neo4j/data"),
        ("dbms.directories.plugins", "/var/lib/neo4j/plugins"),
        ("dbms.directories.logs", "/var/log/neo4j"),
        ("dbms.directories.lib", "/usr/share/neo4j/lib"),
        ("dbms.directories.run", "/var/lib/neo4j/run"),
        ("dbms.directories.import", "/var/lib/neo4j/import"),
    ),
    "5": (
        ("server.directories.data", "/var/lib/neo4j/data"),
        ("server.directories.plugins", "/var/lib/neo4j/plugins"),
        ("server.directories.logs", "/var/log/neo4j"),
        ("server.directories.lib", "/usr/share/neo4j/lib"),
        ("server.directories.run", "/var/lib/neo4j/run"),
        ("server.directories.import", "/var/lib/neo4j/import"),
        # The log4j configurations the package installs beside neo4j.conf.
        ("server.logs.config", "/etc/neo4j/server-logs.xml"),
        ("server.logs.user.config", "/etc/neo4j/user-logs.xml"),
    ),
}
_DEBIAN_DIRECTORIES["2025"] = _DEBIAN_DIRECTORIES["5"]

# The official image: NEO4J_HOME=/var/lib/neo4j, whose import directory exists in every image.
_DOCKER_DIRECTORIES = {
    "4.4": (("dbms.directories.import", "/var/lib/neo4j/import"),),
    "5": (("server.directories.import", "/var/lib/neo4j/import"),),
}
_DOCKER_DIRECTORIES["2025"] = _DOCKER_DIRECTORIES["5"]

# The keystore of the AES key remote aliases' credentials are encrypted with (neo4j:composites; components/databases.py
# KEY_NAME), in Neo4j's conf directory: the Debian package's /etc/neo4j, the image's $NEO4J_HOME/conf. The manual
# (remote-database-alias-configuration.adoc): "the keystore file must be stored in a trusted location ... It
# shouldn't be accessible to any user except for the administrator and `neo4j`": each platform writes it 0600 neo4j's.
ALIAS_KEYSTORE_PATH = {"aws": "/etc/neo4j/aliases.pkcs12", "docker": "/var/lib/neo4j/conf/aliases.pkcs12"}

IMPORT_DIRECTORY_KEY = {"4.4": "dbms.directories.import", "5": "server.directories.import",
                        "2025": "server.directories.import"}


def directories(platform: str, line: str) -> tuple[tuple[str, str], ...]:
    """(key, path) of every directory setting the server's conf must carry on that platform."""
    return (_DEBIAN_DIRECTORIES if platform == "aws" else _DOCKER_DIRECTORIES)[line]


def _option(flag: str) -> str:
    """What a flag sets: -XX:+Foo, -XX:-Foo and -XX:Foo=1 all set XX:Foo; -Dkey=v sets D:key."""
    if flag.startswith("-XX:"):
        return "XX:" + flag[4:].lstrip("+-").split("=", 1)[0]
    if flag.startswith("-D"):
        return "D:" + flag[2:].split("=", 1)[0]
    return flag  # --add-opens=… and the like may repeat: each is its own option


def jvm_flags(line: str, ours: tuple[str, ...]) -> tuple[str, ...]:
    """The shipped flags, then ours; a flag of ours replaces a shipped one that sets the same option."""
    mine = {_option(flag) for flag in ours}
    return tuple(flag for flag in SHIPPED_JVM_FLAGS[line] if _option(flag) not in mine) + ours
