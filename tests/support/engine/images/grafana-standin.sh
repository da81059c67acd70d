#!/bin/sh
# GRAFANA STAND-IN of the engine tests' local builds (tests/support/engine/stack_images.py): Grafana is not in
# Debian's archive and no image registry is reachable. It starts only when the provisioning files the real image
# reads are in place (our uploads), then answers /api/health on Grafana's port (the container's health check).
set -- @NEEDED@
for file in "$@"; do
    if [ ! -r "$file" ]; then
        echo "grafana stand-in: $file is missing or unreadable (uid $(id -u 2>/dev/null || echo ?))" >&2
        exit 1
    fi
done
if [ -n "${GF_SECURITY_ADMIN_PASSWORD__FILE:-}" ] && [ ! -r "$GF_SECURITY_ADMIN_PASSWORD__FILE" ]; then
    echo "grafana stand-in: GF_SECURITY_ADMIN_PASSWORD__FILE=$GF_SECURITY_ADMIN_PASSWORD__FILE is not readable" >&2
    exit 1
fi
echo "grafana stand-in: provisioning in place; answering /api/health on :@PORT@"
exec httpd -f -p @PORT@ -h /usr/share/grafana-standin/www
