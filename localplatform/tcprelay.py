"""A TCP relay from ports inside a node's network namespace to the same ports on host loopback.

The apiserver and the datastores listen on the host's 127.0.0.1 only, and the node's namespace
has no route to it. This process binds its listening sockets inside the node's namespace
(`setns`, then back: a socket keeps the namespace it was made in) and dials the target from the
host's. kubelet talks to `https://127.0.0.1:<port>` of its namespace as if the apiserver were
local; pods reach PostgreSQL, Redis and RabbitMQ on the node's own address (`--address`), the
endpoint of their datastore Services. Nothing listens outside the node's namespace. Run by
`realnode` as `python -m meridian.localplatform.tcprelay`.

The other way round (`--inbound`), for a host process that must reach a Service of the cluster
(the FailoverPlan operator verifying the DR services): it listens on the host's loopback and
dials a ClusterIP from inside the node's namespace, where kube-proxy's rules pick a ready pod.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import os
import socket
from collections.abc import Awaitable, Callable

_CLONE_NEWNET = 0x40000000


def _setns(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns({path}): {os.strerror(errno)}")
    finally:
        os.close(fd)


def socket_in(netns: str) -> socket.socket:
    """A TCP socket of the network namespace at `netns` (this thread is back home after)."""
    own = f"/proc/{os.getpid()}/task/{os.getpid()}/ns/net"
    home = os.open(own, os.O_RDONLY)
    try:
        _setns(netns)
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    finally:
        _setns(f"/proc/self/fd/{home}")
        os.close(home)


def listen_in(netns: str, port: int, address: str = "127.0.0.1") -> socket.socket:
    """A listening socket on `address`:`port` of the network namespace at `netns`."""
    sock = socket_in(netns)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen(128)
    return sock


def listen_on_host(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Dial = Callable[[], Awaitable[Streams]]


def to_host(port: int) -> Dial:
    """Dial the host's loopback at `port`."""
    return lambda: asyncio.open_connection("127.0.0.1", port)


def into(netns: str, address: str, port: int) -> Dial:
    """Dial `address`:`port` from inside the network namespace at `netns`."""

    async def dial() -> Streams:
        sock = socket_in(netns)
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, (address, port))
        except OSError:
            sock.close()
            raise
        return await asyncio.open_connection(sock=sock)

    return dial


async def serve(sock: socket.socket, dial: Dial) -> None:
    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await dial()
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    server = await asyncio.start_server(relay, sock=sock)
    async with server:
        await server.serve_forever()


async def _serve_all(routes: list[tuple[socket.socket, Dial]]) -> None:
    await asyncio.gather(*(serve(sock, dial) for sock, dial in routes))


def inbound(value: str) -> tuple[int, str, int]:
    """`HOSTPORT:ADDRESS:PORT` of `--inbound`."""
    host_port, address, port = value.split(":")
    return int(host_port), address, int(port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--netns", required=True, help="network namespace file to listen in")
    parser.add_argument(
        "--port", type=int, action="append", default=[], help="same port both sides; repeatable"
    )
    parser.add_argument("--address", default="127.0.0.1", help="listen address in the namespace")
    parser.add_argument(
        "--inbound",
        type=inbound,
        action="append",
        default=[],
        help="HOSTPORT:ADDRESS:PORT: the host's 127.0.0.1:HOSTPORT to ADDRESS:PORT dialled "
        "inside the namespace; repeatable",
    )
    args = parser.parse_args()
    if not args.port and not args.inbound:
        parser.error("nothing to relay: give --port or --inbound")
    routes = [(listen_in(args.netns, port, args.address), to_host(port)) for port in args.port]
    routes += [
        (listen_on_host(host_port), into(args.netns, address, port))
        for host_port, address, port in args.inbound
    ]
    if args.port:
        ports = ",".join(map(str, args.port))
        print(
            f"relaying {args.address}:{ports} in {args.netns} to the host's 127.0.0.1", flush=True
        )
    for host_port, address, port in args.inbound:
        print(f"relaying 127.0.0.1:{host_port} to {address}:{port} in {args.netns}", flush=True)
    asyncio.run(_serve_all(routes))


if __name__ == "__main__":
    main()
