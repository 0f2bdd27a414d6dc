#!/usr/bin/env bash
# package.sh - the Debian packages (issue #10): `make deb` builds them and lintian reports no
# error; installed into a throwaway root (dpkg -x), they hold the binary without a RUNPATH, the
# library and its headers, the man pages, the unit and /etc/hookd/hookd.conf as a conffile; the
# unit's command line, run by hand from that root, receives and stores a signed event.
# Run by scripts/test once (it does not depend on a build directory).
set -u
cd "$(dirname "$0")/.."
HOOKD=/bin/false # lib.sh wants one; the packaged binary is used below
. tests/integration/lib.sh
expect_exit 0 "make deb builds the packages, lintian reports no error" make -s deb
cp dist/lintian.txt "$TMP/lintian.txt"
expect_no_match "$TMP/lintian.txt" '^E: ' "  (lintian: no E: lines)"
for p in hookd libhookd0 libhookd-dev; do
  [ -f "$(ls dist/${p}_*.deb 2>/dev/null | head -1)" ]; expect_eq $? 0 "dist/ holds ${p}_*.deb"
done
ROOT="$TMP/root"
for d in dist/hookd_*.deb dist/libhookd0_*.deb dist/libhookd-dev_*.deb; do dpkg -x "$d" "$ROOT"; done
for f in usr/bin/hookd usr/share/man/man1/hookd.1.gz usr/share/man/man5/hookd.conf.5.gz etc/hookd/hookd.conf \
         lib/systemd/system/hookd.service usr/include/hookd/hookd.h usr/share/hookd/examples/siprec-alert.sh; do
  [ -e "$ROOT/$f" ]; expect_eq $? 0 "installed: /$f"
done
[ -n "$(find "$ROOT/usr/lib" -name 'libhookd.so.0*' -type f)" ]; expect_eq $? 0 "installed: libhookd.so.0 (libhookd0)"
[ -n "$(find "$ROOT/usr/lib" -name 'hookd.pc')" ]; expect_eq $? 0 "installed: hookd.pc (libhookd-dev)"
expect_eq "$(dpkg-deb -f dist/hookd_*.deb Depends | grep -c 'libhookd0')" 1 "hookd depends on libhookd0"
dpkg-deb -e dist/hookd_*.deb "$TMP/control"
expect_match "$TMP/control/conffiles" '^/etc/hookd/hookd.conf$' "/etc/hookd/hookd.conf is a conffile (an upgrade keeps the operator's edits)"
expect_match "$TMP/control/postinst" 'adduser --system --group' "the package makes the hookd user"
expect_eq "$(readelf -d "$ROOT/usr/bin/hookd" | grep -c -E 'RPATH|RUNPATH')" 0 "the packaged binary has no RUNPATH"
expect_match "$ROOT/etc/hookd/hookd.conf" '^url = sqlite:/var/lib/hookd/hookd.db$' "the packaged config keeps its store in the unit's StateDirectory"

# The unit's command line, by hand, from the throwaway root.
export LD_LIBRARY_PATH
LD_LIBRARY_PATH=$(dirname "$(find "$ROOT/usr/lib" -name 'libhookd.so.0' | head -1)")
eval "$("$ROOT/usr/bin/hookd" keygen | sed 's/^/K_/')"
export TELNYX_PUBLIC_KEY=$K_public_key
STD_SECRET=$("$ROOT/usr/bin/hookd" keygen --secret | sed -n 's/^secret=//p')
export STD_SECRET
EXEC=$(sed -n 's|^ExecStart=/usr/bin/hookd serve ||p' "$ROOT/lib/systemd/system/hookd.service" | sed "s|/etc/|$ROOT/etc/|")
HOOKD="$ROOT/usr/bin/hookd"
# shellcheck disable=SC2086
start_server "$TMP/serve.log" $EXEC --listen 127.0.0.1:0 --db "$TMP/hookd.db" || exit 1
CLEANUP="kill -9 $SERVER_PID 2>/dev/null"
expect_exit 0 "the packaged hookd, started as the unit starts it, accepts a signed event" \
  "$HOOKD" send "http://127.0.0.1:$PORT/webhooks/telnyx" --private-key "$K_private_key" --attempts 1
expect_eq "$("$HOOKD" events list --db "$TMP/hookd.db" --json | grep -c '"event_type": "siprec.failed"')" 1 "  and stores it"
stop_server
expect_eq $? 0 "  and stops on SIGTERM"
finish
