#!/usr/bin/env bash
# Installs the Debian packages wardgate needs to build, test and demo, only
# those that are missing. Runs apt-get (as root, or through sudo).
set -euo pipefail
packages=(
  build-essential pkg-config
  libmodbus-dev libpaho-mqtt-dev libgpiod-dev libwebsockets-dev libsqlite3-dev
  libyaml-dev libjansson-dev libsystemd-dev libsodium-dev libcmocka-dev
  # the rooms' QR check-in codes, drawn as SVG by the daemon (api_rounds.c), and
  # read back in the test by tools nobody here wrote (rsvg-convert, zbarimg)
  libqrencode-dev librsvg2-bin zbar-tools
  sqlite3 mosquitto mosquitto-clients openssl python3 python3-jsonschema python3-pymodbus python3-serial-asyncio socat
  # the counting subscriber of `make bench` (tools/bench_subscriber.py)
  python3-paho-mqtt
  systemd procps valgrind curl
  # the gpio driver's test on the kernel's gpio-sim in qemu (tests/gpio-vm/):
  # the kernel headers pull in the matching kernel image; linux-source-6.12
  # itself is fetched by the test with apt-get download (GPL, never committed)
  qemu-system-x86 busybox-static cpio xz-utils linux-headers-6.12-amd64
  # the installed service under systemd in qemu (tests/systemd-vm/): a Debian 12
  # root file system from the Debian mirror, packed into an ext4 image
  mmdebstrap e2fsprogs
  # the web tests: a WebSocket client for the API test, Debian's Chromium for
  # the browser tests (playwright-core comes from npm, tests/browser/package.json);
  # a CJK font so that the Chinese pages render as text, not boxes, in the
  # screenshots (the pages name no font file: they use what the system has)
  python3-websocket chromium fonts-wqy-microhei
  # time zones (site.timezone) and the time-zone test, which runs the daemon at
  # a chosen instant under libfaketime
  tzdata faketime
  # `make fuzz` (tests/fuzz/): clang with libFuzzer and the sanitizer runtimes,
  # and llvm-symbolizer for readable reports
  clang libclang-rt-14-dev llvm-14
)
# Node.js and npm for the browser tests, unless the machine has them already
# (some images carry their own Node.js, which Debian's npm would conflict with).
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
