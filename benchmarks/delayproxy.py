"""A TCP proxy on loopback that delays every byte by a fixed time in each direction.

Stands in for the network between a migration client and a distant server, where
kernel netem is not available:

    python benchmarks/delayproxy.py --upstream-port 5432 --one-way-ms 5 [--max-seconds 3600]

prints the port it listens on (127.0.0.1) and forwards each connection to
127.0.0.1:UPSTREAM_PORT. Data read from one side is written to the other ``one-way-ms``
after it arrived; reads are large (1 MiB) and deliveries overlap, so the delay adds
latency without throttling bandwidth. It counts *turns* per connection: a turn is data
from the client after the server last spoke (or the connection's first data), i.e. one
request/response round trip the client waited for.

Loopback only: it listens on 127.0.0.1 and refuses other upstream hosts. It stops by
itself after ``--max-seconds`` (default one hour), closing every connection, and on
SIGINT/SIGTERM. :class:`DelayProxy` runs the same proxy on a thread of the caller.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import socket
import sys
import threading
import time
from dataclasses import dataclass, field

READ_SIZE = 1 << 20
DEFAULT_MAX_SECONDS = 3600.0


@dataclass
class Counts:
    connections: int = 0
    turns: int = 0  # request/response round trips, summed over connections
    bytes_up: int = 0  # client -> server
    bytes_down: int = 0  # server -> client
    # With DelayProxy(log_turns=True): what each turn started with, by kind (turn_kind).
    kinds: dict[str, int] = field(default_factory=dict)


def _loopback(host: str) -> str:
    try:
        addr = ipaddress.ip_address(socket.gethostbyname(host))
    except (OSError, ValueError):
        raise ValueError(f"cannot resolve upstream host {host!r}") from None
    if not addr.is_loopback:
        raise ValueError(f"upstream {host} is not a loopback address: the proxy is loopback-only")
    return str(addr)


class _Link:
    """One client connection and its upstream connection."""

    def __init__(self, proxy: DelayProxy) -> None:
        self.proxy = proxy
        self.last_up = False  # the last data seen went client -> server

    async def pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   up: bool) -> None:
        """Read from one side, deliver to the other ``delay`` seconds after arrival."""
        delay = self.proxy.one_way_s
        pending: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await pending.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(deliver())
        try:
            while True:
                data = await reader.read(READ_SIZE)
                now = time.monotonic()
                if not data:
                    break
                self.count(data, up)
                pending.put_nowait((now + delay, data))
        except (ConnectionError, OSError):
            pass
        pending.put_nowait((time.monotonic() + delay, None))
        with contextlib.suppress(ConnectionError, OSError):
            await sender

    def count(self, data: bytes, up: bool) -> None:
        c = self.proxy.counts
        if up:
            c.bytes_up += len(data)
            if not self.last_up:
                c.turns += 1
                if self.proxy.log_turns:
                    kind = turn_kind(data)
                    c.kinds[kind] = c.kinds.get(kind, 0) + 1
        else:
            c.bytes_down += len(data)
        self.last_up = up


# Statement kinds a turn is classified by: the first words of its query, in this order.
_KINDS = [(b"BEGIN", "BEGIN"), (b"COMMIT", "COMMIT"), (b"ROLLBACK", "ROLLBACK"),
          (b"COPY", "COPY"), (b"INSERT INTO \"_pystream_migrate\".done", "resume record"),
          (b"ANALYZE", "ANALYZE"), (b"CREATE INDEX", "CREATE INDEX"),
          (b"CREATE UNIQUE INDEX", "CREATE INDEX"), (b"ALTER TABLE", "ALTER TABLE"),
          (b"CREATE TABLE", "CREATE TABLE"), (b"SELECT", "SELECT"), (b"SET", "SET"),
          (b"TRUNCATE", "TRUNCATE"), (b"WITH", "SELECT")]


def turn_kind(data: bytes) -> str:
    """What a turn (the client's first bytes after the server spoke) asks for.

    A simple query ('Q') or a Parse ('P') by its first words (a script of several
    statements counts as its first one, with \"script\" added); COPY data sent after a
    CopyInResponse is \"COPY data\"; the rest by message type.
    """
    if not data:
        return "?"
    tag = data[:1]
    if tag == b"Q":
        text = data[5:]
    elif tag == b"P":
        text = data[5:].split(b"\0", 1)[-1]
    elif tag in (b"d", b"c"):
        return "COPY data"
    elif tag == b"p":
        return "connection (auth)"
    elif len(data) >= 8 and data[:1] == b"\0":
        return "connection (start-up)"
    else:
        return f"message {tag!r}"
    text = text.split(b"\0", 1)[0].lstrip()
    kind = next((k for prefix, k in _KINDS if text.upper().startswith(prefix.upper())),
                b" ".join(text.split()[:2]).decode("utf-8", "replace")[:40])
    return kind + (" script" if b";" in text.rstrip(b"\0; \n") else "")


class DelayProxy:
    """The proxy; ``start()`` runs it on a daemon thread and returns the listening port.

    With ``log_turns``, :attr:`Counts.kinds` counts turns by what they ask (:func:`turn_kind`).
    """

    def __init__(self, upstream_port: int, one_way_ms: float, *,
                 upstream_host: str = "127.0.0.1",
                 max_seconds: float = DEFAULT_MAX_SECONDS, log_turns: bool = False) -> None:
        self.log_turns = log_turns
        self.upstream = (_loopback(upstream_host), upstream_port)
        self.one_way_s = one_way_ms / 1000.0
        self.max_seconds = max_seconds
        self.counts = Counts()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def set_delay(self, one_way_ms: float) -> None:
        """The delay for connections opened from now on (and data arriving from now on)."""
        self.one_way_s = one_way_ms / 1000.0

    def reset_counts(self) -> Counts:
        """Return the counts so far and start again from zero."""
        old, self.counts = self.counts, Counts()
        return old

    async def _handle(self, c_reader: asyncio.StreamReader,
                      c_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        self.counts.connections += 1
        try:
            s_reader, s_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            c_writer.close()
            self._tasks.discard(task)  # type: ignore[arg-type]
            return
        link = _Link(self)
        try:
            await asyncio.gather(link.pump(c_reader, s_writer, True),
                                 link.pump(s_reader, c_writer, False))
        finally:
            for w in (s_writer, c_writer):
                w.close()
            self._tasks.discard(task)  # type: ignore[arg-type]

    async def serve(self, announce: bool = False) -> None:
        self._stop = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0,
                                            limit=READ_SIZE)
        self.port = int(server.sockets[0].getsockname()[1])
        if announce:
            print(self.port, flush=True)
        self._ready.set()
        try:
            await asyncio.wait_for(self._stop.wait(), self.max_seconds)
        except TimeoutError:
            print(f"delayproxy: stopping after {self.max_seconds:.0f}s (--max-seconds)",
                  file=sys.stderr, flush=True)
        server.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await server.wait_closed()

    def start(self) -> int:
        self._thread = threading.Thread(target=lambda: asyncio.run(self.serve()),
                                        name="delayproxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the delay proxy did not start")
        return self.port

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def __enter__(self) -> DelayProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--upstream-port", type=int, required=True)
    p.add_argument("--upstream-host", default="127.0.0.1", help="a loopback address")
    p.add_argument("--one-way-ms", type=float, default=5.0,
                   help="delay per direction (round trip: twice this); default 5")
    p.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS,
                   help="stop by itself after this long (default 3600)")
    a = p.parse_args(argv)
    try:
        proxy = DelayProxy(a.upstream_port, a.one_way_ms, upstream_host=a.upstream_host,
                           max_seconds=a.max_seconds)
    except ValueError as exc:
        p.error(str(exc))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(proxy.serve(announce=True))
    c = proxy.counts
    print(f"delayproxy: {c.connections} connections, {c.turns} turns, "
          f"{c.bytes_up} bytes up, {c.bytes_down} bytes down", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
