"""Bolt (and a little HTTP) behind one small interface.

`Transport.client(uri, auth)` gives a `Client` whose `run(name, cypher, ...)` returns a `Reply`
of plain Python values (durations in seconds, datetimes as ISO text), or raises a `BoltError`
whose `kind` says what went wrong in operator terms. `NeoTransport` is the real one, on the
official `neo4j` driver; `recorded.RecordedTransport` answers from recorded responses. The
`name` of a query is how recordings find their answer (see queries.py).
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import ssl
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from .queries import Named, Run
from .shared.errors import OperationError, UsageError, describe

# What went wrong, in the terms an operator acts on.
UNREACHABLE = "unreachable"
AUTH = "auth"
FORBIDDEN = "forbidden"
UNSUPPORTED = "unsupported"  # the edition or version has no such command
TIMEOUT = "timeout"
TLS = "tls"
QUERY = "query"

BOLT_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


@dataclass(frozen=True)
class Auth:
    user: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class TlsOptions:
    """TLS towards the servers: with a CA file every connection is encrypted and verified."""
    ca_file: str | None = None
    verify_hostname: bool = True

    @property
    def encrypted(self) -> bool:
        return self.ca_file is not None


@dataclass(frozen=True)
class Reply:
    records: list[dict[str, Any]]
    server: str | None = None  # host:port of the server that ran the query (as it advertises itself)
    bookmarks: tuple[str, ...] = ()
    system_updates: int = 0
    contains_updates: bool = False


class BoltError(OperationError):
    """A failed Bolt call: `kind` (UNREACHABLE, AUTH, ...), a one-line `message`, the server's `code`."""

    def __init__(self, kind: str, message: str, code: str | None = None):
        self.kind = kind
        self.message = message
        self.code = code
        super().__init__(message)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "code": self.code}


class Client(Protocol):
    uri: str

    def run(self, name: str, cypher: str, params: dict[str, Any] | None = None, *, database: str | None = None,
            write: bool = False, bookmarks: tuple[str, ...] = (), timeout: float | None = None) -> Reply: ...

    def verify(self) -> None: ...


class Transport(Protocol):
    def client(self, uri: str, auth: Auth | None, *, tls: TlsOptions | None = None) -> Client: ...

    def http_get(self, url: str, timeout: float) -> tuple[int, str]: ...

    def close(self) -> None: ...


def statement_runner(client: Client, timeout: float | None = None) -> Run:
    """The one `Run` (queries.py) over a Bolt client: each statement to its database, in the mode it names."""
    def run(statement: Named, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return client.run(statement.name, statement.cypher, params or None, database=statement.database,
                          write=statement.write, timeout=timeout).records
    return run


def address_of(uri: str, default_port: int = 7687) -> str:
    """'bolt://10.0.0.1:7687' → '10.0.0.1:7687'; a bare 'host:port' or 'host' is accepted too."""
    parts = urlsplit(uri if "://" in uri else f"bolt://{uri}")
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{host}:{parts.port or default_port}"


def host_of(uri: str) -> str:
    return urlsplit(uri if "://" in uri else f"bolt://{uri}").hostname or ""


def with_scheme(uri: str, scheme: str) -> str:
    """The same address under another scheme: with_scheme('neo4j+s://h:1', 'bolt') → 'bolt://h:1'."""
    return f"{scheme}://{address_of(uri)}"


def check_bolt_uri(uri: str) -> str:
    scheme = uri.split("://", 1)[0] if "://" in uri else ""
    if scheme not in BOLT_SCHEMES:
        raise ValueError(f"{uri!r} is not a Bolt URI; expected bolt://host:port or neo4j://host:port")
    return uri


# --- errors ----------------------------------------------------------------------------------------

_UNSUPPORTED_CODES = ("UnsupportedAdministrationCommand", "NotSystemDatabaseError", "ProcedureNotFound")


def classify(error: BaseException, *, uri: str = "", user: str | None = None, timeout: float | None = None) \
        -> BoltError:
    """Any driver or socket exception → BoltError with an operator-facing one-liner."""
    from neo4j import exceptions as ne

    if isinstance(error, BoltError):
        return error
    where = address_of(uri) if uri else "the server"
    text = describe(error)
    if _is_tls_problem(error):
        return BoltError(TLS, f"TLS handshake with {where} failed: {_tls_reason(error)}")
    if isinstance(error, ne.AuthError) or getattr(error, "code", "") == "Neo.ClientError.Security.Unauthorized":
        who = f" for user {user}" if user else ""
        return BoltError(AUTH, f"authentication failed{who} on {where}: {text}", getattr(error, "code", None))
    if isinstance(error, ne.Forbidden) or getattr(error, "code", "") == "Neo.ClientError.Security.Forbidden":
        return BoltError(FORBIDDEN, text, getattr(error, "code", None))
    if isinstance(error, ne.Neo4jError):
        code = error.code or ""
        if any(part in code for part in _UNSUPPORTED_CODES):
            return BoltError(UNSUPPORTED, text, code)
        if "TransactionTimedOut" in code or ("Terminated" in code and "timeout" in text.lower()):
            return BoltError(TIMEOUT, f"{where} did not finish within {timeout or '?'} s: {text}", code)
        return BoltError(QUERY, text, code)
    if isinstance(error, (ne.ServiceUnavailable, ne.SessionExpired, OSError)):
        if _is_name_not_resolved(text):
            return BoltError(UNREACHABLE, unresolved_message(host_of(uri) if uri else where))
        return BoltError(UNREACHABLE, f"cannot reach {where}: {_network_reason(text, timeout)}")
    if isinstance(error, ne.DriverError):
        return BoltError(UNREACHABLE, f"{where}: {text}")
    return BoltError(QUERY, f"{type(error).__name__}: {text}")


def _chain(error: BaseException):
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _is_tls_problem(error: BaseException) -> bool:
    for item in _chain(error):
        if isinstance(item, ssl.SSLError):
            return True
        text = str(item)
        if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text and "handshake" in text.lower():
            return True
    return False


def _tls_reason(error: BaseException) -> str:
    for item in _chain(error):
        if isinstance(item, ssl.SSLCertVerificationError):
            return f"certificate not trusted ({item.verify_message or item.reason}); is --ca-cert the cluster's CA?"
        if isinstance(item, ssl.SSLError):
            return f"{item.reason or item}"
    return describe(error)


PRIVATE_ZONE_HINT = ("this machine must resolve the cluster's private zone: associate the Route 53 private hosted "
                     "zone with the runner's VPC, or forward its domain to a Route 53 Resolver inbound endpoint")


def unresolved_message(host: str) -> str:
    """One line for a name that does not resolve: which name, and what the runner needs."""
    return f"{host} does not resolve: {PRIVATE_ZONE_HINT}"


def _is_name_not_resolved(text: str) -> bool:
    lowered = text.lower()
    return ("name or service not known" in lowered or "nodename nor servname" in lowered
            or "temporary failure in name resolution" in lowered or "failed to dns resolve" in lowered
            or "no address associated with hostname" in lowered)


def _network_reason(text: str, timeout: float | None) -> str:
    lowered = text.lower()
    if "connection refused" in lowered:
        return "connection refused (is Neo4j running and listening on that port?)"
    if "timed out" in lowered or "timeout" in lowered:
        return f"no answer within {timeout or '?'} s (firewall, security group, or a stuck server?)"
    if _is_name_not_resolved(text):
        return f"the host name does not resolve ({PRIVATE_ZONE_HINT})"
    if "routing information" in lowered:
        return "no routing table (no server answered as a router for the database)"
    if "defunct" in lowered or "connection reset" in lowered or "closed" in lowered or "eof" in lowered:
        return "the server closed the connection (TLS required? then give --ca-cert)"
    match = re.search(r"reason (.*?)\)?$", text)
    return match.group(1) if match else text.splitlines()[0] if text else "unknown network error"


# --- values ----------------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """Driver values → JSON-friendly Python: durations in seconds, temporal values as ISO text."""
    from neo4j import graph
    from neo4j import time as ntime

    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, ntime.Duration):  # a tuple subclass: before the list case
        return (value.months * 30 + value.days) * 86400 + value.seconds + value.nanoseconds / 1e9
    if isinstance(value, (ntime.DateTime, ntime.Date, ntime.Time)):
        return value.iso_format()
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (graph.Node, graph.Relationship)):
        return dict(value.items())
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


# --- the real transport ----------------------------------------------------------------------------


class NeoClient:
    """One neo4j driver for one URI and one user."""

    def __init__(self, uri: str, auth: Auth | None, tls: TlsOptions, timeout: float):
        self.uri = uri
        self.auth = auth
        self.tls = tls
        self.timeout = timeout
        self._driver = None
        self._lock = threading.Lock()

    def _get_driver(self):
        from neo4j import GraphDatabase

        with self._lock:
            if self._driver is None:
                scheme = self.uri.split("://", 1)[0]
                base = "neo4j" if scheme.startswith("neo4j") else "bolt"
                config: dict[str, Any] = {
                    "connection_timeout": self.timeout,
                    "connection_acquisition_timeout": self.timeout,
                    "max_transaction_retry_time": 0,
                    "max_connection_pool_size": 8,
                    # Notifications are not logged (the server may still send them: asking it not to,
                    # notifications_min_severity, needs Bolt 5.2, and the driver refuses a 4.4 server then).
                    "warn_notification_severity": None,
                    "user_agent": "neo4j-cluster-ops/1",
                }
                uri = f"{base}://{address_of(self.uri)}"
                if self.tls.encrypted:
                    context = ssl.create_default_context(cafile=self.tls.ca_file)
                    context.check_hostname = self.tls.verify_hostname
                    config["ssl_context"] = context
                elif scheme.endswith("+s") or scheme.endswith("+ssc"):
                    uri = self.uri  # the user asked for system-CA TLS explicitly
                auth = (self.auth.user, self.auth.password) if self.auth else None
                self._driver = GraphDatabase.driver(uri, auth=auth, **config)
            return self._driver

    def verify(self) -> None:
        try:
            self._get_driver().verify_connectivity()
        except Exception as error:  # noqa: BLE001
            raise classify(error, uri=self.uri, user=self.auth.user if self.auth else None,
                           timeout=self.timeout) from None

    def run(self, name: str, cypher: str, params: dict[str, Any] | None = None, *, database: str | None = None,
            write: bool = False, bookmarks: tuple[str, ...] = (), timeout: float | None = None) -> Reply:
        from neo4j import READ_ACCESS, WRITE_ACCESS, Bookmarks, Query

        try:
            driver = self._get_driver()
            session_config: dict[str, Any] = {"default_access_mode": WRITE_ACCESS if write else READ_ACCESS}
            if database:
                session_config["database"] = database
            if bookmarks:
                session_config["bookmarks"] = Bookmarks.from_raw_values(bookmarks)
            with driver.session(**session_config) as session:
                result = session.run(Query(cypher, timeout=timeout or self.timeout), params or {})
                records = [{key: plain(value) for key, value in record.items()} for record in result]
                summary = result.consume()
                server = str(summary.server.address) if summary.server and summary.server.address else None
                counters = summary.counters
                last = session.last_bookmarks()
                return Reply(records, server, tuple(last.raw_values), counters.system_updates,
                             counters.contains_updates)
        except Exception as error:  # noqa: BLE001
            raise classify(error, uri=self.uri, user=self.auth.user if self.auth else None,
                           timeout=timeout or self.timeout) from None

    def close(self) -> None:
        with self._lock:
            if self._driver is not None:
                try:
                    self._driver.close()
                except Exception:  # noqa: BLE001 - closing a broken driver must not fail a report
                    pass
                self._driver = None


class NeoTransport:
    """Real Bolt and HTTP. One driver per (uri, user); close() closes them all."""

    def __init__(self, tls: TlsOptions | None = None, timeout: float = 5.0):
        try:
            import neo4j  # noqa: F401 - imported where it is used; here only to say early that it is missing
        except ImportError:
            raise UsageError("the neo4j Python driver is not installed: pip install neo4j") from None
        self.tls = tls or TlsOptions()
        self.timeout = timeout
        self._clients: dict[tuple[str, str | None, str | None], NeoClient] = {}
        self._lock = threading.Lock()
        quiet_driver_logs()

    def client(self, uri: str, auth: Auth | None, *, tls: TlsOptions | None = None) -> NeoClient:
        tls = tls or self.tls
        key = (uri, auth.user if auth else None, (auth.password if auth else None), tls)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = NeoClient(uri, auth, tls, self.timeout)
            return self._clients[key]

    def peer_certificate(self, uri: str, tls: TlsOptions | None = None) -> dict[str, Any]:
        """The certificate the server at `uri` serves in a real TLS handshake (verified against the CA):
        {"subject": ..., "not_after": ISO UTC}. Bolt speaks TLS from the first byte, as HTTPS does."""
        return peer_certificate(address_of(uri), tls or self.tls, self.timeout)

    def http_get(self, url: str, timeout: float) -> tuple[int, str]:
        context = None
        if url.startswith("https://") and self.tls.ca_file:
            context = ssl.create_default_context(cafile=self.tls.ca_file)
            context.check_hostname = self.tls.verify_hostname
        try:
            with urllib.request.urlopen(url, timeout=timeout, context=context) as response:  # noqa: S310
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise BoltError(UNREACHABLE, f"cannot reach {url}: {_network_reason(str(reason), timeout)}") from None

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


def peer_certificate(address: str, tls: TlsOptions, timeout: float) -> dict[str, Any]:
    import socket

    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    context = ssl.create_default_context(cafile=tls.ca_file) if tls.ca_file else ssl.create_default_context()
    context.check_hostname = tls.verify_hostname
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=host) as conn:
            cert = conn.getpeercert() or {}
    except ssl.SSLError as error:
        raise BoltError(TLS, f"TLS handshake with {address} failed: {_tls_reason(error)}") from None
    except OSError as error:
        raise BoltError(UNREACHABLE, f"cannot reach {address}: {_network_reason(str(error), timeout)}") from None
    not_after = dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(cert["notAfter"]), dt.UTC)
    subject = ", ".join(f"{k}={v}" for part in cert.get("subject", ()) for k, v in part)
    return {"subject": subject, "not_after": not_after.isoformat().replace("+00:00", "Z")}


def quiet_driver_logs() -> None:
    """The driver logs connection failures we already report in words; keep stderr for our output."""
    logger = logging.getLogger("neo4j")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    logger.propagate = False
