#!/usr/bin/python3
"""A farm of Modbus TCP devices for the soak test and the benchmark: N
pymodbus servers in one asyncio process, each on a loopback port of its own
(as N meters with a network card each), unit 1 with `--registers` holding
registers whose values move a little on every read.

  farm.py --count 250 --registers 20 --ports-out FILE [--read-times]

Once every server listens, FILE gets "control PORT" and then the devices'
ports, one a line (all picked by the kernel, so parallel farms never
collide). The control port (127.0.0.1) answers one command a line:

  count    read requests served since the last reset, all servers -> N
  counts   the same per device, in the order of the ports      -> [n, ...]
  dump F   (with --read-times) writes to file F, as JSON, each device's
           reads since the last reset: [{"<raw value of register 0>": unix
           time}, ...] in the order of the ports (register 0 counts up by
           one a read, so a reading that reaches a subscriber names the
           read it came from)                                    -> ok
  reset    -> ok

Run with /usr/bin/python3 (Debian's pymodbus 3.0)."""
import argparse
import asyncio
import json
import sys
import time

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server.async_io import ModbusTcpServer
from pymodbus.transaction import ModbusSocketFramer


class CountingDevice(ModbusSlaveContext):
    """Counts every read and lets the first register drift, like a meter."""

    def __init__(self, stats, index, **kwargs):
        super().__init__(**kwargs)
        self.stats = stats
        self.index = index

    def getValues(self, fc_as_hex, address, count=1):
        if fc_as_hex in (3, 4):
            self.stats["reads"] += 1
            self.stats["per_device"][self.index] += 1
            values = super().getValues(fc_as_hex, address, count)
            if address == 0 and values:
                if self.stats["read_times"] is not None:
                    self.stats["read_times"][self.index][values[0]] = time.time()
                super().setValues(fc_as_hex, 0, [(values[0] + 1) % 65536])
            return values
        return super().getValues(fc_as_hex, address, count)


async def control(reader, writer, stats):
    while True:
        line = await reader.readline()
        if not line:
            break
        command = line.decode().strip()
        if command == "count":
            reply = str(stats["reads"])
        elif command == "counts":
            reply = json.dumps(stats["per_device"])
        elif command.startswith("dump ") and stats["read_times"] is None:
            reply = "error dump needs --read-times"
        elif command.startswith("dump "):
            with open(command[5:], "w") as f:
                json.dump(stats["read_times"], f)
            reply = "ok"
        elif command == "reset":
            stats["reads"] = 0
            stats["per_device"] = [0] * len(stats["per_device"])
            for times in stats["read_times"] or []:
                times.clear()
            reply = "ok"
        else:
            reply = f"error unknown command {command!r}"
        writer.write((reply + "\n").encode())
        await writer.drain()
    writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--registers", type=int, default=20)
    parser.add_argument("--ports-out", required=True)
    parser.add_argument("--read-times", action="store_true", help="keep the time of every read (for dump)")
    args = parser.parse_args()
    stats = {"reads": 0, "per_device": [0] * args.count,
             "read_times": [{} for _ in range(args.count)] if args.read_times else None}
    servers = []
    for index in range(args.count):
        # One datastore per device: each meter has its own registers.
        device = CountingDevice(stats, index, zero_mode=True,
                                hr=ModbusSequentialDataBlock(0, list(range(2200, 2200 + args.registers))),
                                ir=ModbusSequentialDataBlock(0, [0] * args.registers),
                                co=ModbusSequentialDataBlock(0, [0] * 8),
                                di=ModbusSequentialDataBlock(0, [0] * 8))
        context = ModbusServerContext(slaves={1: device}, single=False)
        server = ModbusTcpServer(context, ModbusSocketFramer, None, ("127.0.0.1", 0),
                                 ignore_missing_slaves=True, backlog=8)
        asyncio.create_task(server.serve_forever())
        servers.append(server)
    for server in servers:
        await server.serving
    ports = [server.server.sockets[0].getsockname()[1] for server in servers]
    control_server = await asyncio.start_server(lambda r, w: control(r, w, stats), "127.0.0.1", 0)
    control_port = control_server.sockets[0].getsockname()[1]
    with open(args.ports_out + ".tmp", "w") as f:
        f.write(f"control {control_port}\n" + "\n".join(str(p) for p in ports) + "\n")
    import os
    os.rename(args.ports_out + ".tmp", args.ports_out)
    async with control_server:
        await control_server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
