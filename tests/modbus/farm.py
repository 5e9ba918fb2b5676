#!/usr/bin/python3
"""A farm of Modbus TCP devices for the soak test and the benchmark: N
pymodbus servers in one asyncio process, each on a loopback port of its own
(as N meters with a network card each), unit 1 with `--registers` holding
registers whose values move a little on every read.

  farm.py --count 250 --registers 20 --ports-out FILE

Once every server listens, FILE gets "control PORT" and then the devices'
ports, one a line (all picked by the kernel, so parallel farms never
collide). The control port (127.0.0.1) answers one command a line:

  count    read requests served since the last reset, all servers -> N
  times    when each server was read since the last reset (time.monotonic(),
           the kernel's CLOCK_MONOTONIC) -> JSON {"PORT": [t, ...], ...}
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

    def __init__(self, stats, **kwargs):
        super().__init__(**kwargs)
        self.stats = stats
        self.times = []

    def getValues(self, fc_as_hex, address, count=1):
        if fc_as_hex in (3, 4):
            self.stats["reads"] += 1
            self.times.append(time.monotonic())
            values = super().getValues(fc_as_hex, address, count)
            if address == 0 and values:
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
        elif command == "times":
            reply = json.dumps({str(port): device.times for port, device in stats["devices"].items()})
        elif command == "reset":
            stats["reads"] = 0
            for device in stats["devices"].values():
                device.times = []
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
    args = parser.parse_args()
    stats = {"reads": 0, "devices": {}}
    servers = []
    devices = []
    for _ in range(args.count):
        # One datastore per device: each meter has its own registers.
        device = CountingDevice(stats, zero_mode=True,
                                hr=ModbusSequentialDataBlock(0, list(range(2200, 2200 + args.registers))),
                                ir=ModbusSequentialDataBlock(0, [0] * args.registers),
                                co=ModbusSequentialDataBlock(0, [0] * 8),
                                di=ModbusSequentialDataBlock(0, [0] * 8))
        context = ModbusServerContext(slaves={1: device}, single=False)
        server = ModbusTcpServer(context, ModbusSocketFramer, None, ("127.0.0.1", 0),
                                 ignore_missing_slaves=True, backlog=8)
        asyncio.create_task(server.serve_forever())
        servers.append(server)
        devices.append(device)
    for server in servers:
        await server.serving
    ports = [server.server.sockets[0].getsockname()[1] for server in servers]
    stats["devices"] = dict(zip(ports, devices))
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
