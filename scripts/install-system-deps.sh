#!/usr/bin/env bash
# Installs the Debian packages the build and tests need, only those that are missing.
# Usage: scripts/install-system-deps.sh [group...]   groups: build c node wasm browser services bench ops image (default: all but image)
set -euo pipefail

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(c node wasm browser services bench ops)

missing=()
need() { # need <command-or-path> <package...>
  local probe=$1
  shift
  if [[ $probe == /* ]]; then compgen -G "$probe" >/dev/null && return 0
  else command -v "$probe" >/dev/null 2>&1 && return 0; fi
  missing+=("$@")
}

for group in "${groups[@]}"; do
  case $group in
    # What `make run` needs: a C compiler for the Python extension.
    build) need gcc gcc ;;
    c) need gcc gcc; need g++ g++; need clang clang; need clang-format clang-format; need cmake cmake
       need "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.asan-*.a" libclang-rt-14-dev ;;
    node) need node nodejs npm ;;
    wasm) need clang clang; need wasm-ld lld; need "/usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a" wasi-libc libclang-rt-14-dev-wasm32 ;;
    browser) need chromium chromium chromium-driver ;;
    # The fault tests start a private redis-server they can stop and restart.
    services) need redis-server redis-server ;;
    bench) need valgrind valgrind ;;
    # The compose file's nginx configuration is checked with `nginx -t` (tests/ops).
    ops) need nginx nginx-light ;;
    # `make image`: buildah builds docker/Dockerfile without a daemon, on a debootstrapped base.
    image) need buildah buildah crun; need debootstrap debootstrap ;;
    *) echo "unknown group: $group" >&2; exit 2 ;;
  esac
done

[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing system packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
