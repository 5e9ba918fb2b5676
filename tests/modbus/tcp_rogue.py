#!/usr/bin/python3
"""Modbus TCP endpoints that misbehave, one way each, for the reactor tests.

  tcp_rogue.py --ports-out FILE

Each endpoint answers a read (any function, any count) on a loopback port of
its own, chosen by the kernel. FILE gets one line per endpoint, "BEHAVIOUR
PORT", once all listen:

  wrong_tid     the right reply under another transaction id
  wrong_unit    the right reply from another unit (unit + 6)
  truncated     the first 5 bytes of the reply, then silence (the connection stays)
  oversize      a header whose length field is 300 (no Modbus TCP frame is that long)
  exception     exception 4 (slave device failure)
  close_mid     9 bytes of the reply, then the connection is closed
  silent        accepts, reads, never answers
  refused       nothing listens: the port is bound, not listening, so connects are refused

Registers read as 100 + their address.
"""
import argparse
import asyncio
import os
import socket
import struct

BEHAVIOURS = ["wrong_tid", "wrong_unit", "truncated", "oversize", "exception", "close_mid",
              "silent"]


def reply_for(request):
    transaction, _, _, unit, function, address, count = struct.unpack(">HHHBBHH", request[:12])
    if function in (3, 4):
        data = b"".join(struct.pack(">H", (100 + address + i) & 0xFFFF) for i in range(count))
    else:
        data = bytes((count + 7) // 8)
    pdu = bytes([function, len(data)]) + data
    return transaction, unit, function, pdu


def frame(transaction, unit, pdu):
    return struct.pack(">HHHB", transaction, 0, len(pdu) + 1, unit) + pdu


async def serve(behaviour, reader, writer):
    try:
        while True:
            header = await reader.readexactly(7)
            length = struct.unpack(">H", header[4:6])[0]
            body = await reader.readexactly(length - 1)
            transaction, unit, function, pdu = reply_for(header + body)
            good = frame(transaction, unit, pdu)
            if behaviour == "wrong_tid":
                writer.write(frame((transaction + 1) & 0xFFFF, unit, pdu))
            elif behaviour == "wrong_unit":
                writer.write(frame(transaction, (unit + 6) & 0xFF, pdu))
            elif behaviour == "truncated":
                writer.write(good[:5])
            elif behaviour == "oversize":
                writer.write(struct.pack(">HHHB", transaction, 0, 300, unit) + pdu)
            elif behaviour == "exception":
                writer.write(frame(transaction, unit, bytes([function | 0x80, 4])))
            elif behaviour == "close_mid":
                writer.write(good[:9])
                await writer.drain()
                writer.close()
                return
            elif behaviour == "silent":
                pass
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ports-out", required=True)
    args = parser.parse_args()
    lines = []
    servers = []
    for behaviour in BEHAVIOURS:
        server = await asyncio.start_server(
            lambda r, w, b=behaviour: serve(b, r, w), "127.0.0.1", 0)
        servers.append(server)
        lines.append(f"{behaviour} {server.sockets[0].getsockname()[1]}")
    refused = socket.socket()  # bound and kept, never listening: connects are refused
    refused.bind(("127.0.0.1", 0))
    lines.append(f"refused {refused.getsockname()[1]}")
    with open(args.ports_out + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(args.ports_out + ".tmp", args.ports_out)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
