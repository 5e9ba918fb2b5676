#!/usr/bin/python3
"""A fire-panel zone alarms at the place the panel's `places:` gives it, in
the real daemon: the sim driver's control FIFO plays the panel (zone bits,
then the loop and address of the detector in fire); a WebSocket client (the
display's feed) and mosquitto_sub on a real mosquitto (the district) see the
place, the room and the zone number; the corridor's door lamp is driven; an
unmapped zone alarms at the panel's own room with its number, and the loader
warned about it. Details and health reasons travel as codes with arguments
too. About 10 s."""
import http.client
import json
import os
import pwd
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modbus"))
import harness  # noqa: E402
from harness import TMP, ROOT, Daemon, free_port, wait_until, ok, note, done  # noqa: E402

import websocket  # noqa: E402  (Debian python3-websocket)

WEB_PORT = free_port()
BROKER_PORT = free_port()
FIFO = os.path.join(TMP, "sim.fifo")
CHECK_MQTT = os.path.join(ROOT, "tests/integration/check_mqtt.py")


def spawn(args, **kw):
    child = subprocess.Popen(args, **kw)
    harness._children.append(child)
    return child


# ---- the district: mosquitto and an independent subscriber ----
broker_dir = os.path.join(TMP, "broker")
os.makedirs(broker_dir)
with open(os.path.join(broker_dir, "mosquitto.conf"), "w") as f:
    f.write(f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
            f"log_dest file {broker_dir}/mosquitto.log\nlog_type all\n"
            f"listener {BROKER_PORT} 127.0.0.1\nallow_anonymous true\n")
spawn(["mosquitto", "-c", os.path.join(broker_dir, "mosquitto.conf")],
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def broker_up():
    try:
        with open(os.path.join(broker_dir, "mosquitto.log")) as f:
            return f"listen socket on port {BROKER_PORT}" in f.read()
    except FileNotFoundError:
        return False


ok(wait_until(broker_up, 10), "mosquitto starts")
mqtt_file = os.path.join(TMP, "mqtt.txt")
mqtt_out = open(mqtt_file, "w")
spawn(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(BROKER_PORT), "-q", "1", "-v",
       "-t", "wardgate/v1/test-district/test-home/#", "-F", "%U %t %p"],
      stdout=mqtt_out, stderr=subprocess.DEVNULL)
time.sleep(0.3)

# ---- the site: the small facility, a corridor and a plant room, the panel ----
with open(os.path.join(ROOT, "tests/integration/fixtures/small.yaml.in"), encoding="utf-8") as f:
    text = f.read()
text = text.replace("@ROOT@", ROOT).replace("@SCRIPT@\n", f"      control: {FIFO}\n")
text = text.replace('      - {id: "102", kind: resident, beds: [A]}\n',
                    '      - {id: "102", kind: resident, beds: [A]}\n'
                    '      - {id: f1-corridor, name: 一层走廊, kind: corridor}\n'
                    '      - {id: plant, name: 设备间, kind: plant}\n')
text = text.replace("devices:\n", """devices:
  - id: fire-panel
    bus: sim1
    address: 11
    profile: fire-panel-gb26875
    room: plant
    poll_ms: 200
    places:
      - {fire_zone: 1, room: f1-corridor, spot: 一层东侧走廊}
      - {loop: 1, address: 17, room: "101", spot: 101室 吸顶烟感}
  - {id: lamp-corridor, bus: sim1, address: 12, profile: door-lamp, room: f1-corridor}
""")
text = text.replace("web:\n  enabled: false\n", f"""rules:
  - {{id: fire, kind: fire_zone}}
web:
  listen: 127.0.0.1
  port: {WEB_PORT}
  root: {ROOT}/web
uplink:
  enabled: true
  brokers: [tcp://127.0.0.1:{BROKER_PORT}]
  keepalive_s: 5
  reconnect_min_s: 1
  reconnect_max_s: 2
""")
config = os.path.join(TMP, "site.yaml")
with open(config, "w", encoding="utf-8") as f:
    f.write(text)
panel_line = text[:text.index("  - id: fire-panel")].count("\n") + 1

daemon = Daemon(config, name="fire").start()
ok(daemon.wait_log("web: serving", 15) and daemon.wait_log("ready:", 15), "the daemon starts",
   daemon.read_log()[-2000:])
ok(f"site.yaml:{panel_line}:5: warning: device \"fire-panel\": fire zones 2-8 have no place "
   "(places:); their alarms show at the panel's room \"plant\"" in daemon.read_log(),
   "the loader warns, with file:line, about the zones without a place")

# ---- a display's WebSocket ----
token = open(os.path.join(TMP, "setup-token")).read().strip()
conn = http.client.HTTPConnection("127.0.0.1", WEB_PORT, timeout=10)
conn.request("POST", "/api/v1/setup", body=json.dumps(
    {"token": token, "username": "admin1", "password": "correct-horse-1"}),
    headers={"Content-Type": "application/json"})
reply = conn.getresponse()
reply.read()
cookie = (reply.getheader("Set-Cookie") or "").split(";")[0]
ok(reply.status == 200 and cookie.startswith("wg_session="), "a user logs in")
ws = websocket.create_connection(f"ws://127.0.0.1:{WEB_PORT}/ws", subprotocols=["wardgate.v1"],
                                 cookie=cookie, origin=f"http://127.0.0.1:{WEB_PORT}", timeout=5)
first = json.loads(ws.recv())
ok(first.get("type") == "snapshot", "the display gets its snapshot")


def send(line):
    fd = os.open(FIFO, os.O_WRONLY | os.O_NONBLOCK)
    os.write(fd, (line + "\n").encode())
    os.close(fd)


def next_alarm(predicate, seconds=10):
    """The first alarm delta whose record satisfies predicate."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            message = json.loads(ws.recv())
        except websocket.WebSocketTimeoutException:
            continue
        if message.get("type") == "alarm" and predicate(message["alarm"]):
            return message
    return None


# ---- zone 1: mapped to the corridor ----
send("fire-panel zone1_fire 1")
delta = next_alarm(lambda a: a["kind"] == "fire" and a["fire_zone"] == 1)
alarm = delta["alarm"] if delta else {}
note(f"zone 1: {json.dumps(alarm, ensure_ascii=False)[:400]}")
ok(delta and delta["phase"] == "raise", "zone 1 in fire: an alarm is raised")
ok(alarm.get("place") == "一层东侧走廊" and alarm.get("room") == "f1-corridor"
   and alarm.get("room_name") == "一层走廊" and alarm.get("zone") == "f1",
   "... at the zone's place: its name, room and the room's name", alarm)
ok(alarm.get("device") == "fire-panel" and alarm.get("fire_loop") is None
   and alarm.get("fire_address") is None, "... from the panel, no detector named yet", alarm)
ok(wait_until(lambda: any(b.get("point") == "lamp" and b.get("value") == 3 and b.get("ok")
                          for _, _, b in daemon.events("write_result", "lamp-corridor")), 10),
   "the corridor's door lamp shows the fire pattern (the zone's room, not the panel's)")

# ---- the panel names the detector: the alarm moves to its place ----
send("fire-panel fire_loop 1")
send("fire-panel fire_address 17")
delta = next_alarm(lambda a: a["fire_zone"] == 1 and a.get("fire_address") == 17)
alarm = delta["alarm"] if delta else {}
ok(delta and delta["phase"] == "update" and alarm.get("place") == "101室 吸顶烟感"
   and alarm.get("room") == "101" and alarm.get("fire_loop") == 1,
   "the detector at loop 1 address 17 moves zone 1's alarm to its place", alarm)
ok(alarm.get("detail") == "fire panel zone 1, loop 1 address 17: 101室 吸顶烟感"
   and alarm.get("detail_code") == "fire_zone"
   and alarm.get("detail_args") == {"zone": 1, "loop": 1, "address": 17},
   "... and says so in its detail, and as a code with arguments", alarm)

# ---- zone 2: no place ----
send("fire-panel zone2_fire 1")
delta = next_alarm(lambda a: a["fire_zone"] == 2)
alarm = delta["alarm"] if delta else {}
ok(alarm.get("place") is None and alarm.get("room") == "plant" and alarm.get("room_name") == "设备间"
   and alarm.get("detail") == "fire panel zone 2",
   "an unmapped zone alarms at the panel's room, with its number", alarm)

# ---- a device's health reason reaches the display as a code ----
send("lamp-corridor health offline cable cut in the riser")
deadline, device = time.monotonic() + 10, None
while time.monotonic() < deadline and not device:
    try:
        message = json.loads(ws.recv())
    except websocket.WebSocketTimeoutException:
        continue
    if message.get("type") == "device" and message["device"]["id"] == "lamp-corridor":
        device = message["device"]
ok(device and device["health"] == "offline" and device["reason_code"] == "cable_cut"
   and device["reason"] == "cable cut in the riser",
   "a device going offline: the display's delta carries the reason and its code", device)
delta = next_alarm(lambda a: a["kind"] == "device_offline")
alarm = delta["alarm"] if delta else {}
ok(alarm.get("detail_code") == "device_offline"
   and alarm.get("detail_args") == {"reason_code": "cable_cut", "reason": "cable cut in the riser"},
   "... and its technical alarm says so as a code with arguments", alarm)
ws.close()

# ---- the district got the same ----
def alarm_messages():
    out = []
    with open(mqtt_file, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split(" ", 2)
            if len(parts) == 3 and parts[1].endswith("/alarm"):
                out.append(json.loads(parts[2])["alarm"])
    return out


ok(wait_until(lambda: len([a for a in alarm_messages() if a["kind"] == "fire"]) >= 3, 15),
   "the district gets the fire alarms", [a["phase"] for a in alarm_messages()])
messages = alarm_messages()
zone1 = [a for a in messages if a["fire_zone"] == 1]
ok(zone1 and zone1[0]["phase"] == "raise" and zone1[0]["location"]["place"] == "一层东侧走廊"
   and zone1[0]["location"]["room"] == "f1-corridor",
   "zone 1's raise carries the place and its room", zone1[:1])
ok(any(a["fire_loop"] == 1 and a["fire_address"] == 17
       and a["location"]["place"] == "101室 吸顶烟感" for a in zone1),
   "... and its update the detector's loop, address and place", zone1)
zone2 = [a for a in messages if a["fire_zone"] == 2]
ok(zone2 and zone2[0]["location"]["place"] is None and zone2[0]["location"]["room"] == "plant",
   "zone 2 carries its number and no place", zone2[:1])
ok(zone1 and zone1[0]["detail_code"] == "fire_zone" and zone1[0]["detail_args"] == {"zone": 1},
   "the district gets the detail as a code with arguments too", zone1[:1])
def health_codes():
    with open(mqtt_file, encoding="utf-8") as f:
        return [json.loads(p[2]).get("reason_code") for p in (line.rstrip("\n").split(" ", 2) for line in f)
                if len(p) == 3 and p[1].endswith("/health") and "lamp-corridor" in p[2]]


ok(wait_until(lambda: "cable_cut" in health_codes(), 10),
   "the district's health message carries the reason code", health_codes())
result = subprocess.run(["/usr/bin/python3", CHECK_MQTT, "validate", mqtt_file],
                        capture_output=True, text=True)
ok(result.returncode == 0, "every message matches its schema", result.stdout + result.stderr)

ok(daemon.stop() == 0, "the daemon stops cleanly")
done()
