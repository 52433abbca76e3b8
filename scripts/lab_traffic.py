#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Real traffic for the veth lab: UDP sink/sender and TCP listener/probe.

Run each side inside its namespace (nsenter --net=/var/run/netns/NAME).
  udp-sink ADDR PORT SECONDS           print how many datagrams arrived
  udp-send ADDR PORT COUNT [SRC]       send COUNT datagrams (optionally from SRC)
  tcp-listen ADDR PORT SECONDS         accept connections for SECONDS
  tcp-probe ADDR PORT [TIMEOUT]        print "open" or "no answer"
"""
import socket
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def udp_sink(addr, port, seconds):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.bind((addr, int(port)))
    s.settimeout(0.2)
    end, n = time.time() + float(seconds), 0
    while time.time() < end:
        try:
            s.recv(65535)
            n += 1
        except socket.timeout:
            pass
    print(n)


def udp_send(addr, port, count, src=None):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    if src:
        s.bind((src, 0))
    for i in range(int(count)):
        s.sendto(b"xdpfw-lab %d" % i, (addr, int(port)))
        time.sleep(0.005)


def tcp_listen(addr, port, seconds):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(16)
    s.settimeout(0.2)
    end = time.time() + float(seconds)
    while time.time() < end:
        try:
            c, _ = s.accept()
            c.close()
        except socket.timeout:
            pass


def tcp_probe(addr, port, timeout="1.5"):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.settimeout(float(timeout))
    try:
        s.connect((addr, int(port)))
        print("open")
    except (socket.timeout, OSError):
        print("no answer")


def main():
    cmds = {"udp-sink": udp_sink, "udp-send": udp_send, "tcp-listen": tcp_listen,
            "tcp-probe": tcp_probe}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
