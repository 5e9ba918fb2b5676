#!/usr/bin/python3
"""A fault injector on an RTU line: sits between the gateway's pty and pymodbus's.

Requests from the gateway are passed to the real slave (pymodbus); its
replies come back unchanged, or, for a unit put in a fault mode through the
control port, spoiled on the way:

  mode UNIT pass       unchanged
  mode UNIT garbage    the header kept, the data and CRC replaced by random bytes
  mode UNIT noise      random bytes of the same length
  mode UNIT short      a valid frame (good CRC) whose byte count is 2 less
  mode UNIT badexc     a valid exception frame with an undefined code (0x33)

Frames are delimited by silence, as on a real line.
"""
import argparse
import os
import random
import select
import socket
import threading
import time


def crc16(data):
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return bytes([crc & 0xFF, crc >> 8])


def read_frame(fd, first_wait, silence=0.01):
    ready, _, _ = select.select([fd], [], [], first_wait)
    if not ready:
        return b""
    frame = os.read(fd, 512)
    while True:
        ready, _, _ = select.select([fd], [], [], silence)
        if not ready:
            return frame
        frame += os.read(fd, 512)


def drain(fd):
    data = b""
    while select.select([fd], [], [], 0)[0]:
        chunk = os.read(fd, 512)
        if not chunk:
            break
        data += chunk
    return data


def spoil(reply, mode):
    if mode == "garbage" and len(reply) > 3:
        return reply[:3] + bytes(random.randrange(256) for _ in reply[3:])
    if mode == "noise":
        return bytes(random.randrange(256) for _ in reply)
    if mode == "short" and len(reply) > 5 and reply[1] in (1, 2, 3, 4):
        body = bytes([reply[0], reply[1], reply[2] - 2]) + reply[3:-4]
        return body + crc16(body)
    if mode == "badexc" and len(reply) > 2:
        body = bytes([reply[0], reply[1] | 0x80, 0x33])
        return body + crc16(body)
    return reply


def control(port, modes):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(1)
    while True:
        connection, _ = server.accept()
        stream = connection.makefile("rw")
        for line in stream:
            words = line.split()
            if len(words) == 3 and words[0] == "mode":
                modes[int(words[1])] = words[2]
                stream.write("ok\n")
            else:
                stream.write(f"error {line.strip()!r}\n")
            stream.flush()


def open_raw(path):
    import termios
    import tty
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    attrs = termios.tcgetattr(fd)
    attrs[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
    return fd


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--slave", required=True)
    parser.add_argument("--control", type=int, required=True)
    parser.add_argument("--reply-window", type=float, default=0.5,
                        help="seconds to wait for the slave's reply; keep it under the gateway's "
                             "timeout, so a reply is never forwarded after the gateway gave up")
    args = parser.parse_args()
    modes = {}
    threading.Thread(target=control, args=(args.control, modes), daemon=True).start()
    gateway, slave = open_raw(args.gateway), open_raw(args.slave)
    while True:
        request = read_frame(gateway, 1.0, 0.003)
        if not request:
            continue
        # A reply that came after its window belongs to a request the gateway
        # has given up on: dropped, never passed off as the next one's.
        stale = drain(slave)
        if stale:
            print(f"stale {len(stale)} bytes dropped", flush=True)
        os.write(slave, request)
        reply = read_frame(slave, args.reply_window)
        if reply:
            os.write(gateway, spoil(reply, modes.get(request[0], "pass")))
        else:
            print(f"late unit {request[0]}: no reply within {args.reply_window} s", flush=True)
        time.sleep(0)


if __name__ == "__main__":
    main()
