#!/usr/bin/env bash
# Builds what the gpio-sim test boots (research/feasibility.md §5):
#  - gpio-sim.ko, compiled out of tree from Debian's linux-source package
#    (Debian's kernels do not ship gpio-sim). The GPL source is fetched at
#    test time with `apt-get download` and never committed; module and
#    source stay cached in build/gpio-vm/ (rebuilt when the kernel changes);
#  - a busybox initramfs holding configfs.ko, gpio-sim.ko, vm_probe (static),
#    the freshly built wardgated + gpio.so with the shared libraries they
#    load (ldd) and the dynamic loader, the shipped profiles, a config and
#    the guest test (guest_test.sh).
# Usage: build.sh BUILD-DIR   (the daemon's build dir, e.g. build)
# Prints "kernel=PATH initrd=PATH" on success; on a missing prerequisite
# prints "missing: WHY" and exits 3 (the caller reports it as a skip).
set -euo pipefail
BUILD=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=$ROOT/build/gpio-vm
mkdir -p "$CACHE"
missing() { echo "missing: $*"; exit 3; }

command -v qemu-system-x86_64 >/dev/null || missing "qemu-system-x86_64 (Debian qemu-system-x86)"
BUSYBOX=$(command -v busybox) || missing "busybox (Debian busybox-static)"
command -v cpio >/dev/null || missing "cpio"
# The newest 6.12 kernel image that has its headers installed.
KVER=
for image in $(ls -1 /boot/vmlinuz-6.12*-amd64 2>/dev/null | sort -V -r); do
  v=${image#/boot/vmlinuz-}
  if [ -d "/usr/src/linux-headers-$v" ] && [ -d "/lib/modules/$v" ]; then KVER=$v; break; fi
done
[ -n "$KVER" ] || missing "a 6.12 kernel image with its headers (Debian linux-headers-6.12-amd64)"
[ -r "/boot/vmlinuz-$KVER" ] || missing "/boot/vmlinuz-$KVER is not readable"

# ---- gpio-sim.ko, cached per kernel version ----
MOD=$CACHE/mod-$KVER
if [ ! -f "$MOD/gpio-sim.ko" ]; then
  SRC=$CACHE/src
  if [ ! -f "$SRC/drivers/gpio/gpio-sim.c" ] || [ ! -f "$SRC/kernel/irq/irq_sim.c" ]; then
    rm -rf "$CACHE/deb" && mkdir -p "$CACHE/deb" "$SRC"
    (cd "$CACHE/deb" && apt-get download -q linux-source-6.12 >/dev/null 2>&1) ||
      missing "apt-get download linux-source-6.12 failed (no Debian mirror reachable?)"
    deb=$(ls "$CACHE"/deb/linux-source-6.12_*.deb | head -1)
    dpkg-deb --fsys-tarfile "$deb" | tar -x --wildcards -O '*/linux-source-6.12.tar.xz' |
      xz -dc | tar -x -C "$SRC" --strip-components=1 --wildcards \
        '*/drivers/gpio/gpio-sim.c' '*/kernel/irq/irq_sim.c'
    rm -rf "$CACHE/deb" # 153 MB; only the two files are kept
  fi
  rm -rf "$MOD" && mkdir -p "$MOD"
  cp "$SRC/drivers/gpio/gpio-sim.c" "$MOD/gpio_sim_main.c"
  # irq_to_desc() is not exported to modules; generic_handle_irq() does the same here.
  sed 's/handle_simple_irq(irq_to_desc(irqnum))/generic_handle_irq(irqnum)/' \
    "$SRC/kernel/irq/irq_sim.c" >"$MOD/irq_sim.c"
  grep -q 'generic_handle_irq(irqnum)' "$MOD/irq_sim.c" ||
    { echo "build.sh: irq_sim.c changed upstream; the irq_to_desc patch no longer applies" >&2; exit 1; }
  printf 'obj-m := gpio-sim.o\ngpio-sim-y := gpio_sim_main.o irq_sim.o\n' >"$MOD/Kbuild"
  make -s -C "/usr/src/linux-headers-$KVER" M="$MOD" modules >"$MOD/build.log" 2>&1 ||
    { cat "$MOD/build.log" >&2; exit 1; }
fi

# ---- vm_probe, static ----
PROBE=$CACHE/vm_probe
if [ ! -x "$PROBE" ] || [ "$ROOT/tests/gpio-vm/vm_probe.c" -nt "$PROBE" ]; then
  cc -std=gnu11 -Wall -Wextra -Werror -O2 -static -o "$PROBE" "$ROOT/tests/gpio-vm/vm_probe.c"
fi

# ---- the initramfs, rebuilt every run (the daemon may have changed) ----
IMG=$CACHE/root
rm -rf "$IMG" && mkdir -p "$IMG"/{bin,dev,proc,sys,tmp,lib/modules,usr/sbin,usr/lib/wardgate/plugins,etc/wardgate/profiles}
cp "$BUSYBOX" "$IMG/bin/busybox"
for applet in sh mount insmod mkdir cat echo sed grep tail wc usleep sleep test kill poweroff rm head; do
  ln -s busybox "$IMG/bin/$applet"
done
xz -dc "/lib/modules/$KVER/kernel/fs/configfs/configfs.ko.xz" >"$IMG/lib/modules/configfs.ko"
cp "$MOD/gpio-sim.ko" "$IMG/lib/modules/"
cp "$PROBE" "$IMG/bin/vm_probe"
cp "$ROOT/$BUILD/wardgated" "$IMG/usr/sbin/"
cp "$ROOT/$BUILD/plugins/gpio.so" "$IMG/usr/lib/wardgate/plugins/"
# Shared libraries of the daemon and the driver, at their own paths, and the loader.
for lib in $(ldd "$ROOT/$BUILD/wardgated" "$ROOT/$BUILD/plugins/gpio.so" | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | sort -u); do
  mkdir -p "$IMG$(dirname "$lib")"
  cp -L "$lib" "$IMG$lib"
done
mkdir -p "$IMG/lib64" && cp -L /lib64/ld-linux-x86-64.so.2 "$IMG/lib64/"
# The site's time zone (site.timezone, Asia/Shanghai unless set): the daemon
# checks it in zoneinfo and refuses a zone that is not installed.
mkdir -p "$IMG/usr/share/zoneinfo/Asia" && cp -L /usr/share/zoneinfo/Asia/Shanghai "$IMG/usr/share/zoneinfo/Asia/"
cp "$ROOT"/config/profiles/gpio-*.yaml "$IMG/etc/wardgate/profiles/"
cat >"$IMG/etc/wardgate/profiles/vm-latency-probe.yaml" <<'YAML'
# A bare contact without debounce: the edge-to-core latency figure of the gpio-sim test.
id: vm-latency-probe
vendor: wardgate tests
model: bare contact, no debounce
synthetic: true
points:
  - {name: contact, meaning: pir_motion, source: {line: 0, debounce_ms: 0}}
YAML
python3 - "$ROOT/tests/integration/fixtures/gpio.yaml.in" "$IMG/etc/wardgate/wardgate.yaml" <<'PY'
import sys
src, out = sys.argv[1:3]
text = open(src, encoding="utf-8").read()
text = text.replace('"@ROOT@/config/profiles/*.yaml"', "profiles/*.yaml")
text = text.replace("@BUS@", "      chip: wg-sim\n      consumer: wardgated")
text = text.replace("devices:\n", "devices:\n  - {id: probe-101, bus: gpio1, address: 16, profile: vm-latency-probe, room: \"101\"}\n", 1)
open(out, "w", encoding="utf-8").write(text)
PY
cp "$ROOT/tests/gpio-vm/guest_test.sh" "$IMG/guest_test.sh"
cat >"$IMG/init" <<'SH'
#!/bin/sh
export PATH=/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
if insmod /lib/modules/configfs.ko && insmod /lib/modules/gpio-sim.ko &&
   mount -t configfs configfs /sys/kernel/config; then
  echo "WGVM ok - configfs and the gpio-sim module built from Debian's source load"
  sh /guest_test.sh
else
  echo "WGVM not ok - configfs and the gpio-sim module built from Debian's source load"
fi
echo "WGVM end"
poweroff -f
SH
chmod +x "$IMG/init" "$IMG/guest_test.sh"
(cd "$IMG" && find . | cpio -o -H newc --quiet | gzip -1) >"$CACHE/initrd.gz"
echo "kernel=/boot/vmlinuz-$KVER initrd=$CACHE/initrd.gz"
