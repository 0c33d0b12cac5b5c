# Shared by the scripts in scripts/: install missing Debian packages, then
# configure and build one CMake preset. Sourced, not executed.

WSVISOR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# Build and runtime dependencies; everything comes from Debian 12.
WSVISOR_PACKAGES=(
  g++ cmake ninja-build ccache pkg-config
  libcaf-dev libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libspdlog-dev
  libgtest-dev libtomlplusplus-dev libssl-dev libjwt-dev libsystemd-dev zlib1g-dev
)
# msgpack-cxx (wsvisor.v1.msgpack) is Debian's libmsgpack-cxx-dev too, but on
# Debian 12 it cannot be installed beside libboost1.81-dev: it depends on
# libboost-dev, which is Boost 1.74 and conflicts with 1.81. It is header-only,
# so build_preset unpacks Debian's package into the build tree instead
# (ensure_msgpack_cxx); an installed libmsgpack-cxx-dev is used as it is.
WSVISOR_MSGPACK_ROOT="$WSVISOR_ROOT/build/_deps/msgpack-cxx"
# Independent peers used by the interoperability tests and by the load
# generator's own tests (WebSocket++ peer; Node for the npm ws and Socket.IO
# peers, whose packages come from tools/bench/node/package-lock.json).
# The packaging tests (tests/packaging) build a .deb (dpkg-shlibdeps is in
# dpkg-dev) and check the systemd unit with systemd-analyze (in systemd).
# The browser tests (tests/web) drive Debian's chromium with playwright-core.
# Interop.NginxClusterExample runs docs/cluster.md's example behind nginx.
WSVISOR_TEST_PACKAGES=(python3 python3-websockets python3-msgpack libwebsocketpp-dev nodejs dpkg-dev systemd chromium nginx)
# The fuzz preset (scripts/test's short runs, scripts/fuzz): Debian's clang
# and its runtime libraries, which hold libFuzzer and the sanitizers.
WSVISOR_FUZZ_PACKAGES=(clang libclang-rt-14-dev)
# scripts/format, and scripts/test's format check: Debian 12's clang-format 14
# (.clang-format is tuned to it).
WSVISOR_FORMAT_PACKAGES=(clang-format)
# What scripts/bench needs on top: plots, taskset to pin processes, and the
# Redis its Socket.IO cluster shares (the bench starts and stops its own
# redis-server on a free loopback port; no service is used).
WSVISOR_BENCH_PACKAGES=(gnuplot-nox util-linux redis-server)

die() { echo "wsvisor: $*" >&2; exit 1; }

# install_packages PKG... — installs those not yet installed (apt-get update once).
install_packages() {
  [ -r /etc/debian_version ] || die "this script needs Debian 12 (apt and dpkg); install the packages listed in scripts/lib/common.sh by hand elsewhere"
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "missing packages (${missing[*]}) and not root, with no sudo to install them"
    sudo=(sudo)
  fi
  echo "wsvisor: installing ${missing[*]}" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    || die "apt-get update failed"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed"
}

# ensure_msgpack_cxx — Debian's libmsgpack-cxx-dev unpacked (dpkg-deb -x, not
# installed) into $WSVISOR_MSGPACK_ROOT, once, unless the package is installed.
# CMake finds it there (find_package(msgpack) in CMakeLists.txt).
ensure_msgpack_cxx() {
  dpkg-query -W -f='${Status}' libmsgpack-cxx-dev 2>/dev/null | grep -q "install ok installed" && return 0
  local stamp="$WSVISOR_MSGPACK_ROOT/unpacked.stamp"
  [ -f "$stamp" ] && return 0
  local dl="$WSVISOR_MSGPACK_ROOT.download"
  rm -rf "$dl" "$WSVISOR_MSGPACK_ROOT" && mkdir -p "$dl" || die "cannot create $dl"
  chmod 755 "$dl"  # apt-get download writes as the _apt user where it can
  if ! (cd "$dl" && apt-get download -qq libmsgpack-cxx-dev >/dev/null 2>&1); then
    [ "$(id -u)" -eq 0 ] && DEBIAN_FRONTEND=noninteractive apt-get update -qq
    (cd "$dl" && apt-get download -qq libmsgpack-cxx-dev >/dev/null 2>&1) \
      || die "apt-get download libmsgpack-cxx-dev failed"
  fi
  local deb
  deb="$(compgen -G "$dl/libmsgpack-cxx-dev_*.deb" | head -n 1)" || die "no libmsgpack-cxx-dev .deb in $dl"
  dpkg-deb -x "$deb" "$WSVISOR_MSGPACK_ROOT" || die "dpkg-deb -x $deb failed"
  basename "$deb" >"$stamp"
  rm -rf "$dl"
  echo "wsvisor: unpacked Debian's $(cat "$stamp") into ${WSVISOR_MSGPACK_ROOT#"$WSVISOR_ROOT"/}" >&2
}

# build_preset NAME [TARGET...] — configure (first time only) and build.
build_preset() {
  local preset="$1"; shift
  cd "$WSVISOR_ROOT" || die "cannot enter $WSVISOR_ROOT"
  ensure_msgpack_cxx
  # Re-applying the preset is cheap and picks up changed preset flags.
  cmake --preset "$preset" >/dev/null || die "cmake configure (preset $preset) failed"
  local targets=()
  [ $# -gt 0 ] && targets=(--target "$@")
  cmake --build --preset "$preset" "${targets[@]}" || die "build (preset $preset) failed"
}

# install_npm_packages DIR — npm ci in DIR when its lock file changed since the
# last install (or nothing is installed yet).
install_npm_packages() {
  local dir="$1"
  # NodeSource's nodejs brings npm; Debian's own nodejs needs Debian's npm.
  command -v npm >/dev/null 2>&1 || install_packages npm
  command -v npm >/dev/null 2>&1 || die "npm not found, and installing Debian's npm package did not provide it"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "wsvisor: npm ci in ${dir#"$WSVISOR_ROOT"/}" >&2
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >&2 || die "npm ci in $dir failed"
  fi
}

# install_node_peers — the npm packages of the tests: the benchmark peers
# (tools/bench/node) and the browser tests' ws and playwright-core (tests/web).
install_node_peers() {
  install_npm_packages "$WSVISOR_ROOT/tools/bench/node"
  [ -f "$WSVISOR_ROOT/tests/web/package-lock.json" ] && install_npm_packages "$WSVISOR_ROOT/tests/web"
  return 0
}

# The ThreadSanitizer build (scripts/test --tsan) links wsvisor against CAF
# built with -fsanitize=thread from Debian's own source package: Debian's
# libcaf-dev is not instrumented, so every hand-off inside CAF would look
# like a race (docs/security.md). The tsan preset reads it from here.
WSVISOR_TSAN_CAF_ROOT="$WSVISOR_ROOT/build/tsan-caf/actor-framework"
WSVISOR_TSAN_CAF_FLAGS=(
  -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
  # -include limits: receive_buffer.hpp misses <limits>, which g++ 12 needs.
  "-DCMAKE_CXX_FLAGS=-fsanitize=thread -include limits"
  -DCAF_NO_EXAMPLES=ON -DCAF_NO_UNIT_TESTS=ON -DCAF_NO_OPENCL=ON -DCAF_NO_TOOLS=ON
  -DCAF_NO_PYTHON=ON
)

# ensure_deb_src — apt can fetch Debian's source packages: adds a deb-src
# entry for bookworm when apt has none (apt-get update only then).
ensure_deb_src() {
  apt-cache showsrc actor-framework 2>/dev/null | grep -q '^Package:' && return 0
  local list=/etc/apt/sources.list.d/wsvisor-deb-src.sources
  [ "$(id -u)" -eq 0 ] || die "need root to add $list (a deb-src entry, for apt-get source)"
  if [ ! -f "$list" ]; then
    printf '%s\n' "Types: deb-src" "URIs: http://deb.debian.org/debian" "Suites: bookworm" \
      "Components: main" "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" >"$list"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed"
  apt-cache showsrc actor-framework 2>/dev/null | grep -q '^Package:' \
    || die "apt has no source package actor-framework, even with $list"
}

# fetch_caf_source DIR — leaves Debian's actor-framework_*.orig.tar.gz in DIR.
# Only the upstream tarball is used; the Debian patch tarball may be missing
# from the mirror, which fails apt-get source as a whole.
fetch_caf_source() {
  local dir="$1" uri file size hash
  (cd "$dir" && apt-get source --download-only -qq actor-framework >/dev/null 2>&1) || true
  compgen -G "$dir/actor-framework_*.orig.tar.*" >/dev/null && return 0
  read -r uri file size hash < <(apt-get source --print-uris -qq actor-framework | grep "\.orig\.tar\.") \
    || die "apt-get source --print-uris names no upstream tarball of actor-framework"
  uri="${uri//\'/}"
  /usr/lib/apt/apt-helper download-file "$uri" "$dir/$file" "$hash" >/dev/null 2>&1 \
    || die "could not download $uri"
}

# build_tsan_caf — builds libcaf_core and libcaf_io with -fsanitize=thread in
# $WSVISOR_TSAN_CAF_ROOT/build, once: a stamp holding the flags marks it done.
build_tsan_caf() {
  local cache="${WSVISOR_TSAN_CAF_ROOT%/*}" root="$WSVISOR_TSAN_CAF_ROOT"
  local stamp="$root/build/wsvisor-tsan.stamp" want="${WSVISOR_TSAN_CAF_FLAGS[*]}"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "wsvisor: CAF with ThreadSanitizer: cached in ${root#"$WSVISOR_ROOT"/}" >&2
    return 0
  fi
  echo "wsvisor: building CAF with ThreadSanitizer from Debian's source package into ${root#"$WSVISOR_ROOT"/} (once; 4 to 9 minutes on 2 cores)" >&2
  install_packages dpkg-dev cmake ninja-build g++
  ensure_deb_src
  mkdir -p "$cache"
  fetch_caf_source "$cache"
  local tarball
  tarball="$(compgen -G "$cache/actor-framework_*.orig.tar.*" | head -n1)"
  rm -rf "$root" && mkdir -p "$root"
  tar -xf "$tarball" -C "$root" --strip-components=1 || die "cannot extract $tarball"
  local log="$cache/build.log"
  { cmake -S "$root" -B "$root/build" "${WSVISOR_TSAN_CAF_FLAGS[@]}" \
      && cmake --build "$root/build" -j2 --target libcaf_core_shared libcaf_io_shared; } >"$log" 2>&1 \
    || { tail -n 20 "$log" >&2; die "build of CAF in $root failed (log: $log)"; }
  echo "$want" >"$stamp"
}
