#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/<target>/corpus/),
mostly from the repository's own files and tests, so that the fuzzers start
from inputs the product really gets. Run it again when a format grows; the
inputs a fuzzer found and that are worth keeping (a finding's regression
input) are named "regress-*" and are kept. docs/fuzzing.md describes each
target's input."""
import glob
import os
import re

import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def corpus(target):
    """The target's corpus directory, emptied of generated seeds."""
    path = os.path.join(HERE, target, "corpus")
    os.makedirs(path, exist_ok=True)
    for old in glob.glob(os.path.join(path, "*")):
        if not os.path.basename(old).startswith("regress-"):
            os.unlink(old)
    return path


def write(target, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(HERE, target, "corpus", name), "wb") as f:
        f.write(data)


def cut_facility():
    """config/facility.yaml with its profile glob narrowed to the profiles
    used, five residents, one device of each profile (and the reset units
    of their rooms, which latching alarms need), no comments: loading stays
    fast, so the fuzzer runs more often."""
    text = open(os.path.join(ROOT, "config/facility.yaml"), encoding="utf-8").read()
    head, rest = text.split("\nresidents:\n", 1)
    residents, rest = rest.split("\nbuses:\n", 1)
    buses, rest = rest.split("\ndevices:\n", 1)
    devices, tail = rest.split("\nrules:\n", 1)
    kept_residents = [line for line in residents.splitlines() if line.startswith("  - {")][:5]
    # Device entries: one line each, or a block (a "  - " line, then deeper lines).
    entries = []
    for line in devices.splitlines():
        if line.startswith("  - "):
            entries.append(line)
        elif entries and line.startswith("    "):
            entries[-1] += "\n" + line
    room_of = lambda entry: (re.search(r'\n?\s+-? ?\{?.*?\broom: "?([A-Za-z0-9-]+)"?', entry) or [None, None])[1]
    per_profile = {}
    kept = []
    for entry in entries:
        profile = re.search(r"profile: ([a-z0-9-]+)", entry).group(1)
        if profile not in per_profile:
            per_profile[profile] = entry
            kept.append(entry)
    rooms = {room_of(entry) for entry in kept} - {None}
    for entry in entries:
        if "profile: presence-reset" in entry and room_of(entry) in rooms and entry not in kept:
            kept.append(entry)
    # Only the rooms something names (and one per zone, which needs rooms).
    named = "\n".join(kept + kept_residents)
    needed = set(re.findall(r'\broom: "?([A-Za-z0-9-]+)"?', named)) | set(re.findall(r"\bbed: ([A-Za-z0-9]+)-", named))
    zone_blocks = re.split(r"(?=\n  - id: )", head.split("\nzones:\n", 1)[1])
    for block in zone_blocks:
        room_lines = [line for line in block.splitlines() if line.startswith("      - {id:")]
        keep = [line for line in room_lines
                if re.match(r'      - \{id: "?([A-Za-z0-9-]+)"?', line).group(1) in needed] or room_lines[:1]
        for line in room_lines:
            if line not in keep:
                head = head.replace(line + "\n", "", 1)
    profiles = "".join(f"  - profiles/{p}.yaml\n" for p in sorted(per_profile))
    head = re.sub(r"\nprofiles:\n(  - .*\n)+", "\nprofiles:\n" + profiles, head + "\n")
    text = (head + "residents:\n" + "\n".join(kept_residents) + "\nbuses:\n" + buses +
            "\ndevices:\n" + "\n".join(kept) + "\nrules:\n" + tail)
    # Without its comments: every byte of a seed is mutated and parsed at every run.
    lines = [re.sub(r"\s+#.*$", "", line) for line in text.splitlines() if not line.lstrip().startswith("#")]
    return "\n".join(line for line in lines if line.strip()) + "\n"


def config_seeds():
    """First byte: 0 the site file, 1 a profile (tests/fuzz/config/fuzz.c)."""
    corpus("config")
    write("config", "facility-cut", b"\0" + cut_facility().encode())
    small = open(os.path.join(ROOT, "tests/integration/fixtures/small.yaml.in"), encoding="utf-8").read()
    small = small.replace('"@ROOT@/config/profiles/*.yaml"', "profiles/call-point.yaml\n  - profiles/pull-cord.yaml\n"
                          "  - profiles/presence-reset.yaml\n  - profiles/bed-sensor-r60abd1.yaml\n"
                          "  - profiles/eastron-sdm120.yaml")
    small = small.replace("@SCRIPT@\n", "      script:\n        - {at_ms: 2500, device: call-101A, point: call, value: 1}\n")
    write("config", "small", b"\0" + small.encode())
    for path in sorted(glob.glob(os.path.join(ROOT, "tests/configs/bad/*.yaml"))):
        write("config", "bad-" + os.path.basename(path)[:-5], b"\0" + open(path, "rb").read())
    for path in sorted(glob.glob(os.path.join(ROOT, "config/profiles/*.yaml"))):
        write("config", "profile-" + os.path.basename(path)[:-5], b"\1" + open(path, "rb").read())


def uplink_command_seeds():
    """A command as the broker delivers it; the same bytes are also read as a time."""
    corpus("uplink_command")
    commands = [
        '{"request":"r-1","command":"snapshot"}',
        '{"request":"r-2","command":"devices"}',
        '{"request":"r-3","command":"alarm_history","args":{"from":"2024-05-01T00:00:00+08:00",'
        '"to":"2024-05-02T00:00:00+08:00","limit":500}}',
        '{"request":"r-4","command":"response_times","args":{"from":1714492800000,"to":1714564800000}}',
        '{"request":"r-5","command":"alarm_history","args":{"from":"2024-05-02T00:00:00.25-Z"}}',
        '{"request":"r-6","command":"reset","args":{"alarm":"a1"}}',
        '{"request":"r 7","command":"snapshot","extra":1}',
        '{"command":"snapshot","request":"r-8","args":[]}',
        '[1,2,3]',
    ]
    times = ["2024-05-01T20:00:00.250+08:00", "2024-05-01t12:00:00z", "2016-12-31T23:59:60Z",
             "1970-01-01 00:00:00.000001-00:00", "2024-05-02T00:00:00.25-Z", "9999-12-31T23:59:59-23:59"]
    for i, text in enumerate(commands):
        write("uplink_command", f"command-{i}", text)
    for i, text in enumerate(times):
        write("uplink_command", f"time-{i}", text)


def api_parse_seeds():
    """First byte: 0 a query string, 1 a body (tests/fuzz/api_parse/fuzz.c)."""
    corpus("api_parse")
    queries = ["from=1714492800000&to=1714564800000&kind=alarm&priority=urgent&room=101&"
               "device=101-A-call&alarm=5b0c&before=42&limit=200&format=csv",
               "room=%E4%B8%80%E6%A5%BC+b&limit=1000", "limit=-1", "kind=a%26b%3Dc", "x=1", "limit=%zz",
               "&&=&", "format=json&format=csv"]
    bodies = ['{"username":"nurse1","password":"correct-horse-1"}',
              '{"username":"u","role":"nurse","password":"pppppppppppp"}',
              '{"username":"u","username":"v"}', '{"role":7}', '[]', '{"password":"\\u00e9"}', '']
    for i, text in enumerate(queries):
        write("api_parse", f"query-{i}", b"\0" + text.encode())
    for i, text in enumerate(bodies):
        write("api_parse", f"body-{i}", b"\1" + text.encode())


def ws_message_seeds():
    corpus("ws_message")
    messages = ['{"type":"ack","alarm":"5b0c7e8a-1d2f-4a3b-8c4d-5e6f7a8b9c0d","ref":7,'
                '"csrf":"q3Jx1hYpD2mH0vLwzS9r0uJ3b5Cq1kXyA2n4Ef6Gh7I"}',
                '{"csrf":"t","alarm":"a","type":"ack"}', '{"type":"ack","alarm":"a","csrf":"t","ref":1.5}',
                '{"type":"silence"}', 'ack']
    for i, text in enumerate(messages):
        write("ws_message", f"message-{i}", text)


def mb_point_seeds():
    """Every source map of the Modbus profiles: a byte choosing the point's
    kind, direction and meaning, the map's YAML, a NUL, then four registers
    and a double to write (tests/fuzz/mb_point/fuzz.c)."""
    corpus("mb_point")
    answer = struct.pack(">4H", 0x4366, 0x8000, 0x00BC, 0x614E) + struct.pack("<d", 1.0)
    n = 0
    for path in sorted(glob.glob(os.path.join(ROOT, "config/profiles/*.yaml"))):
        if os.path.basename(path).startswith("gpio-"):
            continue
        for line in open(path, encoding="utf-8"):
            m = re.search(r"source: (\{.*?\})\}\s*$", line)
            if not m:
                continue
            source = m.group(1)
            bool_point = re.search(r"function: [12]\b|bit:|mask:|equals:|write_on:", source) is not None
            output = "write_function" in source
            meaning = 2 if "valve" in line else 0
            choice = (0 if bool_point else 1) | (4 if output else 0) | (meaning << 3)
            write("mb_point", f"source-{n:03d}", bytes([choice]) + source.encode() + b"\0" + answer)
            n += 1
    # Analog outputs (no shipped profile has one: a setpoint, a valve position)
    # in every type and order, and sources the parser must refuse.
    analog_output = 1 | 4
    extra = [(analog_output, "{function: 3, address: 10, type: %s, order: %s, write_function: 16, scale: 0.1, "
                             "offset: -40}" % (t, o)) for t in ("i32", "u32", "f32") for o in ("abcd", "cdab", "badc", "dcba")]
    extra += [(analog_output, "{function: 3, address: 10, type: %s, write_function: %d}" % (t, f))
              for t, f in (("u16", 6), ("i16", 6), ("u64", 16), ("i16", 16))]
    extra += [(0, "{function: 3, address: 1, bit: 3, mask: 8}"),
              (0 | 4, "{function: 3, address: 1, type: u32, write_function: 6}"),
              (0 | 4, "{function: 3, address: 1, write_function: 6, write_on: 65536}"),
              (1, "{function: 4, address: 65535, type: u32}")]
    for choice, source in extra:
        write("mb_point", f"source-{n:03d}", bytes([choice]) + source.encode() + b"\0" + answer
              [:8] + struct.pack("<d", -12.5))
        n += 1


def words_of(path, pattern=r"static const char \*const \w+\[\] = \{(.*?)\};"):
    """The string literals of the word lists in a C file (key names, kinds...)."""
    text = open(os.path.join(ROOT, path), encoding="utf-8").read()
    found = []
    for block in re.findall(pattern, text, re.S):
        found += re.findall(r'"([a-z][a-z0-9_]*)"', block)
    return sorted(set(found))


def loader_words():
    """The words of the config loader's files (gateway/config/config_*.c, not the edits)."""
    words = set()
    for path in sorted(glob.glob(os.path.join(ROOT, "gateway/config/config_*.c"))):
        if not os.path.basename(path).startswith("config_edit"):
            words.update(words_of(os.path.relpath(path, ROOT)))
    return sorted(words)


def write_dict(target, words, suffix=""):
    """A libFuzzer dictionary (tests/fuzz/<target>/dict): the format's words."""
    with open(os.path.join(HERE, target, "dict"), "w", encoding="utf-8") as f:
        f.write("# Generated by tests/fuzz/make_seeds.py: the words of the format.\n")
        for word in words:
            f.write('"%s%s"\n' % (word.replace("\\", "\\\\").replace('"', '\\"'), suffix))


def main():
    write_dict("config", loader_words() + words_of("gateway/common/meaning.c"), ":")
    write_dict("mb_point", words_of("plugins/modbus/mb_point.c") + ["bit", "u16", "i16", "u32", "i32", "u64",
                                                                      "f32", "abcd", "cdab", "badc", "dcba"])
    write_dict("uplink_command", words_of("gateway/uplink/uplink_command.c") + ["request", "command", "args", "from",
                                                                          "to", "limit", "+08:00", "Z"])
    write_dict("api_parse", ["from=", "to=", "kind=", "priority=", "room=", "device=", "alarm=", "before=",
                             "limit=", "format=", "%", "%00", "+", "&", "username", "password", "role"])
    write_dict("ws_message", ["type", "ack", "alarm", "ref", "csrf"])
    config_seeds()
    uplink_command_seeds()
    api_parse_seeds()
    ws_message_seeds()
    mb_point_seeds()


main()
