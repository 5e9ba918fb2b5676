#!/usr/bin/python3
"""A Modbus slave for the tests and the benchmark, served by pymodbus.

Serves many unit ids over TCP or RTU (a pty from socat) from a JSON register
image, and opens a line-based control port on 127.0.0.1 so a test can change
values, silence a unit, read what the gateway wrote and count requests:

  set UNIT TABLE ADDR V [V...]   TABLE: co di hr ir          -> ok
  get UNIT TABLE ADDR N                                     -> v v v
  silent UNIT / answer UNIT      stop / resume replying     -> ok
  probes UNIT                    monotonic times of requests left unanswered -> t t t
  counts                         reads per "unit:fc", JSON  -> {...}
  times UNIT                     monotonic times of reads   -> t t t
  reset                          forget counts and times    -> ok

Image: {"units": {"1": {"size": 1024, "holes": {"hr": [5, 6]},
                        "hr": {"0": 1, "2": [16963, 16384]}, "co": {...}}}}
A list value fills consecutive addresses. Reads that touch a hole, or run
past `size`, get exception 2 (illegal data address) from pymodbus.

Run with /usr/bin/python3 (Debian's pymodbus; a pyenv python cannot see it).
"""
import argparse
import asyncio
import collections
import json
import sys
import time

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.exceptions import NoSuchSlaveException
from pymodbus.server import StartAsyncSerialServer, StartAsyncTcpServer
from pymodbus.transaction import ModbusRtuFramer, ModbusSocketFramer

TABLES = {"co": 1, "di": 2, "hr": 3, "ir": 4}
READ_FUNCTIONS = (1, 2, 3, 4)


class HoleyBlock(ModbusSequentialDataBlock):
    """A sequential block whose `holes` are unmapped: reading them is refused."""

    def __init__(self, address, values, holes):
        super().__init__(address, values)
        self.holes = set(holes)

    def validate(self, address, count=1):
        if any(a in self.holes for a in range(address, address + count)):
            return False
        return super().validate(address, count)


class CountingSlave(ModbusSlaveContext):
    """Counts every read request it serves, per function code."""

    def __init__(self, unit, stats, **kwargs):
        super().__init__(**kwargs)
        self.unit = unit
        self.stats = stats

    def getValues(self, fc_as_hex, address, count=1):
        if fc_as_hex in READ_FUNCTIONS:
            self.stats.counts[f"{self.unit}:{fc_as_hex}"] += 1
            self.stats.times[self.unit].append(time.monotonic())
        return super().getValues(fc_as_hex, address, count)


class Stats:
    def __init__(self):
        self.counts = collections.Counter()
        self.times = collections.defaultdict(lambda: collections.deque(maxlen=20000))
        self.probes = collections.defaultdict(lambda: collections.deque(maxlen=20000))


class SilenceableContext(ModbusServerContext):
    """Units in `silenced` get no reply (as if dead), but each request is noted."""

    def __init__(self, slaves, stats):
        super().__init__(slaves=slaves, single=False)
        self.silenced = set()
        self.stats = stats

    def __getitem__(self, slave):
        if slave in self.silenced:
            self.stats.probes[slave].append(time.monotonic())
            raise NoSuchSlaveException(f"unit {slave} is silenced")
        return super().__getitem__(slave)


def build_unit(unit, spec, stats):
    size = int(spec.get("size", 1024))
    holes = spec.get("holes", {})
    blocks = {}
    for table in TABLES:
        values = [0] * size
        for address, value in spec.get(table, {}).items():
            address = int(address, 0)
            for i, v in enumerate(value if isinstance(value, list) else [value]):
                values[address + i] = int(v)
        blocks[table] = HoleyBlock(0, values, holes.get(table, []))
    return CountingSlave(unit, stats, zero_mode=True, **blocks)


async def control(reader, writer, context, units, stats):
    while True:
        line = await reader.readline()
        if not line:
            break
        words = line.decode().split()
        reply = "ok"
        try:
            command = words[0] if words else ""
            if command == "set":
                unit, table, address = int(words[1]), words[2], int(words[3], 0)
                units[unit].setValues(TABLES[table], address, [int(v, 0) for v in words[4:]])
            elif command == "get":
                unit, table, address, count = int(words[1]), words[2], int(words[3], 0), int(words[4])
                values = ModbusSlaveContext.getValues(units[unit], TABLES[table], address, count)
                reply = " ".join(str(int(v)) for v in values)
            elif command == "silent":
                context.silenced.add(int(words[1]))
            elif command == "answer":
                context.silenced.discard(int(words[1]))
            elif command == "probes":
                reply = " ".join(f"{t:.4f}" for t in stats.probes[int(words[1])])
            elif command == "counts":
                reply = json.dumps(stats.counts)
            elif command == "times":
                reply = " ".join(f"{t:.4f}" for t in stats.times[int(words[1])])
            elif command == "reset":
                stats.counts.clear()
                stats.times.clear()
                stats.probes.clear()
            else:
                reply = f"error unknown command {command!r}"
        except (IndexError, KeyError, ValueError) as error:
            reply = f"error {error!r}"
        writer.write((reply + "\n").encode())
        await writer.drain()
    writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--image", required=True)
    parser.add_argument("--tcp", type=int, help="serve Modbus TCP on this port")
    parser.add_argument("--rtu", help="serve Modbus RTU on this serial device (a pty)")
    parser.add_argument("--baud", type=int, default=19200)
    parser.add_argument("--control", type=int, required=True, help="control port")
    args = parser.parse_args()

    image = json.load(open(args.image, encoding="utf-8"))
    stats = Stats()
    units = {int(u): build_unit(int(u), spec, stats) for u, spec in image["units"].items()}
    context = SilenceableContext(dict(units), stats)
    server = await asyncio.start_server(
        lambda r, w: control(r, w, context, units, stats), "127.0.0.1", args.control)
    async with server:
        if args.tcp:
            await StartAsyncTcpServer(context=context, address=("127.0.0.1", args.tcp),
                                      framer=ModbusSocketFramer, ignore_missing_slaves=True)
        else:
            await StartAsyncSerialServer(context=context, framer=ModbusRtuFramer, port=args.rtu,
                                         baudrate=args.baud, bytesize=8, parity="N", stopbits=1,
                                         timeout=0.05, ignore_missing_slaves=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
