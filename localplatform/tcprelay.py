"""A TCP relay from ports inside a node's network namespace to the same ports on host loopback.

The apiserver and the datastores listen on the host's 127.0.0.1 only, and the node's namespace
has no route to it. This process binds its listening sockets inside the node's namespace
(`setns`, then back: a socket keeps the namespace it was made in) and dials the target from the
host's. kubelet talks to `https://127.0.0.1:<port>` of its namespace as if the apiserver were
local; pods reach PostgreSQL, Redis and RabbitMQ on the node's own address (`--address`), the
endpoint of their datastore Services. Nothing listens outside the node's namespace. Run by
`realnode` as `python -m meridian.localplatform.tcprelay`.

`--inward` is the other direction, for the one thing the host calls inside the node: the gateway
of the pod pipeline (`podpipeline`). It listens on the host's 127.0.0.1 and makes each upstream
socket inside the node's namespace, so it dials a ClusterIP there (kube-proxy's rules exist only
in that namespace) and the host reaches the gateway's Service like a load balancer would.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import os
import socket
import sys

_CLONE_NEWNET = 0x40000000


def _setns_fd(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def _setns(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        _setns_fd(fd)
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


class Inward:
    """Sockets made in a network namespace: the relay thread enters it only to create one (a
    socket keeps the namespace it was made in), so it never listens or resolves there."""

    def __init__(self, netns: str) -> None:
        self._netns = os.open(netns, os.O_RDONLY)
        self._home = os.open(f"/proc/{os.getpid()}/task/{os.getpid()}/ns/net", os.O_RDONLY)

    def socket(self) -> socket.socket:
        _setns_fd(self._netns)
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            _setns_fd(self._home)
        sock.setblocking(False)
        return sock


def parse_inward(value: str) -> tuple[int, str, int]:
    """`PORT=ADDRESS:TARGET`: listen on the host's 127.0.0.1:PORT, dial ADDRESS:TARGET inside."""
    port, _, target = value.partition("=")
    address, _, target_port = target.rpartition(":")
    if not (port.isdigit() and address and target_port.isdigit()):
        raise argparse.ArgumentTypeError(f"{value!r} is not PORT=ADDRESS:PORT")
    return int(port), address, int(target_port)


def listen_here(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


async def serve_inward(inward: Inward, sock: socket.socket, address: str, target_port: int) -> None:
    loop = asyncio.get_running_loop()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = inward.socket()
        try:
            await loop.sock_connect(upstream, (address, target_port))
            upstream_reader, upstream_writer = await asyncio.open_connection(sock=upstream)
        except OSError:
            upstream.close()
            writer.close()
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    server = await asyncio.start_server(relay, sock=sock)
    async with server:
        await server.serve_forever()


async def _serve_all(
    sockets: dict[int, socket.socket],
    inward: Inward | None,
    targets: dict[socket.socket, tuple[str, int]],
) -> None:
    await asyncio.gather(
        *(serve(sock, port) for port, sock in sockets.items()),
        *(serve_inward(inward, sock, *target) for sock, target in targets.items() if inward),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--netns", required=True, help="network namespace file to listen in")
    parser.add_argument(
        "--port", type=int, action="append", default=[], help="same port both sides; repeatable"
    )
    parser.add_argument("--address", default="127.0.0.1", help="listen address in the namespace")
    parser.add_argument(
        "--inward",
        type=parse_inward,
        action="append",
        default=[],
        help="PORT=ADDRESS:PORT: the host's 127.0.0.1:PORT to ADDRESS:PORT in the namespace",
    )
    args = parser.parse_args()
    if not args.port and not args.inward:
        parser.error("nothing to relay: give --port or --inward")
    sockets = {port: listen_in(args.netns, port, args.address) for port in args.port}
    if sockets:
        ports = ",".join(map(str, args.port))
        print(
            f"relaying {args.address}:{ports} in {args.netns} to the host's 127.0.0.1", flush=True
        )
    inward = Inward(args.netns) if args.inward else None
    targets = {listen_here(port): (address, target) for port, address, target in args.inward}
    for port, address, target in args.inward:
        print(f"relaying the host's 127.0.0.1:{port} to {address}:{target} in {args.netns}")
    sys.stdout.flush()
    asyncio.run(_serve_all(sockets, inward, targets))


if __name__ == "__main__":
    main()
