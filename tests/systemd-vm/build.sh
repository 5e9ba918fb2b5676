#!/usr/bin/env bash
# Builds what tests/integration/systemd_qemu.sh boots: a Debian 12 machine
# with systemd as PID 1 and wardgate installed the way an operator does it.
#
#  - the Debian 12 root file system (mmdebstrap, minbase, from the Debian
#    mirror this machine's apt uses): systemd, curl and jq for the guest
#    test, and the runtime libraries of wardgated and its drivers (found
#    with ldd and dpkg -S, so a new library needs no edit here). Cached in
#    build/systemd-vm/rootfs-<hash of the package list>; a rerun with the same
#    list skips this step (about 60 s when built);
#  - every run: a copy of it with `make install DESTDIR=...` (files only: the
#    package steps, /usr/lib/wardgate/wardgate-setup, run inside the guest,
#    as a package's postinst would), the guest test and the unit that runs it
#    at boot, packed into an ext4 disk image (mke2fs -d);
#  - a busybox initramfs that loads virtio_blk and ext4 from the host's
#    Debian kernel (the kernel tests/gpio-vm boots too) and switches to the
#    disk, where systemd starts. Cached per kernel version.
# The machine is made to look like one that has booted before (a machine id,
# /etc/.updated): the boot does not run systemd-sysusers or firstboot for us.
#
# Usage: build.sh BUILD-DIR  (the daemon's build dir, e.g. build)
# Prints "kernel=PATH initrd=PATH disk=PATH" on success. A missing
# prerequisite prints "missing: WHY" and exits 3; no mirror reachable prints
# "offline: WHY" and exits 4 (the caller reports both as a skip).
set -euo pipefail
BUILD=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=$ROOT/build/systemd-vm
mkdir -p "$CACHE"
missing() { echo "missing: $*"; exit 3; }

[ "$(id -u)" -eq 0 ] || missing "root (mmdebstrap, and mke2fs -d keeping owners)"
for tool in qemu-system-x86_64:qemu-system-x86 mmdebstrap:mmdebstrap mke2fs:e2fsprogs \
            busybox:busybox-static cpio:cpio xz:xz-utils curl:curl; do
  command -v "${tool%%:*}" >/dev/null || missing "${tool%%:*} (Debian ${tool#*:})"
done
KVER=
for image in $(ls -1 /boot/vmlinuz-6.12*-amd64 2>/dev/null | sort -V -r); do
  v=${image#/boot/vmlinuz-}
  if [ -d "/lib/modules/$v/kernel" ]; then KVER=$v; break; fi
done
[ -n "$KVER" ] || missing "a 6.12 Debian kernel with its modules (Debian linux-image-6.12-amd64)"
[ -r "/boot/vmlinuz-$KVER" ] || missing "/boot/vmlinuz-$KVER is not readable"

# ---- the Debian root file system, cached by its package list ----
# The Debian mirror of this machine's apt sources (deb.debian.org when none is
# named); WG_DEBIAN_MIRROR overrides it.
MIRROR=$(grep -rhoE '^(URIs:|deb) +[a-z]+://[^ ]+/debian/?( |$)' /etc/apt/sources.list \
           /etc/apt/sources.list.d/ 2>/dev/null | awk '{print $2}' | head -1 || true)
MIRROR=${WG_DEBIAN_MIRROR:-${MIRROR:-http://deb.debian.org/debian}}
libs=$(ldd "$ROOT/$BUILD/wardgated" "$ROOT/$BUILD"/plugins/*.so | awk '/=> \//{print $3}' | sort -u)
lib_packages=$(for lib in $libs; do
                 dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true
               done | cut -d: -f1 | sort -u)
[ -n "$lib_packages" ] || missing "dpkg -S cannot name the packages of wardgated's libraries"
packages=$(printf '%s\n' systemd systemd-sysv curl jq $lib_packages | sort -u | tr '\n' ',')
packages=${packages%,}
key=$(printf 'v1 bookworm %s %s\n' "$MIRROR" "$packages" | sha256sum | cut -c1-16)
BASE=$CACHE/rootfs-$key
if [ ! -d "$BASE" ]; then
  rm -rf "$BASE.tmp"
  if ! mmdebstrap --quiet --mode=root --variant=minbase --include="$packages" \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-exclude=/usr/share/doc/*' \
      bookworm "$BASE.tmp" "deb $MIRROR bookworm main" >"$CACHE/mmdebstrap.log" 2>&1; then
    rm -rf "$BASE.tmp"
    if ! curl -sfI --max-time 30 -o /dev/null "$MIRROR/dists/bookworm/Release"; then
      echo "offline: the Debian mirror $MIRROR cannot be reached, so the Debian 12 root file system cannot be built"
      exit 4
    fi
    tail -20 "$CACHE/mmdebstrap.log" >&2
    exit 1
  fi
  # A machine that has booted before: a machine id (no first-boot prompts),
  # and /etc, /var up to date (boot-time sysusers and friends do not run).
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$BASE.tmp/etc/machine-id"
  echo >>"$BASE.tmp/etc/machine-id"
  echo wardgate-vm >"$BASE.tmp/etc/hostname"
  # No udev here: nothing waits for device units that would never come.
  for unit in getty@tty1.service serial-getty@ttyS0.service getty.target \
              apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
              dpkg-db-backup.timer e2scrub_reap.service; do
    ln -sf /dev/null "$BASE.tmp/etc/systemd/system/$unit"
  done
  rm -rf "$CACHE"/rootfs-????????????????  # built for an older package list
  mv "$BASE.tmp" "$BASE"
fi

# ---- this run's disk: the cached system, wardgate installed, the guest test ----
WORK=$CACHE/work
rm -rf "$WORK" && mkdir -p "$WORK"
cp -a "$BASE" "$WORK/root"
make -C "$ROOT" --no-print-directory -s install DESTDIR="$WORK/root" BUILD="$BUILD" >"$WORK/install.log" 2>&1 ||
  { cat "$WORK/install.log" >&2; exit 1; }
touch "$WORK/root/etc/.updated" "$WORK/root/var/.updated"
install -d "$WORK/root/usr/local/lib/wardgate-vmtest"
install -m 0755 "$ROOT/tests/systemd-vm/guest_test.sh" "$WORK/root/usr/local/lib/wardgate-vmtest/"
install -m 0644 "$ROOT/tests/systemd-vm/wardgate-vmtest.service" "$WORK/root/etc/systemd/system/"
ln -sf ../wardgate-vmtest.service "$WORK/root/etc/systemd/system/multi-user.target.wants/"
DISK=$CACHE/disk.img
rm -f "$DISK"
mke2fs -q -t ext4 -L wgroot -d "$WORK/root" "$DISK" 1536M
rm -rf "$WORK"

# ---- the initramfs: virtio_blk and ext4, then systemd on the disk ----
INITRD=$CACHE/initrd-$KVER.gz
if [ ! -f "$INITRD" ] || [ "$ROOT/tests/systemd-vm/build.sh" -nt "$INITRD" ]; then
  IMG=$CACHE/initramfs
  rm -rf "$IMG" && mkdir -p "$IMG"/{bin,dev,proc,sys,newroot,lib/modules}
  cp "$(command -v busybox)" "$IMG/bin/busybox"
  for applet in sh mount umount insmod sleep switch_root echo test; do ln -s busybox "$IMG/bin/$applet"; done
  modules=$(for m in virtio_blk ext4; do modprobe -S "$KVER" --show-depends "$m"; done |
            awk '$1 == "insmod" {print $2}' | awk '!seen[$0]++')
  : >"$IMG/lib/modules/order"
  for path in $modules; do
    name=$(basename "$path"); name=${name%.xz}
    case $path in *.xz) xz -dc "$path" >"$IMG/lib/modules/$name" ;; *) cp "$path" "$IMG/lib/modules/$name" ;; esac
    echo "$name" >>"$IMG/lib/modules/order"
  done
  cat >"$IMG/init" <<'SH'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r module; do insmod "/lib/modules/$module" || echo "initramfs: insmod $module failed"; done </lib/modules/order
n=0
while [ ! -b /dev/vda ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
if ! mount -t ext4 -o rw /dev/vda /newroot; then
  echo "initramfs: cannot mount /dev/vda"; sleep 2; echo o >/proc/sysrq-trigger
fi
mount --move /dev /newroot/dev
umount /sys /proc
exec switch_root /newroot /sbin/init
SH
  chmod +x "$IMG/init"
  (cd "$IMG" && find . | cpio -o -H newc --quiet | gzip -1) >"$INITRD"
  rm -rf "$IMG"
fi
echo "kernel=/boot/vmlinuz-$KVER initrd=$INITRD disk=$DISK"
