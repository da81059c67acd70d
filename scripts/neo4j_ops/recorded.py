"""Recorded responses: answer the Transport interface from a scenario file, or write one.

A scenario (JSON) describes endpoints (servers, a routing URI, HAProxy) and what each answered:

  {"description": "...", "extends": "other-scenario.json",
   "passwords": {"neo4j": "…", "analyst": "…"},          # optional: checked on verify()
   "endpoints": {
     "core-1": {"uri": "bolt://core-1.prod.neo4j.internal:7687",
                "unreachable": "connection refused",      # optional
                "tls": {"plain": "refused", "encrypted": "ok"},
                "metrics": {"url": "http://…:2004/metrics", "status": 200, "body": "…"},
                "responses": {"components": {"records": [...]},
                              "show_databases": [{"records": [...]}, {"records": [...]}],
                              "probe_write@analyst": {"error": {"kind": "forbidden", "message": "…"}},
                              "GRANT ROLE `reader` TO `analyst`": {"systemUpdates": 1}}}}}

A response is found under, in order: "<name>@<user> <params>", "<name> <params>", "<name>@<user>",
"<name>", where <params> is the JSON of the query's parameters without passwords. A list of
responses is played in order, its last one repeating. `extends` merges a base scenario:
endpoints are merged key by key, responses query by query.
Every call is kept in `calls`; calls without a recording in `missing` (and raise a BoltError).

`RecordingTransport` wraps a real transport and writes such a scenario from a live cluster
(passwords never recorded), which is how tests/fixtures/enterprise/ can be refreshed.
"""
from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bolt import AUTH, QUERY, UNREACHABLE, Auth, BoltError, Reply, TlsOptions, Transport, address_of

SECRET_PARAMS = ("password",)
VOLATILE_PARAMS = ("id",)  # probe ids: random on every run, so never part of a recording's key


def load_scenario(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    scenario = json.loads(path.read_text())
    base_name = scenario.pop("extends", None)
    if not base_name:
        return scenario
    base = load_scenario(path.parent / base_name)
    merged = copy.deepcopy(base)
    for key, value in scenario.items():
        if key != "endpoints":
            merged[key] = value
    for name, endpoint in (scenario.get("endpoints") or {}).items():
        target = merged.setdefault("endpoints", {}).setdefault(name, {})
        for key, value in endpoint.items():
            if key == "responses":
                target.setdefault("responses", {}).update(value)
            elif value is None:
                target.pop(key, None)
            else:
                target[key] = value
    return merged


def params_key(params: dict[str, Any] | None) -> str:
    shown = {k: v for k, v in (params or {}).items() if k not in SECRET_PARAMS + VOLATILE_PARAMS}
    return json.dumps(shown, sort_keys=True, default=str) if shown else ""


def parse_key(key: str) -> tuple[str, str | None, dict[str, Any]]:
    """A response's key back as (name, user, params): the inverse of how next_response files them. A name may be a
    statement's own text (built at run time), braces and all: the params are the trailing JSON object, if any."""
    head, params = key, {}
    for at in (i for i, char in enumerate(key) if char == "{" and i > 0 and key[i - 1] == " "):
        try:
            found = json.loads(key[at:])
        except ValueError:
            continue
        if isinstance(found, dict):
            head, params = key[:at - 1], found
            break
    name, _, user = head.rpartition("@")
    if not name or not user.isidentifier():
        return head, None, params
    return name, user, params


@dataclass
class Call:
    endpoint: str
    name: str
    params: dict[str, Any]
    user: str | None
    database: str | None
    write: bool
    cypher: str = ""  # what was sent (responses are found by name, not by this text)
    answered: bool | None = None  # True: a recorded success, False: a recorded error, None: none (or unreachable)


class RecordedClient:
    def __init__(self, transport: RecordedTransport, endpoint: str, uri: str, auth: Auth | None, tls: TlsOptions):
        self.transport = transport
        self.endpoint = endpoint
        self.uri = uri
        self.auth = auth
        self.tls = tls

    @property
    def _spec(self) -> dict[str, Any]:
        return self.transport.scenario["endpoints"][self.endpoint]

    def verify(self) -> None:
        spec = self._spec
        if spec.get("unreachable"):
            raise BoltError(UNREACHABLE, f"cannot reach {address_of(self.uri)}: {spec['unreachable']}")
        tls = spec.get("tls") or {}
        if self.tls.encrypted and tls.get("encrypted", "ok") != "ok":
            raise BoltError("tls", f"TLS handshake with {address_of(self.uri)} failed: {tls['encrypted']}")
        if not self.tls.encrypted and tls.get("plain", "accepted") == "refused":
            raise BoltError(UNREACHABLE, f"cannot reach {address_of(self.uri)}: the server closed the connection "
                                         f"(TLS required? then give --ca-cert)")
        passwords = self.transport.scenario.get("passwords")
        if passwords is not None and self.auth is not None and passwords.get(self.auth.user) != self.auth.password:
            raise BoltError(AUTH, f"authentication failed for user {self.auth.user} on {address_of(self.uri)}: "
                                  f"The client is unauthorized due to authentication failure.",
                            "Neo.ClientError.Security.Unauthorized")

    def run(self, name: str, cypher: str, params: dict[str, Any] | None = None, *, database: str | None = None,
            write: bool = False, bookmarks: tuple[str, ...] = (), timeout: float | None = None) -> Reply:
        user = self.auth.user if self.auth else None
        call = Call(self.endpoint, name, dict(params or {}), user, database, write, cypher)
        self.transport.calls.append(call)
        self.verify()
        response = self.transport.next_response(self.endpoint, name, params, user)
        if response is None:
            self.transport.missing.append(f"{self.endpoint}: {name} {params_key(params)}".strip())
            raise BoltError(QUERY, f"no recorded response for {name!r} on {self.endpoint}")
        call.answered = "error" not in response
        if "error" in response:
            error = response["error"]
            raise BoltError(error.get("kind", QUERY), error.get("message", ""), error.get("code"))
        return Reply([dict(r) for r in response.get("records", [])],
                     response.get("server", address_of(self.uri)),
                     tuple(response.get("bookmarks", ["recorded-bookmark"])),
                     int(response.get("systemUpdates", 0)), bool(response.get("containsUpdates", False)))


class RecordedTransport:
    """The Transport interface, answered from a scenario."""

    def __init__(self, scenario: dict[str, Any] | str | Path, tls: TlsOptions | None = None):
        self.scenario = scenario if isinstance(scenario, dict) else load_scenario(scenario)
        self.tls = tls or TlsOptions()
        self.calls: list[Call] = []
        self.missing: list[str] = []
        self.http_calls: list[str] = []
        self._played: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def endpoint_for(self, uri: str) -> str:
        scheme = uri.split("://", 1)[0].split("+")[0]
        address = address_of(uri)
        candidates = [(name, e) for name, e in self.scenario["endpoints"].items() if address_of(e["uri"]) == address]
        for name, spec in candidates:
            if spec["uri"].split("://", 1)[0].split("+")[0] == scheme:
                return name
        if candidates:
            return candidates[0][0]
        raise BoltError(UNREACHABLE, f"cannot reach {address}: no such endpoint in the recording")

    def client(self, uri: str, auth: Auth | None, *, tls: TlsOptions | None = None) -> RecordedClient:
        return RecordedClient(self, self.endpoint_for(uri), uri, auth, tls or self.tls)

    def next_response(self, endpoint: str, name: str, params: dict[str, Any] | None,
                      user: str | None) -> dict[str, Any] | None:
        responses = self.scenario["endpoints"][endpoint].get("responses", {})
        key_params = params_key(params)
        keys = [f"{name}@{user} {key_params}", f"{name} {key_params}", f"{name}@{user}", name]
        for key in (k.strip() for k in keys):
            if key in responses:
                entry = responses[key]
                if isinstance(entry, list):
                    with self._lock:
                        index = self._played.get((endpoint, key), 0)
                        self._played[(endpoint, key)] = index + 1
                    return entry[min(index, len(entry) - 1)]
                return entry
        return None

    def peer_certificate(self, uri: str, tls: TlsOptions | None = None) -> dict[str, Any]:
        """The endpoint's "tls": {"certificate": {"subject": ..., "not_after": ...}} of the scenario."""
        spec = self.scenario["endpoints"][self.endpoint_for(uri)]
        if spec.get("unreachable"):
            raise BoltError(UNREACHABLE, f"cannot reach {address_of(uri)}: {spec['unreachable']}")
        certificate = (spec.get("tls") or {}).get("certificate")
        if certificate is None:
            raise BoltError(QUERY, f"no recorded certificate for {address_of(uri)}")
        return dict(certificate)

    def http_get(self, url: str, timeout: float) -> tuple[int, str]:
        self.http_calls.append(url)
        for spec in self.scenario["endpoints"].values():
            metrics = spec.get("metrics")
            if metrics and metrics.get("url") == url:
                if spec.get("unreachable"):
                    break
                return int(metrics.get("status", 200)), metrics.get("body", "")
        raise BoltError(UNREACHABLE, f"cannot reach {url}: connection refused")

    def calls_named(self, name: str) -> list[Call]:
        return [c for c in self.calls if c.name == name]

    def close(self) -> None:
        pass


# --- recording from a live cluster -----------------------------------------------------------------


class _RecordingClient:
    def __init__(self, owner: RecordingTransport, endpoint: str, inner):
        self.owner = owner
        self.endpoint = endpoint
        self.inner = inner
        self.uri = inner.uri

    def verify(self) -> None:
        self.inner.verify()

    def run(self, name, cypher, params=None, **kwargs) -> Reply:
        key = f"{name} {params_key(params)}".strip()
        try:
            reply = self.inner.run(name, cypher, params, **kwargs)
        except BoltError as error:
            self.owner.record(self.endpoint, key, {"error": error.to_json()})
            raise
        self.owner.record(self.endpoint, key, {"records": reply.records, "server": reply.server,
                                               "systemUpdates": reply.system_updates})
        return reply


@dataclass
class RecordingTransport:
    """Wraps a real transport; `save(path)` writes what the servers answered as a scenario."""
    inner: Transport
    names: dict[str, str] = field(default_factory=dict)  # address → endpoint name
    scenario: dict[str, Any] = field(default_factory=lambda: {"description": "", "endpoints": {}})

    def __post_init__(self):
        self._lock = threading.Lock()

    def client(self, uri: str, auth: Auth | None, *, tls: TlsOptions | None = None):
        scheme = uri.split("://", 1)[0].split("+")[0]
        base = self.names.get(address_of(uri), address_of(uri))
        name = base if scheme == "bolt" else f"{base} ({scheme})"
        with self._lock:
            self.scenario["endpoints"].setdefault(name, {"uri": uri, "responses": {}})
        return _RecordingClient(self, name, self.inner.client(uri, auth, tls=tls))

    def record(self, endpoint: str, key: str, response: dict[str, Any]) -> None:
        with self._lock:
            responses = self.scenario["endpoints"][endpoint]["responses"]
            previous = responses.get(key)
            if previous is None:
                responses[key] = response
            elif isinstance(previous, list):
                previous.append(response)
            elif previous != response:
                responses[key] = [previous, response]

    def peer_certificate(self, uri: str, tls: TlsOptions | None = None) -> dict[str, Any]:
        certificate = self.inner.peer_certificate(uri, tls)
        with self._lock:
            for spec in self.scenario["endpoints"].values():
                if address_of(spec["uri"]) == address_of(uri):
                    spec.setdefault("tls", {})["certificate"] = certificate
                    break
        return certificate

    def http_get(self, url: str, timeout: float) -> tuple[int, str]:
        status, body = self.inner.http_get(url, timeout)
        with self._lock:
            for spec in self.scenario["endpoints"].values():
                if address_of(spec["uri"]).split(":")[0] == url.split("://", 1)[-1].split(":")[0]:
                    spec["metrics"] = {"url": url, "status": status, "body": body}
                    break
        return status, body

    def save(self, path: str | Path, description: str) -> None:
        self.scenario["description"] = description
        Path(path).write_text(json.dumps(self.scenario, indent=1, default=str) + "\n")

    def close(self) -> None:
        self.inner.close()
