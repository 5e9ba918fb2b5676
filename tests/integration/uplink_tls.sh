#!/usr/bin/env bash
# TLS with client certificates: a CA, a server and a client certificate made
# here with openssl; mosquitto requires the client certificate. The gateway
# delivers over TLS; with a CA that did not sign the server it refuses to
# connect, and says why, and keeps running.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"
pki=$TMP/pki
mkdir -p "$pki"
make_ca() { # name
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=wardgate test $1" \
    -keyout "$pki/$1.key" -out "$pki/$1.pem" >/dev/null 2>&1
}
make_cert() { # name ca subject [san]
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$3" -keyout "$pki/$1.key" -out "$pki/$1.csr" >/dev/null 2>&1
  printf 'subjectAltName=%s\n' "${4:-DNS:$3}" >"$pki/$1.ext"
  openssl x509 -req -in "$pki/$1.csr" -CA "$pki/$2.pem" -CAkey "$pki/$2.key" -CAcreateserial \
    -days 2 -extfile "$pki/$1.ext" -out "$pki/$1.pem" >/dev/null 2>&1
}
make_ca ca && make_ca other-ca && make_cert server ca 127.0.0.1 "IP:127.0.0.1" &&
  make_cert client ca wardgate-test-home
check "test CA and certificates made with openssl" test -s "$pki/client.pem"
port=$(free_port)
base=wardgate/v1/test-district/test-home
start_broker tls "$port" "allow_anonymous true
cafile $pki/ca.pem
certfile $pki/server.pem
keyfile $pki/server.key
require_certificate true" || { not_ok "mosquitto with TLS started"; done_testing; exit 1; }
sub_tls=(--cafile "$pki/ca.pem" --cert "$pki/client.pem" --key "$pki/client.key")
make_config "$TMP/c.yaml" "        - {at_ms: 500, device: call-102A, health: offline, repeat: 200, every_ms: 5}"
cat >>"$TMP/c.yaml" <<EOY
uplink:
  enabled: true
  brokers: [ssl://127.0.0.1:$port]
  ca_file: $pki/ca.pem
  cert_file: $pki/client.pem
  key_file: $pki/client.key
  reconnect_min_s: 1
  reconnect_max_s: 2
  heartbeat_s: 2
EOY
start_sub "$TMP/sub.txt" "$port" "$base/#" "${sub_tls[@]}"
start_daemon "$TMP/c.yaml" "$TMP/db" "$TMP/d.log"
check "connected over TLS with a client certificate" wait_for "$TMP/d.log" "uplink: connected to ssl://127.0.0.1:$port .*TLS" 15
sleep 3
stop_daemon TERM
sleep 0.5
check "every journal event delivered over TLS, in order" /usr/bin/python3 "$CHECK_MQTT" delivery "$TMP/sub.txt" "$TMP/db"
check "every message valid" /usr/bin/python3 "$CHECK_MQTT" validate "$TMP/sub.txt"

# The wrong CA: the server's certificate is not trusted.
sed "s|ca_file: $pki/ca.pem|ca_file: $pki/other-ca.pem|" "$TMP/c.yaml" >"$TMP/wrong.yaml"
start_daemon "$TMP/wrong.yaml" "$TMP/db2" "$TMP/d2.log"
check "an untrusted server is refused, with a clear line" wait_for "$TMP/d2.log" "cannot connect to ssl://127.0.0.1:$port" 15
check "... and nothing connected" bash -c "! grep -q 'uplink: connected' '$TMP/d2.log'"
check "... while the gateway runs on" kill -0 "$DAEMON_PID"
stop_daemon TERM
check "... and stops cleanly" test "$DAEMON_RC" -eq 0

# No client certificate: the broker requires one.
grep -v -e cert_file -e key_file "$TMP/c.yaml" >"$TMP/nocert.yaml"
start_daemon "$TMP/nocert.yaml" "$TMP/db3" "$TMP/d3.log"
check "without a client certificate the broker refuses, logged" wait_for "$TMP/d3.log" "cannot connect to ssl://" 15
stop_daemon TERM
done_testing
