#!/bin/bash
# ENTRYPOINT STAND-IN of the engine tests' local neo4j build (tests/support/engine/stack_images.py): what
# docker-neo4j's docker-image-src/5/coredb/docker-entrypoint.sh does of what our containers rely on
# (components/docker/servers.py), in its order. What it does not do is refused by name, never skipped:
# NEO4J_PLUGINS, settings from NEO4J_* variables, NEO4J_AUTH, the mounted /conf, /ssl, /plugins folders.
set -euo pipefail

cmd="${1:-neo4j}"
conf="${NEO4J_HOME}/conf/neo4j.conf"
refuse() { echo >&2 "neo4j entrypoint stand-in: $* is not done by this local build"; exit 1; }

[ "$(id -u)" = 0 ] || refuse "running as a user other than root (--user)"
for folder in /conf /ssl /plugins; do
    [ ! -d "$folder" ] || refuse "the mounted folder $folder"
done
[ -z "${NEO4J_PLUGINS:-}" ] || refuse "NEO4J_PLUGINS"
[ -z "${NEO4J_AUTH:-}" ] || refuse "NEO4J_AUTH (give NEO4J_AUTH_PATH)"
while IFS='=' read -r name _; do
    case "$name" in
        NEO4J_HOME|NEO4J_EDITION|NEO4J_AUTH_PATH|NEO4J_ACCEPT_LICENSE_AGREEMENT) ;;
        NEO4J_*) refuse "the setting variable $name" ;;
    esac
done < <(env)

# "Need to chown the home directory": the entrypoint, as root, makes NEO4J_HOME neo4j's alone, conf files 0600.
chown -R neo4j:neo4j "${NEO4J_HOME}"
chmod 700 "${NEO4J_HOME}"
find "${NEO4J_HOME}" -mindepth 1 -maxdepth 1 -type d -exec chmod -R 700 {} \;
find "${NEO4J_HOME}/conf" -type f -exec chmod 600 {} \;

# check_mounted_folder_writable_with_chown /logs and /data: a mounted volume not writable by neo4j is chowned.
for folder in /logs /data; do
    if [ -n "$(find "$folder" ! -user neo4j -print -quit)" ]; then
        echo "Warning: Folder mounted to \"$folder\" is not writable from inside container. Changing folder owner to neo4j."
        chown -R neo4j:neo4j "$folder"
    fi
done

# add_docker_default_to_conf: appended only where neo4j.conf leaves the key unset.
docker_default() {
    grep -q "^$1=" "$conf" || printf '\n%s=%s\n' "$1" "$2" >> "$conf"
}
docker_default server.memory.pagecache.size 512M
docker_default server.default_listen_address 0.0.0.0
# ": ${NEO4J_server_directories_logs:="/logs"}" becomes a setting from the environment, which replaces the file's.
sed -i '/^server\.directories\.logs=.*/d' "$conf"
echo "server.directories.logs=/logs" >> "$conf"

# SET PASSWORD from NEO4J_AUTH_PATH: "neo4j/<password>", set as the initial password by neo4j-admin as neo4j.
if [ -n "${NEO4J_AUTH_PATH:-}" ] && [ "$cmd" = neo4j ]; then
    [ -f "$NEO4J_AUTH_PATH" ] || { echo >&2 "The password file '$NEO4J_AUTH_PATH' does not exist"; exit 1; }
    auth="$(cat "$NEO4J_AUTH_PATH")"
    if [[ ! "$auth" =~ ^neo4j/([^/]+)$ ]]; then
        echo >&2 "Invalid value in NEO4J_AUTH_PATH's file: it must be neo4j/<password>"
        exit 1
    fi
    mkdir -p /data/dbms
    chown neo4j:neo4j /data/dbms
    setpriv --reuid=neo4j --regid=neo4j --init-groups neo4j-admin dbms set-initial-password "${BASH_REMATCH[1]}"
fi

rm -f "${NEO4J_HOME}/run/neo4j.pid"
if [ -f "${EXTENSION_SCRIPT:-}" ]; then
    # shellcheck disable=SC1090  # the container's own script, named by its environment
    . "${EXTENSION_SCRIPT}"
fi

if [ "$cmd" = neo4j ]; then
    # The server's own java command line, from the bootloader (as the entrypoint's get_neo4j_run_cmd), run as neo4j.
    console="$(setpriv --reuid=neo4j --regid=neo4j --init-groups neo4j console --dry-run)"
    eval exec setpriv --reuid=neo4j --regid=neo4j --init-groups "$console"
fi
exec "$@"
