"""A loopback HTTP proxy in front of the moto server that injects what moto cannot do.

moto has no throttling, no permission denials per Region and no 5xx faults
(docs/aws-behaviour.md#the-emulator),
so tests put this proxy between imdsguard and moto. Each request is matched against the
rules in order; the first rule that returns a Fault answers instead of moto. The proxy
also counts requests per (action, region) so tests can assert "none twice".
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_SCOPE = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/")


@dataclass(frozen=True)
class ProxyRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    action: str
    region: str
    service: str
    access_key: str

    def param(self, name: str) -> str | None:
        values = parse_qs(self.body.decode("utf-8", "replace")).get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Fault:
    status: int
    code: str
    message: str = "injected by the test proxy"
    raw: bytes | None = None  # a body sent as is (text/html), instead of an AWS error


def html_500() -> Fault:
    """What a broken proxy or an emulator crash returns: not an AWS error document at all."""
    page = b"<!doctype html><title>500 Internal Server Error</title><h1>Internal Server Error</h1>"
    return Fault(500, "", raw=page)


@dataclass(frozen=True)
class Reply:
    """A canned success answer, for replies the emulator cannot produce."""

    body: str
    status: int = 200
    content_type: str = "text/xml"
    headers: tuple[tuple[str, str], ...] = ()  # e.g. an x-amzn-RequestId, as AWS sends


Rule = Callable[[ProxyRequest], Fault | Reply | None]
# Rewrites a forwarded response body (for states moto never produces).
Rewrite = Callable[[ProxyRequest, bytes], bytes]


def throttle() -> Fault:
    return Fault(503, "RequestLimitExceeded", "Request limit exceeded.")


def denied(code: str = "UnauthorizedOperation") -> Fault:
    return Fault(403, code, "You are not authorized to perform this operation.")


@dataclass
class TokenBucket:
    """EC2's throttling model: ``capacity`` calls, refilled at ``rate`` per second."""

    capacity: float
    rate: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def take(self) -> bool:
        now = time.monotonic()
        if self.tokens < 0:
            self.tokens = self.capacity
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def rate_limit(action: str, capacity: float, rate: float) -> Rule:
    """Throttle ``action`` per (access key, Region) with a token bucket, like EC2 does."""
    buckets: dict[tuple[str, str], TokenBucket] = {}
    lock = threading.Lock()

    def rule(req: ProxyRequest) -> Fault | None:
        if req.action != action:
            return None
        with lock:
            bucket = buckets.setdefault((req.access_key, req.region), TokenBucket(capacity, rate))
            allowed = bucket.take()
        return None if allowed else throttle()

    return rule


def answer_dry_runs(denied_regions: frozenset[str] = frozenset()) -> Rule:
    """Answer every EC2 DryRun like EC2 does, so none reaches moto (which would APPLY it).

    Allowed: HTTP 412 DryRunOperation; in ``denied_regions``: 403 UnauthorizedOperation.
    """

    def rule(req: ProxyRequest) -> Fault | None:
        if req.service != "ec2" or req.param("DryRun") != "true":
            return None
        if req.region in denied_regions:
            return denied()
        return Fault(412, "DryRunOperation", "Request would have succeeded, DryRun set.")

    return rule


def deny(action: str, regions: frozenset[str]) -> Rule:
    """Refuse ``action`` in ``regions`` as IAM would."""

    def rule(req: ProxyRequest) -> Fault | None:
        return denied() if req.action == action and req.region in regions else None

    return rule


def not_found(instance_ids: frozenset[str]) -> Rule:
    """Answer calls naming these instances as EC2 does once a terminated one is purged."""

    def rule(req: ProxyRequest) -> Fault | None:
        named = {req.param("InstanceId"), req.param("InstanceId.1")}
        if req.service == "ec2" and named & instance_ids:
            return Fault(400, "InvalidInstanceID.NotFound", "The instance ID does not exist")
        return None

    return rule


def delay(action: str, seconds: float) -> Rule:
    """Slow ``action`` down (then let it through), to widen windows for crash tests."""

    def rule(req: ProxyRequest) -> Fault | None:
        if req.action == action:
            time.sleep(seconds)
        return None

    return rule


def metadata_pending(seconds: float) -> Rewrite:
    """For ``seconds`` from now, DescribeInstances shows metadata State=pending.

    moto's State is always ``applied`` (docs/aws-behaviour.md#the-emulator); EC2 shows pending for
    a while.
    """
    until = time.monotonic() + seconds

    def rewrite(req: ProxyRequest, body: bytes) -> bytes:
        if req.action != "DescribeInstances" or time.monotonic() >= until:
            return body
        return body.replace(
            b"<metadataOptions><state>applied</state>", b"<metadataOptions><state>pending</state>"
        )

    return rewrite


# Replies that look successful (HTTP 200, moto's own headers, request id included) but are
# not the operation's answer: what corporate proxies, captive portals, misconfigured
# endpoints and S3-style emulators send. botocore parses each into an empty result.
BAD_REPLIES = ("empty", "truncated", "foreign-xml", "html", "non-utf8")
_XHTML = (
    b'<?xml version="1.0" encoding="UTF-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
    b"<head><title>Sign in</title></head><body><p>Sign in to use this network.</p></body></html>"
)


def spoil(kind: str, body: bytes) -> bytes:
    """``body`` (a real answer) turned into a ``kind`` of bad reply."""
    if kind == "empty":
        return b""
    if kind == "truncated":
        return body[: max(1, len(body) // 2)]
    if kind == "foreign-xml":
        return _XHTML
    if kind == "html":
        return b"<!doctype html><html><body><h1>Welcome</h1></body></html>"
    if kind == "non-utf8":
        return body.replace(b">", b">\xff\xfe", 1) if b">" in body else b"\xff" + body
    raise ValueError(kind)


def _every(_: ProxyRequest) -> bool:
    return True


def bad_reply(
    kind: str,
    action: str,
    times: int | None = None,
    when: Callable[[ProxyRequest], bool] = _every,
) -> Rewrite:
    """Spoil moto's answers to ``action`` (all, or the first ``times``) matching ``when``."""
    left = {"n": -1 if times is None else times}
    lock = threading.Lock()

    def rewrite(req: ProxyRequest, body: bytes) -> bytes:
        if req.action != action or not when(req):
            return body
        with lock:
            if left["n"] == 0:
                return body
            left["n"] -= 1
        return spoil(kind, body)

    return rewrite


class ShortSessions:
    """AssumeRole answers whose credentials expire ``seconds`` after they are sent, and
    ExpiredToken, as AWS answers, for any call signed with them after that: moto's
    credentials last as long as DurationSeconds says and it never refuses expired ones.

    Install both halves: ``proxy.rules.insert(0, s.rule)`` and ``proxy.rewrites.append(s.rewrite)``.
    """

    _KEY = re.compile(rb"<AccessKeyId>([^<]+)</AccessKeyId>")
    _EXPIRATION = re.compile(rb"<Expiration>[^<]*</Expiration>")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.issued: list[tuple[str, float]] = []  # (access key, monotonic deadline), in order
        self.expired = 0  # calls refused with ExpiredToken
        self._deadlines: dict[str, float] = {}
        self._lock = threading.Lock()

    def rewrite(self, req: ProxyRequest, body: bytes) -> bytes:
        key = self._KEY.search(body)
        if req.action != "AssumeRole" or key is None:
            return body
        expiry = datetime.now(UTC) + timedelta(seconds=self.seconds)
        with self._lock:
            deadline = time.monotonic() + self.seconds
            self._deadlines[key.group(1).decode()] = deadline
            self.issued.append((key.group(1).decode(), deadline))
        stamp = f"<Expiration>{expiry:%Y-%m-%dT%H:%M:%S.%fZ}</Expiration>".encode()
        return self._EXPIRATION.sub(stamp, body)

    def rule(self, req: ProxyRequest) -> Fault | None:
        with self._lock:
            deadline = self._deadlines.get(req.access_key)
            if deadline is None or time.monotonic() < deadline:
                return None
            self.expired += 1
        return Fault(400, "ExpiredToken", "The security token included in the request is expired")


class PendingPolls:
    """DescribeInstances shows metadata State=pending until ``polls`` verification polls
    (the batched describes, filtered by instance id) have been answered.

    Counting polls, not seconds, so the outcome does not depend on how loaded the machine
    is. moto's State is always ``applied`` (docs/aws-behaviour.md#the-emulator).
    """

    def __init__(self, polls: int) -> None:
        self.polls = polls
        self.answered = 0
        self._lock = threading.Lock()

    def __call__(self, req: ProxyRequest, body: bytes) -> bytes:
        if req.action != "DescribeInstances":
            return body
        with self._lock:
            if self.answered >= self.polls:
                return body
            if req.param("Filter.1.Name"):
                self.answered += 1
        return body.replace(
            b"<metadataOptions><state>applied</state>", b"<metadataOptions><state>pending</state>"
        )


def _parse(method: str, path: str, headers: dict[str, str], body: bytes) -> ProxyRequest:
    auth = headers.get("authorization", "")
    match = _SCOPE.search(auth)
    access_key, region, service = match.groups() if match else ("", "", "")
    action = ""
    target = headers.get("x-amz-target")
    if target:
        action = target.rsplit(".", 1)[-1]
    elif b"Action=" in body:
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
    elif "/operation/" in path:
        action = path.rsplit("/", 1)[-1]
    return ProxyRequest(method, path, headers, body, action, region, service, access_key)


def _error_body(req: ProxyRequest, fault: Fault) -> tuple[bytes, str]:
    if fault.raw is not None:
        return fault.raw, "text/html"
    content_type = req.headers.get("content-type", "")
    if "json" in content_type:
        payload = {"__type": fault.code, "message": fault.message}
        return json.dumps(payload).encode(), content_type
    if req.service == "ec2":
        xml = (
            f"<Response><Errors><Error><Code>{fault.code}</Code><Message>{fault.message}"
            "</Message></Error></Errors><RequestID>proxy</RequestID></Response>"
        )
    else:
        xml = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{fault.code}</Code>"
            f"<Message>{fault.message}</Message></Error><RequestId>proxy</RequestId>"
            "</ErrorResponse>"
        )
    return xml.encode(), "text/xml"


class FaultProxy:
    """Start with ``with FaultProxy(upstream) as proxy:``; point clients at ``proxy.url``."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rules: list[Rule] = []
        self.rewrites: list[Rewrite] = []
        self.calls: Counter[tuple[str, str]] = Counter()
        self.faults: Counter[tuple[str, str]] = Counter()
        self.forwarded: list[ProxyRequest] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, req: ProxyRequest) -> tuple[int, dict[str, str], bytes]:
        key = (req.action, req.region)
        with self._lock:
            self.calls[key] += 1
        for rule in list(self.rules):
            fault = rule(req)
            if isinstance(fault, Reply):
                headers = {"Content-Type": fault.content_type, **dict(fault.headers)}
                return fault.status, headers, fault.body.encode()
            if fault is not None:
                with self._lock:
                    self.faults[key] += 1
                body, content_type = _error_body(req, fault)
                return fault.status, {"Content-Type": content_type}, body
        with self._lock:
            self.forwarded.append(req)
        conn = http.client.HTTPConnection(*self._upstream, timeout=120)
        try:
            conn.request(req.method, req.path, body=req.body, headers=req.headers)
            reply = conn.getresponse()
            data = reply.read()
            for rewrite in list(self.rewrites):
                data = rewrite(req, data)
            headers = {
                k: v
                for k, v in reply.getheaders()
                if k.lower() not in {"transfer-encoding", "connection", "content-length"}
            }
            return reply.status, headers, data
        finally:
            conn.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                req = _parse(self.command, self.path, headers, body)
                status, reply_headers, data = proxy._answer(req)
                self.send_response(status)
                for k, v in reply_headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _relay

        return Handler
