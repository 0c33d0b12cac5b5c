#!/usr/bin/env bash
# Packaging tests (packaging/CMakeLists.txt, docs/operations.md#deployment).
#
#   package_test.sh install BUILD_DIR SOURCE_DIR   cmake --install, two prefixes
#   package_test.sh deb BUILD_DIR SOURCE_DIR       cpack -G DEB and its contents
#
# Each check prints what it expected and what it found, and the first failure
# ends the test with status 1.
set -uo pipefail
mode="$1" build="$2" source="$3"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_file() { [ -f "$1" ] || fail "expected the file $1"; }
expect_line() {  # FILE LINE: LINE appears as a whole line of FILE
  grep -qxF -- "$2" "$1" || { echo "--- $1" >&2; cat "$1" >&2; fail "expected the line '$2' in $1"; }
}

# The unit in $1 starts the binary $2 with the config $3, is Type=notify and
# restarts on failure; systemd-analyze verify accepts it when its paths exist.
check_unit() {
  local unit="$1" bin="$2" config="$3"
  expect_line "$unit" "ExecStart=$bin --config $config"
  expect_line "$unit" "Type=notify"
  expect_line "$unit" "Restart=on-failure"
  expect_line "$unit" 'ExecReload=/bin/kill -HUP $MAINPID'
  expect_line "$unit" "NoNewPrivileges=yes"
}

case "$mode" in
install)
  # A prefix of one's own: everything under it, the unit naming it.
  cmake --install "$build" --prefix "$work/opt" >"$work/log" 2>&1 || { cat "$work/log"; fail "cmake --install failed"; }
  expect_file "$work/opt/bin/wsvisor"
  [ -x "$work/opt/bin/wsvisor" ] || fail "$work/opt/bin/wsvisor is not executable"
  expect_file "$work/opt/etc/wsvisor/wsvisor.toml"
  cmp -s "$source/config/wsvisor.toml" "$work/opt/etc/wsvisor/wsvisor.toml" || fail "the installed config differs from config/wsvisor.toml"
  "$work/opt/bin/wsvisor" --check-config "$work/opt/etc/wsvisor/wsvisor.toml" >/dev/null ||
    fail "the installed binary refuses the installed config"
  unit="$work/opt/lib/systemd/system/wsvisor.service"
  expect_file "$unit"
  check_unit "$unit" "$work/opt/bin/wsvisor" "$work/opt/etc/wsvisor/wsvisor.toml"
  if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify "$unit" || fail "systemd-analyze verify refuses $unit"
  else
    echo "note: systemd-analyze not installed; the unit's syntax was not verified" >&2
  fi
  "$work/opt/bin/wsvisor" --version >"$work/version" || fail "wsvisor --version failed"
  for component in wsvisor caf boost spdlog openssl; do
    grep -q "^$component [0-9]" "$work/version" || { cat "$work/version"; fail "--version does not name $component"; }
  done

  # The prefix /usr, staged with DESTDIR: the config goes to /etc.
  DESTDIR="$work/root" cmake --install "$build" --prefix /usr >"$work/log" 2>&1 || { cat "$work/log"; fail "cmake --install --prefix /usr failed"; }
  expect_file "$work/root/usr/bin/wsvisor"
  expect_file "$work/root/etc/wsvisor/wsvisor.toml"
  [ ! -e "$work/root/usr/etc" ] || fail "the prefix /usr must put the config in /etc, not /usr/etc"
  check_unit "$work/root/usr/lib/systemd/system/wsvisor.service" /usr/bin/wsvisor /etc/wsvisor/wsvisor.toml
  ;;
deb)
  # Uncompressed: this checks the contents, not xz's speed.
  (cd "$build" && cpack -G DEB -B "$work/pkg" -D CPACK_DEBIAN_COMPRESSION_TYPE=none) >"$work/log" 2>&1 ||
    { cat "$work/log"; fail "cpack -G DEB failed"; }
  debs=("$work"/pkg/wsvisor_*.deb)
  [ -f "${debs[0]}" ] || { ls -la "$work/pkg"; fail "cpack made no wsvisor_*.deb"; }
  deb="${debs[0]}"
  dpkg-deb -c "$deb" | awk '{print $NF}' >"$work/contents"
  for path in ./usr/bin/wsvisor ./etc/wsvisor/wsvisor.toml ./usr/lib/systemd/system/wsvisor.service; do
    expect_line "$work/contents" "$path"
  done
  dpkg-deb -f "$deb" Package | grep -qx wsvisor || fail "the package is not named wsvisor"
  dpkg-deb -f "$deb" Depends | grep -q "libcaf-core" || fail "Depends does not name libcaf-core: $(dpkg-deb -f "$deb" Depends)"
  dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles >"$work/conffiles" || fail "the package has no conffiles"
  expect_line "$work/conffiles" /etc/wsvisor/wsvisor.toml
  dpkg-deb -x "$deb" "$work/root"
  check_unit "$work/root/usr/lib/systemd/system/wsvisor.service" /usr/bin/wsvisor /etc/wsvisor/wsvisor.toml
  ;;
*) fail "unknown mode $mode" ;;
esac
echo "ok: $mode"
