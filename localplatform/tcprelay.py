"""A TCP relay from ports inside a node's network namespace to the same ports on host loopback.

The apiserver and the datastores listen on the host's 127.0.0.1 only, and the node's namespace
has no route to it. This process binds its listening sockets inside the node's namespace
(`setns`, then back: a socket keeps the namespace it was made in) and dials the target from the
host's. kubelet talks to `https://127.0.0.1:<port>` of its namespace as if the apiserver were
local; pods reach PostgreSQL, Redis and RabbitMQ on the node's own address (`--address`), the
endpoint of their datastore Services. Nothing listens outside the node's namespace. Run by
`realnode` as `python -m meridian.localplatform.tcprelay`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import os
import socket

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


def listen_in(netns: str, port: int, address: str = "127.0.0.1") -> socket.socket:
    """A listening socket on `address`:`port` of the network namespace at `netns`."""
    own = f"/proc/{os.getpid()}/task/{os.getpid()}/ns/net"
    home = os.open(own, os.O_RDONLY)
    try:
        _setns(netns)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(128)
    finally:
        _setns(f"/proc/self/fd/{home}")
        os.close(home)
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


async def serve(sock: socket.socket, target_port: int) -> None:
    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", target_port
            )
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    server = await asyncio.start_server(relay, sock=sock)
    async with server:
        await server.serve_forever()


async def _serve_all(sockets: dict[int, socket.socket]) -> None:
    await asyncio.gather(*(serve(sock, port) for port, sock in sockets.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--netns", required=True, help="network namespace file to listen in")
    parser.add_argument(
        "--port", type=int, action="append", required=True, help="same port both sides; repeatable"
    )
    parser.add_argument("--address", default="127.0.0.1", help="listen address in the namespace")
    args = parser.parse_args()
    sockets = {port: listen_in(args.netns, port, args.address) for port in args.port}
    ports = ",".join(map(str, args.port))
    print(f"relaying {args.address}:{ports} in {args.netns} to the host's 127.0.0.1", flush=True)
    asyncio.run(_serve_all(sockets))


if __name__ == "__main__":
    main()
