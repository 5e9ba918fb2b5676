#!/usr/bin/env bash
# The gpio driver on real kernel GPIO: the kernel's gpio-sim driver inside a
# qemu guest (software emulation: KVM is not usable on these machines), the
# real wardgated with its gpio driver over libgpiod, driven through gpio-sim's
# sysfs pulls (tests/gpio-vm/guest_test.sh says what is checked). The guest's
# results come back over the serial console and are re-emitted here as TAP.
#
# Prerequisites (tools/deps.sh installs them): qemu-system-x86, busybox-static,
# cpio, linux-headers-6.12-amd64 (pulls in the matching kernel image), and
# the linux-source-6.12 package, downloaded at test time (GPL: never committed).
# Skips only where those cannot be had, saying why. Runs once per CI: under
# SANITIZE=1 it is skipped (the same driver code runs under ASan/UBSan in
# gpio_simulated.sh; an ASan daemon in a TCG guest would add minutes).
. "$(dirname "$0")/lib.sh"

if [ "${SANITIZE:-0}" = 1 ]; then
  skip "gpio-sim in qemu" "runs in the plain build only (make test); this is the SANITIZE=1 pass"
  done_testing
  exit 0
fi
built=$(tests/gpio-vm/build.sh "$BUILD" 2>"$TMP/build.err")
rc=$?
if [ "$rc" -eq 3 ]; then
  skip "gpio-sim in qemu" "cannot run here: ${built#missing: }"
  done_testing
  exit 0
elif [ "$rc" -ne 0 ]; then
  not_ok "building the gpio-sim module and the initramfs"
  sed 's/^/# /' "$TMP/build.err" | tail -20
  done_testing
  exit 1
fi
ok "gpio-sim module and initramfs built"
kernel=$(sed -n 's/.*kernel=\([^ ]*\).*/\1/p' <<<"$built")
initrd=$(sed -n 's/.*initrd=\([^ ]*\).*/\1/p' <<<"$built")
note "booting $kernel under qemu (TCG)"
console=$TMP/console.txt
start=$SECONDS
timeout 240 qemu-system-x86_64 -accel tcg -m 512 -smp 1 -nographic -no-reboot \
  -kernel "$kernel" -initrd "$initrd" \
  -append "console=ttyS0 quiet loglevel=1 panic=-1" </dev/null >"$console" 2>&1
rc=$?
note "guest ran $((SECONDS - start)) s (qemu exit $rc)"
mkdir -p "$BUILD/test-logs"
cp "$console" "$BUILD/test-logs/gpio_sim_qemu.console.txt"
# Guest lines "WGVM ok - ..." become TAP numbered after this script's first test.
guest_tap "$console"
if grep -q '^WGVM done' "$console"; then ok "the guest ran the whole test"; else
  not_ok "the guest ran the whole test (console in $BUILD/test-logs/gpio_sim_qemu.console.txt)"
  tail -20 "$console" | sed 's/^/# /'
fi
# The figures for docs/benchmarks.md.
grep -E '^WGVM (latency|pattern) ' "$console" | tr -d '\r' | sed 's/^WGVM /# figure: /'
done_testing
