"""A fast SMTP sink for the benchmarks: accepts every message and discards it, counting.

aiosmtpd tops out near 2,300 messages/s on these machines, which would hide Herald's own
ceiling; this sink is one asyncio protocol with no parsing beyond the command verb and the
end-of-data marker. ``XCOUNT`` (a private command) answers ``250 <messages accepted>``.

Run it in its own process: ``python -m bench.smtp_sink PORT``.
"""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import sys

_END = b"\r\n.\r\n"
_REPLIES = {
    b"EHLO": b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 104857600\r\n",
    b"HELO": b"250 sink\r\n",
    b"MAIL": b"250 OK\r\n",
    b"RCPT": b"250 OK\r\n",
    b"RSET": b"250 OK\r\n",
    b"NOOP": b"250 OK\r\n",
}


class _Counter:
    messages = 0


class SinkProtocol(asyncio.Protocol):
    """One SMTP session."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.buffer = bytearray()
        self.in_data = False
        self.transport.write(b"220 sink ESMTP\r\n")  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.in_data:
                end = self.buffer.find(_END)
                if end < 0:
                    # keep only what could hold a marker split across reads
                    del self.buffer[: max(0, len(self.buffer) - 4)]
                    return
                del self.buffer[: end + len(_END)]
                self.in_data = False
                _Counter.messages += 1
                self.transport.write(b"250 OK queued\r\n")  # type: ignore[attr-defined]
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                return
            line = bytes(self.buffer[:end])
            del self.buffer[: end + 2]
            verb = line[:4].upper()
            if verb == b"DATA":
                self.in_data = True
                # DATA's terminator may follow at once: search from the start of the body
                self.buffer[:0] = b"\r\n"
                self.transport.write(b"354 go ahead\r\n")  # type: ignore[attr-defined]
            elif verb == b"QUIT":
                self.transport.write(b"221 bye\r\n")  # type: ignore[attr-defined]
                self.transport.close()  # type: ignore[attr-defined]
                return
            elif verb == b"XCOU":
                reply = f"250 {_Counter.messages}\r\n".encode()
                self.transport.write(reply)  # type: ignore[attr-defined]
            else:
                self.transport.write(_REPLIES.get(verb, b"250 OK\r\n"))  # type: ignore[attr-defined]


async def serve(port: int, host: str = "127.0.0.1") -> None:
    """Serve until cancelled."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(SinkProtocol, host, port, backlog=1024)
    print(f"sink listening on {host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


def count(port: int, host: str = "127.0.0.1") -> int:
    """Messages the sink on ``port`` has accepted so far."""
    with smtplib.SMTP(host, port, timeout=10) as smtp:
        _code, reply = smtp.docmd("XCOUNT")
        return int(reply)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(int(sys.argv[1])))
