#!/bin/sh
# facility-ca.sh (installed as wardgate-facility-ca): the facility's own
# certificate authority (CA) and the gateway's HTTPS certificate, made with
# Debian's openssl command (docs/https.md). Phones trust the CA once (they fetch it from /ca.crt);
# the gateway's certificate is then accepted without warnings, which the
# carer app needs (notifications, wake lock and working offline are only
# allowed to pages in a secure context).
#
#   facility-ca.sh ca "SITE NAME"        make the CA, once: it is never overwritten
#   facility-ca.sh server NAME|IP...     make or renew the server certificate
#
# Options (before the command):
#   --ca-dir DIR    the CA's key and certificate (default /etc/wardgate/ca,
#                   mode 0700: the CA's key signs certificates every phone
#                   that installed the CA trusts, so it stays with root)
#   --tls-dir DIR   the server's key and certificate and a copy of the CA's
#                   certificate, what wardgated reads (default /etc/wardgate/tls)
#   --days N        server certificate lifetime, 1..825 days (default 825:
#                   iOS refuses server certificates valid for longer)
set -eu

ca_dir=/etc/wardgate/ca
tls_dir=/etc/wardgate/tls
days=825
ca_days=3650
daemon_user=wardgate

me=$(basename "$0") # facility-ca.sh here, wardgate-facility-ca once installed
die() { echo "$me: $*" >&2; exit 1; }
usage() {
  cat >&2 <<EOF
usage: $me [--ca-dir DIR] [--tls-dir DIR] [--days N] ca "SITE NAME"
       $me [--ca-dir DIR] [--tls-dir DIR] [--days N] server NAME|IP [NAME|IP...]

  ca "SITE NAME"     makes the facility's CA (EC P-256, 10 years), named
                     "SITE NAME 院内证书"; refuses when one exists already
  server NAME|IP...  makes or renews the gateway's HTTPS certificate for these
                     host names and IP addresses (the addresses phones use),
                     signed by the CA; the old one is replaced
EOF
  exit 2
}

while [ $# -gt 0 ]; do
  case $1 in
    --ca-dir) [ $# -ge 2 ] || usage; ca_dir=$2; shift 2 ;;
    --tls-dir) [ $# -ge 2 ] || usage; tls_dir=$2; shift 2 ;;
    --days) [ $# -ge 2 ] || usage; days=$2; shift 2 ;;
    -h|--help) usage ;;
    --) shift; break ;;
    -*) echo "$me: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || usage
command=$1
shift
command -v openssl >/dev/null 2>&1 || die "the openssl command is missing (Debian package openssl)"
case $days in
  ''|*[!0-9]*) die "--days: expected a whole number of days from 1 to 825, got \"$days\"" ;;
esac
[ "$days" -ge 1 ] && [ "$days" -le 825 ] ||
  die "--days: expected 1 to 825 (iOS refuses server certificates valid for longer), got $days"

work=$(mktemp -d "${TMPDIR:-/tmp}/facility-ca.XXXXXX") || die "cannot make a scratch directory"
trap 'rm -rf "$work"' EXIT INT TERM
umask 077

# An EC P-256 private key into $1 (mode 0600).
make_key() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>"$work/err" ||
    die "openssl could not make a key: $(cat "$work/err")"
}

# A random 128-bit serial number, as openssl takes it.
serial() {
  echo "0x$(openssl rand -hex 16)"
}

fingerprint() {
  openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^[^=]*=//'
}

# Whether the user wardgated runs as exists and we may give it files.
daemon_owner() {
  [ "$(id -u)" -eq 0 ] && getent passwd "$daemon_user" >/dev/null 2>&1
}

make_ca() {
  [ $# -eq 1 ] && [ -n "$1" ] || die "ca: give the site's name, e.g. $me ca \"安园养老院\""
  site=$1
  case $site in
    */*|*\\*|*=*|*+*) die "ca: the site name may not hold / \\ = or +, got \"$site\"" ;;
  esac
  if [ -e "$ca_dir/ca.key" ] || [ -e "$ca_dir/ca.crt" ]; then
    die "ca: a CA exists already in $ca_dir (ca.key, ca.crt): it is never replaced, because" \
        "every phone that installed it would have to install a new one. To make server" \
        "certificates with it: $me --ca-dir $ca_dir server NAME|IP..."
  fi
  mkdir -p "$ca_dir" || die "ca: cannot make the directory $ca_dir"
  chmod 0700 "$ca_dir" || die "ca: cannot set the mode of $ca_dir"
  cat >"$work/ca.cnf" <<EOF
[req]
distinguished_name = dn
string_mask = utf8only
utf8 = yes
prompt = no
[dn]
O = $site
CN = $site 院内证书
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
  make_key "$work/ca.key"
  openssl req -new -x509 -config "$work/ca.cnf" -extensions ca -key "$work/ca.key" -sha256 \
    -days "$ca_days" -set_serial "$(serial)" -out "$work/ca.crt" 2>"$work/err" ||
    die "ca: openssl could not make the CA certificate: $(cat "$work/err")"
  # The key first: a certificate without its key would block a second try.
  mv "$work/ca.key" "$ca_dir/ca.key" && chmod 0600 "$ca_dir/ca.key" ||
    die "ca: cannot write $ca_dir/ca.key"
  chmod 0644 "$work/ca.crt"
  mv "$work/ca.crt" "$ca_dir/ca.crt" || die "ca: cannot write $ca_dir/ca.crt"
  echo "made the facility CA \"$site 院内证书\", valid $ca_days days (10 years):"
  echo "  $ca_dir/ca.key   its private key (0600): keep it on this machine, back it up offline"
  echo "  $ca_dir/ca.crt   its certificate: what phones install (wardgated offers it at /ca.crt)"
  echo "  SHA-256 fingerprint $(fingerprint "$ca_dir/ca.crt")"
  echo "next: $me --ca-dir $ca_dir --tls-dir $tls_dir server <the gateway's IP address and names>"
}

make_server() {
  [ $# -ge 1 ] || die "server: give the host names and IP addresses phones reach the gateway by," \
                      "e.g. $me server 192.168.1.10 gateway.home.lan"
  [ -r "$ca_dir/ca.key" ] && [ -r "$ca_dir/ca.crt" ] ||
    die "server: no CA in $ca_dir (ca.key and ca.crt, readable): make it first with $me ca \"SITE NAME\"" \
        "(or give --ca-dir)"
  san=""
  for name in "$@"; do
    case $name in
      *[!0-9.]*) ;;
      *.*.*.*)
        # IPv4: four numbers 0..255.
        echo "$name" | awk -F. 'NF != 4 { exit 1 } { for (i = 1; i <= 4; i++) if ($i == "" || $i > 255 || length($i) > 3) exit 1 }' ||
          die "server: \"$name\" is not an IPv4 address"
        san="$san${san:+,}IP:$name"; continue ;;
    esac
    case $name in
      *:*)
        case $name in *[!0-9A-Fa-f:.]*) die "server: \"$name\" is not an IPv6 address (write it without brackets)" ;; esac
        san="$san${san:+,}IP:$name"; continue ;;
    esac
    case $name in
      ''|-*|.*|*..*|*[!A-Za-z0-9.-]*)
        die "server: \"$name\" is not a host name (letters, digits, '-' and '.') nor an IP address" ;;
    esac
    [ ${#name} -le 253 ] || die "server: \"$name\" is longer than 253 characters"
    san="$san${san:+,}DNS:$name"
  done
  first=$1
  mkdir -p "$tls_dir" || die "server: cannot make the directory $tls_dir"
  cat >"$work/server.cnf" <<EOF
[req]
distinguished_name = dn
string_mask = utf8only
utf8 = yes
prompt = no
[dn]
CN = $first
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  make_key "$work/server.key"
  openssl req -new -config "$work/server.cnf" -key "$work/server.key" -out "$work/server.csr" \
    2>"$work/err" || die "server: openssl could not make the request: $(cat "$work/err")"
  openssl x509 -req -in "$work/server.csr" -CA "$ca_dir/ca.crt" -CAkey "$ca_dir/ca.key" \
    -set_serial "$(serial)" -days "$days" -sha256 -extfile "$work/server.cnf" \
    -extensions server -out "$work/server.crt" 2>"$work/err" ||
    die "server: openssl could not sign the certificate with the CA in $ca_dir: $(cat "$work/err")"
  openssl verify -CAfile "$ca_dir/ca.crt" -purpose sslserver "$work/server.crt" >/dev/null \
    2>"$work/err" || die "server: the new certificate does not verify: $(cat "$work/err")"
  renewed=""
  [ -e "$tls_dir/server.crt" ] && renewed=" (the previous one, until $(openssl x509 -in "$tls_dir/server.crt" -noout -enddate 2>/dev/null | sed 's/^notAfter=//'), is replaced)"
  chmod 0644 "$work/server.crt"
  cp "$ca_dir/ca.crt" "$work/ca.crt" && chmod 0644 "$work/ca.crt"
  if daemon_owner; then
    # wardgated reads them as $daemon_user; the key stays 0600.
    chown "$daemon_user" "$work/server.key"
    chgrp "$daemon_user" "$tls_dir" && chmod 0750 "$tls_dir"
  fi
  mv "$work/server.key" "$tls_dir/server.key" && mv "$work/server.crt" "$tls_dir/server.crt" &&
    mv "$work/ca.crt" "$tls_dir/ca.crt" || die "server: cannot write into $tls_dir"
  until=$(openssl x509 -in "$tls_dir/server.crt" -noout -enddate | sed 's/^notAfter=//')
  echo "made the gateway's HTTPS certificate for $(echo "$san" | sed 's/,/, /g'), valid until $until$renewed:"
  echo "  $tls_dir/server.key   its private key (0600)"
  echo "  $tls_dir/server.crt   the certificate, signed by the CA in $ca_dir"
  echo "  $tls_dir/ca.crt       the CA's certificate, which phones fetch from /ca.crt"
  echo "add to the web: section of wardgate.yaml (plain HTTP stays on port; tls_port is new):"
  echo "  tls_port: 8443"
  echo "  tls_cert: $tls_dir/server.crt"
  echo "  tls_key: $tls_dir/server.key"
  echo "  tls_ca: $tls_dir/ca.crt"
  echo "then restart wardgated (it reads the certificate when it starts): systemctl restart wardgated"
  echo "renew before $until with the same command."
}

case $command in
  ca) make_ca "$@" ;;
  server) make_server "$@" ;;
  *) echo "$me: unknown command \"$command\" (ca or server)" >&2; usage ;;
esac
