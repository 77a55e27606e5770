#!/bin/sh
# Installs a prebuilt kneo-otel from its GitHub release, checked against the release's
# sha256sums.txt before anything is unpacked:
#
#   curl --proto '=https' --tlsv1.2 -fsSL https://raw.githubusercontent.com/kneo-ai/kneo-otel/v0.1.0/scripts/install.sh | sh
#   sh scripts/install.sh [VERSION]
#
# VERSION defaults to the release this script belongs to. KNEO_OTEL_INSTALL_DIR (default
# ~/.local/bin) is where the binary goes. Without a prebuilt binary for this machine, or when
# the check fails, it installs nothing and says to build the same tag from git with cargo.
set -eu

version="${1:-0.1.0}"
releases="${KNEO_OTEL_RELEASES:-https://github.com/kneo-ai/kneo-otel/releases/download}"
install_dir="${KNEO_OTEL_INSTALL_DIR:-$HOME/.local/bin}"

fail() {
  echo "kneo-otel install: $1; or build it: cargo install --locked --git https://github.com/kneo-ai/kneo-otel --tag v$version kneo-otel" >&2
  exit 1
}

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) target=x86_64-unknown-linux-gnu ;;
  Linux-aarch64 | Linux-arm64) target=aarch64-unknown-linux-gnu ;;
  Darwin-x86_64) target=x86_64-apple-darwin ;;
  Darwin-arm64) target=aarch64-apple-darwin ;;
  MINGW*-x86_64 | MSYS*-x86_64 | CYGWIN*-x86_64) target=x86_64-pc-windows-msvc ;;
  *) fail "no prebuilt kneo-otel for $(uname -s) $(uname -m)" ;;
esac
exe=""
case "$target" in *windows*) exe=".exe" ;; esac

name="kneo-otel-$version-$target"
base="$releases/v$version"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
curl --proto '=https,file' --tlsv1.2 -fsSL --retry 3 -O "$base/$name.tar.gz" -O "$base/sha256sums.txt" \
  || fail "cannot download $base/$name.tar.gz"
grep -F "  $name.tar.gz" sha256sums.txt > wanted.txt || fail "sha256sums.txt of v$version lists no $name.tar.gz"
if command -v sha256sum > /dev/null; then
  sha256sum -c wanted.txt > /dev/null 2>&1 || fail "$name.tar.gz does not match sha256sums.txt"
else
  shasum -a 256 -c wanted.txt > /dev/null 2>&1 || fail "$name.tar.gz does not match sha256sums.txt"
fi
tar -xzf "$name.tar.gz"
mkdir -p "$install_dir"
cp "$name/kneo-otel$exe" "$install_dir/kneo-otel$exe"
chmod 0755 "$install_dir/kneo-otel$exe"
echo "installed kneo-otel $version ($target) into $install_dir"
case ":$PATH:" in
  *":$install_dir:"*) ;;
  *) echo "add it to PATH: export PATH=\"$install_dir:\$PATH\"" ;;
esac
