#!/usr/bin/env bash
# The production services on this machine: Debian's PostgreSQL and RabbitMQ, started WITHOUT systemd, RabbitMQ with
# consumer_timeout disabled (long workflows), and (optionally) a core.psql_dos + RabbitMQ AiiDA profile.
#
#   tests/integration/postgres/setup_services.sh                    install (if needed), configure, start the services
#   tests/integration/postgres/setup_services.sh --profile NAME     ... and create the profile NAME (own PostgreSQL
#                                                                   user and database), its computer, codes, daemon
#   tests/integration/postgres/setup_services.sh --stop             stop RabbitMQ and PostgreSQL
#   tests/integration/postgres/setup_services.sh --status           what runs
#
# Idempotent: installed packages, an existing database cluster, running services, an existing profile are kept.
# Environment: RABBITMQ_PORT (default: the port this script configured before, else 5672), AIIDA_PATH (where the
# profile is written, as for verdi), GAPRSS_SETUP_OPTIONS (extra options of `gaprss setup`, e.g. --no-pseudos).
set -euo pipefail

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
if [ -z "${RABBITMQ_PORT:-}" ] && grep -qF '# written by aiida-gaprss' /etc/rabbitmq/rabbitmq.conf 2>/dev/null; then
  RABBITMQ_PORT=$(awk -F'= *' '/^listeners.tcp.default/ {print $2}' /etc/rabbitmq/rabbitmq.conf)  # keep the port
fi
RABBITMQ_PORT=${RABBITMQ_PORT:-5672}
MARKER='%% written by aiida-gaprss tests/integration/postgres/setup_services.sh'
log() { echo "==> $*"; }

pg_cluster() {  # "<version> <name>" of the first cluster, empty if none
  pg_lsclusters -h 2>/dev/null | awk 'NR==1 {print $1, $2}'
}

rabbit_up() { $SUDO rabbitmqctl -q status >/dev/null 2>&1; }

stop_all() {
  if command -v rabbitmqctl >/dev/null && rabbit_up; then log "stopping RabbitMQ"; $SUDO rabbitmqctl -q stop || true; fi
  read -r version name <<<"$(pg_cluster)"
  if [ -n "${version:-}" ] && pg_lsclusters -h | awk '{print $4}' | grep -q online; then
    log "stopping PostgreSQL $version/$name"
    $SUDO pg_ctlcluster "$version" "$name" stop
  fi
  log "stopped"
}

PROFILE=""
case "${1:-}" in
  --stop) stop_all; exit 0 ;;
  --status)
    pg_lsclusters 2>/dev/null || echo "PostgreSQL not installed"
    if command -v rabbitmqctl >/dev/null && rabbit_up; then
      echo "RabbitMQ running: $($SUDO rabbitmqctl -q eval 'application:get_env(rabbit, consumer_timeout).')"
    else echo "RabbitMQ not running"; fi
    exit 0 ;;
  --profile) PROFILE=${2:?--profile needs a name}
    [[ "$PROFILE" =~ ^[a-z][a-z0-9_]{0,40}$ ]] || { echo "profile name: lower-case letters, digits, _ only" >&2; exit 2; } ;;
  "") ;;
  *) echo "unknown option: $1 (use --profile NAME, --stop or --status)" >&2; exit 2 ;;
esac

START=$(date +%s)

# 1. Packages (policy-rc.d / no systemd: the postinst scripts start nothing).
missing=""
for p in postgresql rabbitmq-server; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  log "apt-get install$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
log "packages ready ($(( $(date +%s) - START )) s): $(dpkg-query -W -f='${Package} ${Version}  ' postgresql rabbitmq-server)"

# 2. PostgreSQL: the packaged cluster, started with pg_ctlcluster.
if [ -z "$(pg_cluster)" ]; then
  version=$(ls /usr/lib/postgresql | sort -n | tail -n1)
  log "creating PostgreSQL cluster $version/main"
  $SUDO pg_createcluster "$version" main
fi
read -r PG_VERSION PG_NAME <<<"$(pg_cluster)"
if pg_lsclusters -h | awk -v v="$PG_VERSION" -v n="$PG_NAME" '$1==v && $2==n {print $4}' | grep -q online; then
  log "PostgreSQL $PG_VERSION/$PG_NAME runs already"
else
  log "starting PostgreSQL $PG_VERSION/$PG_NAME"
  $SUDO pg_ctlcluster "$PG_VERSION" "$PG_NAME" start
fi
PG_PORT=$(pg_lsclusters -h | awk -v v="$PG_VERSION" -v n="$PG_NAME" '$1==v && $2==n {print $3}')

# 3. RabbitMQ: consumer_timeout disabled. RabbitMQ 3.10 (bookworm) accepts `undefined` only in advanced.config (the
#    rabbitmq.conf key takes milliseconds); the port goes to rabbitmq.conf.
$SUDO install -d -m 0755 /etc/rabbitmq
ADVANCED=/etc/rabbitmq/advanced.config
if [ -f "$ADVANCED" ] && ! grep -qF "$MARKER" "$ADVANCED"; then
  grep -q 'consumer_timeout, *undefined' "$ADVANCED" || {
    echo "$ADVANCED exists without {consumer_timeout, undefined}: add it by hand (see docs/cluster.md)" >&2; exit 1; }
else
  printf '%s\n[\n  {rabbit, [\n    {consumer_timeout, undefined}\n  ]}\n].\n' "$MARKER" | $SUDO tee "$ADVANCED" >/dev/null
fi
CONF=/etc/rabbitmq/rabbitmq.conf
WANT="# written by aiida-gaprss tests/integration/postgres/setup_services.sh
listeners.tcp.default = $RABBITMQ_PORT"
RESTART=0
if [ ! -f "$CONF" ] || grep -qF '# written by aiida-gaprss' "$CONF"; then
  if [ "$(cat "$CONF" 2>/dev/null)" != "$WANT" ]; then echo "$WANT" | $SUDO tee "$CONF" >/dev/null; RESTART=1; fi
else
  echo "$CONF was not written by this script: kept (its port is used)" >&2
fi
if rabbit_up && [ "$RESTART" = 1 ]; then log "RabbitMQ configuration changed: restarting"; $SUDO rabbitmqctl -q stop; fi
if rabbit_up; then
  log "RabbitMQ runs already"
else
  log "starting RabbitMQ (port $RABBITMQ_PORT)"
  $SUDO rabbitmq-server -detached
fi
# `rabbitmq-server -detached` returns before the node has registered with epmd, and await_startup fails at once on a
# node it cannot reach ("node 'rabbit' not running at all"): wait until the node answers, then until it has booted.
for _ in $(seq 120); do $SUDO rabbitmqctl -q ping >/dev/null 2>&1 && break; sleep 1; done
$SUDO rabbitmqctl -q await_startup --timeout 120
TIMEOUT=$($SUDO rabbitmqctl -q eval 'application:get_env(rabbit, consumer_timeout).')
[ "$TIMEOUT" = '{ok,undefined}' ] || { echo "consumer_timeout is $TIMEOUT, not disabled" >&2; exit 1; }
log "RabbitMQ ready: consumer_timeout $TIMEOUT; $($SUDO rabbitmq-diagnostics -q listeners | grep 'protocol: amqp,' | cut -d, -f1-2)"
log "services ready in $(( $(date +%s) - START )) s"

# 4. Optional profile: its own PostgreSQL user/database, core.psql_dos + core.rabbitmq, then gaprss setup.
if [ -n "$PROFILE" ]; then
  VERDI=${VERDI:-$(command -v verdi)}
  GAPRSS=${GAPRSS:-$(command -v gaprss)}
  if "$VERDI" profile list 2>/dev/null | grep -qw "$PROFILE"; then
    log "profile $PROFILE exists"
  else
    PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    log "creating PostgreSQL user and database $PROFILE"
    $SUDO runuser -u postgres -- psql -q -p "$PG_PORT" -v ON_ERROR_STOP=1 <<EOF
DO \$\$ BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = '$PROFILE') THEN ALTER ROLE $PROFILE PASSWORD '$PASSWORD';
  ELSE CREATE ROLE $PROFILE LOGIN PASSWORD '$PASSWORD'; END IF;
END \$\$;
EOF
    if ! $SUDO runuser -u postgres -- psql -p "$PG_PORT" -tAc "SELECT 1 FROM pg_database WHERE datname='$PROFILE'" | grep -q 1; then
      $SUDO runuser -u postgres -- createdb -p "$PG_PORT" -O "$PROFILE" -E UTF8 -T template0 "$PROFILE"
    fi
    CONFIG_DIR=${AIIDA_PATH:-$HOME}/.aiida
    log "verdi profile setup core.psql_dos $PROFILE"
    "$VERDI" profile setup core.psql_dos -n --profile-name "$PROFILE" --no-set-as-default \
      --email "$PROFILE@localhost" --first-name GAP --last-name RSS --institution aiida-gaprss --broker none \
      --database-hostname localhost --database-port "$PG_PORT" --database-name "$PROFILE" \
      --database-username "$PROFILE" --database-password "$PASSWORD" \
      --repository-uri "file://$CONFIG_DIR/repository/$PROFILE"
  fi
  "$VERDI" profile configure-broker core.rabbitmq -n -f --broker-host 127.0.0.1 --broker-port "$RABBITMQ_PORT" "$PROFILE"
  # consumer_timeout is disabled above, which is what AiiDA's RabbitMQ version warning is about
  "$VERDI" -p "$PROFILE" config set warnings.rabbitmq_version False
  log "gaprss setup -p $PROFILE"
  "$GAPRSS" setup -p "$PROFILE" ${GAPRSS_SETUP_OPTIONS:-}
  "$VERDI" -p "$PROFILE" status || true
  log "profile $PROFILE ready in $(( $(date +%s) - START )) s"
fi
echo "stop the services with: $0 --stop"
