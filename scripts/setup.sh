#!/usr/bin/env bash
# Installs what fleetstream's quick start and tests need on Debian/Ubuntu, without touching the
# system's apt sources:
#   - npm packages (npm ci)
#   - nats-server >= 2.10: from PATH if new enough, else Debian trixie's 2.10.27 fetched with a private
#     apt list folder and unpacked with dpkg-deb into .tools/ (no system package is changed)
#   - mosquitto, victoria-metrics and influxdb (1.x) from the system's own Debian packages
#   - prometheus and promtool (tests of the compose stack's Prometheus config, alert rules and the
#     pipeline-health dashboard's queries): the system's Debian package, downloaded and unpacked into
#     .tools/ (not installed: no service)
#   - Docker Compose v2: from PATH if there, else Debian trixie's, unpacked into .tools/ like nats-server;
#     no Docker engine is needed or started: the tests have Compose read and resolve compose.yaml
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=$ROOT/.tools
mkdir -p "$TOOLS/bin"

log() { printf '[setup] %s\n' "$*" >&2; }
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

nats_ok() { # $1 = binary; true when it is nats-server >= 2.10
  local v
  v=$("$1" --version 2>/dev/null | sed -n 's/.*v\([0-9]*\)\.\([0-9]*\).*/\1 \2/p') || return 1
  [ -n "$v" ] || return 1
  set -- $v
  [ "$1" -gt 2 ] || { [ "$1" -eq 2 ] && [ "$2" -ge 10 ]; }
}

# --- npm packages
if [ ! -d node_modules/.bin ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# --- Debian packages
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v victoria-metrics >/dev/null 2>&1 || need+=(victoria-metrics)
command -v influxd >/dev/null 2>&1 || need+=(influxdb)
command -v dpkg-deb >/dev/null 2>&1 || need+=(dpkg)
# The trixie list below is signed with Debian's key: Ubuntu does not have it unless this package is in.
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
if [ ${#need[@]} -gt 0 ]; then
  log "apt-get install ${need[*]}"
  $SUDO apt-get update -qq
  # policy-rc.d may refuse to start the services: fine, tests start their own.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Debian trixie's packages, downloaded with a private apt list folder and unpacked into .tools/
# (no system package or apt source is changed). $1 = package, $2 = file in it, $3 = where it goes.
trixie_fetch() {
  local APT=$TOOLS/apt
  local aptopts=(-o Dir::Etc::SourceList="$APT/trixie.sources" -o Dir::Etc::SourceParts=/dev/null
                 -o Dir::State::Lists="$APT/lists" -o Dir::Cache="$APT/cache" -o Debug::NoLocking=1
                 -o APT::Sandbox::User=root)
  mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial"
  cat > "$APT/trixie.sources" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  # Every time: a list kept from an earlier run may name a version the mirror no longer has.
  apt-get "${aptopts[@]}" update -qq
  rm -rf "$APT/deb" "$APT/x" && mkdir -p "$APT/deb"
  (cd "$APT/deb" && apt-get "${aptopts[@]}" download "$1" >/dev/null)
  dpkg-deb -x "$APT"/deb/"$1"_*.deb "$APT/x"
  cp "$APT/x/$2" "$3"
  chmod +x "$3"
  rm -rf "$APT/deb" "$APT/x"
}

# --- nats-server >= 2.10
if nats_ok "$TOOLS/bin/nats-server"; then
  :
elif command -v nats-server >/dev/null 2>&1 && nats_ok "$(command -v nats-server)"; then
  ln -sf "$(command -v nats-server)" "$TOOLS/bin/nats-server"
else
  log "fetching nats-server 2.10 from Debian trixie into .tools/"
  trixie_fetch nats-server usr/sbin/nats-server "$TOOLS/bin/nats-server"
fi
nats_ok "$TOOLS/bin/nats-server" || { log "nats-server >= 2.10 could not be installed"; exit 1; }

# --- prometheus + promtool, unpacked (no service)
if [ ! -x "$TOOLS/bin/promtool" ] || [ ! -x "$TOOLS/bin/prometheus" ]; then
  log "fetching prometheus (with promtool) from Debian into .tools/"
  PD=$TOOLS/prometheus-deb
  rm -rf "$PD" && mkdir -p "$PD"
  (cd "$PD" && { apt-get download prometheus >/dev/null 2>&1 || { $SUDO apt-get update -qq && apt-get download prometheus >/dev/null 2>&1; }; })
  dpkg-deb -x "$PD"/prometheus_*.deb "$PD/x"
  cp "$PD/x/usr/bin/prometheus" "$PD/x/usr/bin/promtool" "$TOOLS/bin/"
  rm -rf "$PD"
fi
# --- Docker Compose v2 (no engine needed: the tests have it read and resolve compose.yaml)
compose_ok() { # $1 = binary; true when it is Compose >= 2
  "$1" version --short 2>/dev/null | grep -Eq '^v?([2-9]|[1-9][0-9])\.'
}
if ! compose_ok "$TOOLS/bin/docker-compose"; then
  if command -v docker-compose >/dev/null 2>&1 && compose_ok "$(command -v docker-compose)"; then
    ln -sf "$(command -v docker-compose)" "$TOOLS/bin/docker-compose"
  else
    log "fetching Docker Compose v2 from Debian trixie into .tools/"
    trixie_fetch docker-compose usr/libexec/docker/cli-plugins/docker-compose "$TOOLS/bin/docker-compose"
  fi
fi
log "ready: $("$TOOLS/bin/nats-server" --version), mosquitto, victoria-metrics, influxd $(influxd version 2>/dev/null | head -1 | awk '{print $2}'), prometheus $("$TOOLS/bin/prometheus" --version 2>&1 | head -1 | awk '{print $3}'), compose $("$TOOLS/bin/docker-compose" version --short)"
