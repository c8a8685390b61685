"""A real DNS server on loopback (dnslib, UDP, in a thread) answering the TXT records a test
publishes; any other name is NXDOMAIN. ``fail()`` makes it answer SERVFAIL; ``stop()`` takes it
down (nothing listens on its port any more)."""

import threading
from typing import Any

from dnslib import QTYPE, RCODE, RR, TXT, DNSRecord
from dnslib.server import DNSLogger, DNSServer


class _Quiet(DNSLogger):
    def __init__(self) -> None:
        super().__init__(log="-request,-reply,-truncated,-error", prefix=False)


class TestDns:
    __test__ = False  # not a test class

    def __init__(self) -> None:
        self._records: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._servfail = False
        self.queries: list[str] = []
        self._server = DNSServer(self, address="127.0.0.1", port=0, logger=_Quiet())
        self.port: int = self._server.server.server_address[1]
        self._server.start_thread()
        self._running = True

    def publish(self, name: str, *values: str) -> None:
        """TXT records at ``name`` (replacing those it had)."""
        with self._lock:
            self._records[name.lower().rstrip(".")] = list(values)

    def fail(self) -> None:
        self._servfail = True

    def stop(self) -> None:
        if self._running:
            self._server.stop()
            self._server.server.server_close()
            self._running = False

    def resolve(self, request: DNSRecord, _handler: Any) -> DNSRecord:
        reply = request.reply()
        name = str(request.q.qname).lower().rstrip(".")
        with self._lock:
            self.queries.append(name)
            values = self._records.get(name)
        if self._servfail:
            reply.header.rcode = RCODE.SERVFAIL
        elif values is None:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.TXT:
            for value in values:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=60))
        return reply
