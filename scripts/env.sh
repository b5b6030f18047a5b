# Sourced by the scripts: one cargo target dir outside the clone, shared by every checkout on
# this machine, so a second clone (or CI after a developer) reuses the build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fog-compute/target}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"

if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust with rustup (https://rustup.rs) first" >&2
  exit 1
fi

# Installs the frontend's npm packages when package-lock.json changed since the last install.
frontend_deps() {
  local stamp="$repo/frontend/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$repo/frontend/package-lock.json" -nt "$stamp" ]; then
    npm --prefix "$repo/frontend" ci --no-audit --no-fund --loglevel=error
  fi
}
