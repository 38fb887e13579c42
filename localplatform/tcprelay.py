"""A TCP relay from a loopback port inside a node's network namespace to one on the host's.

The apiserver listens on the host's 127.0.0.1 only, and the node's namespace has no route to it.
This process binds its listening socket inside the node's namespace (`setns`, then back: a
socket keeps the namespace it was made in) and dials the target from the host's, so kubelet
talks to `https://127.0.0.1:<port>` as if the apiserver were local and nothing listens on any
other address. Run by `realnode` as `python -m meridian.localplatform.tcprelay`.
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


def listen_in(netns: str, port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:`port` of the network namespace at `netns`."""
    own = f"/proc/{os.getpid()}/task/{os.getpid()}/ns/net"
    home = os.open(own, os.O_RDONLY)
    try:
        _setns(netns)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--netns", required=True, help="network namespace file to listen in")
    parser.add_argument("--port", type=int, required=True, help="loopback port, both sides")
    args = parser.parse_args()
    sock = listen_in(args.netns, args.port)
    print(f"relaying 127.0.0.1:{args.port} in {args.netns} to the host's", flush=True)
    asyncio.run(serve(sock, args.port))


if __name__ == "__main__":
    main()
