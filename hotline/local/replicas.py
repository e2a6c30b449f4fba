"""``hotline run --replicas N``: the product as several processes of each kind behind a load
balancer, on one machine — the topology of a deployment that outgrew one process, run here.

- one ``redis-server`` (embedded, as in the single topology) holding the conversation state,
  Rasa's trackers and its locks (``endpoints.yml``: Redis tracker and lock stores);
- one PostgreSQL server (:mod:`hotline.local.postgres`), unless ``HOTLINE_DATABASE_URL``
  names a database already;
- N action servers, N Rasa servers and N gateways, each on a free loopback port;
- HAProxy (Debian's ``haproxy``) in front of each kind: the public port
  (``HOTLINE_GATEWAY_PORT``) balances the gateways round robin, websockets included; the Rasa
  port (``HOTLINE_RASA_PORT``) balances the Rasa servers, which every gateway calls; the action
  port (``HOTLINE_ACTIONS_PORT``) balances the action servers, which every Rasa server calls.
  Round robin on purpose: a conversation's consecutive messages land on different replicas,
  which the shared state must make invisible.

Telegram: by webhook every gateway takes updates (the inbox leases each one to one gateway);
by polling, one gateway at a time polls, the one holding the poller's lease in Redis.
"""

from __future__ import annotations

import shutil
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from hotline.local import postgres
from hotline.local.stack import Service, Stack, StackError, free_port
from hotline.settings import current_settings


def haproxy_binary() -> str:
    for candidate in (shutil.which("haproxy"), "/usr/sbin/haproxy"):
        if candidate and Path(candidate).is_file():
            return candidate
    raise StackError("haproxy not found: apt-get install haproxy (the load balancer of "
                     "`hotline run --replicas`)")


@dataclass
class Replica:
    """The ports of one replica of each kind."""

    rasa: int
    actions: int
    gateway: int


def haproxy_config(public: int, rasa: int, actions: int, replicas: list[Replica],
                   stats: int) -> str:
    """HAProxy's configuration: one frontend per kind, round robin over live replicas (a
    replica failing its health check is taken out, and put back once it answers)."""

    def backend(name: str, ports: list[int], check: str) -> str:
        servers = "".join(
            f"    server {name}{i} 127.0.0.1:{port} check inter 1s fall 2 rise 1\n"
            for i, port in enumerate(ports, 1))
        return f"backend {name}\n    balance roundrobin\n    option httpchk\n" \
               f"    http-check send meth GET uri {check}\n{servers}"

    return (
        "global\n    maxconn 4096\n\n"
        "defaults\n    mode http\n    timeout connect 5s\n    timeout client 1h\n"
        # Keep-alive on both sides, each request balanced on its own: closing the server
        # side after every request made each replica accept a connection per message (and
        # Rasa and rasa-sdk keep a closed connection's protocol up to their 120 s keep-alive).
        "    timeout server 1h\n    timeout tunnel 1h\n    option http-keep-alive\n"
        "    http-reuse safe\n\n"
        # The gateways believe X-Forwarded-For from 127.0.0.1 (HOTLINE_TRUSTED_PROXIES).
        f"frontend gateway\n    bind 127.0.0.1:{public}\n    option forwardfor\n"
        "    default_backend gateways\n\n"
        f"frontend rasa\n    bind 127.0.0.1:{rasa}\n    default_backend rasas\n\n"
        f"frontend actions\n    bind 127.0.0.1:{actions}\n    default_backend actionservers\n\n"
        f"frontend stats\n    bind 127.0.0.1:{stats}\n    stats enable\n    stats uri /\n\n"
        + backend("gateways", [r.gateway for r in replicas], "/healthz") + "\n"
        + backend("rasas", [r.rasa for r in replicas], "/") + "\n"
        + backend("actionservers", [r.actions for r in replicas], "/health")
    )


@dataclass
class ReplicaStack(Stack):
    """:class:`Stack` with ``count`` replicas of Rasa, the action server and the gateway."""

    count: int = 2
    replicas: list[Replica] = field(default_factory=list)
    stats_port: int = 0
    database: postgres.LocalPostgres | None = None
    # A local PostgreSQL server: None = only when no database is configured
    # (HOTLINE_DATABASE_URL, in the environment or ``extra_env``); True = always.
    local_postgres: bool | None = None
    port_owner: str = "'s load balancer"

    def rasa_servers(self) -> int:
        return self.count

    def _start(self, *, gateway: bool, log: Callable[[str], None]) -> None:
        if self.count < 1:
            raise StackError("--replicas needs a count of at least 1")
        self.replicas = [Replica(free_port(), free_port(), free_port())
                         for _ in range(self.count)]
        self.stats_port = free_port()
        self._start_redis(log)
        if self.local_postgres or (self.local_postgres is None and not self._database_url_set()):
            self.database = postgres.LocalPostgres(self.var_dir / "postgres")
            svc = self.database.service()
            self._spawn(svc)
            self._await(svc)
            self.database.ensure_database()
            self.extra_env["HOTLINE_DATABASE_URL"] = self.database.url()
            log(f"  postgres ready on {self.database.socket_dir} (port {self.database.port})")
        self._migrate()
        cfg = self.var_dir / "haproxy.cfg"
        cfg.write_text(haproxy_config(self.ports.gateway, self.ports.rasa, self.ports.actions,
                                      self.replicas, self.stats_port), encoding="utf-8")
        lb = Service("haproxy", [haproxy_binary(), "-f", str(cfg), "-db"],
                     ready=lambda: _listening(self.ports.gateway), timeout_s=30,
                     hint="HAProxy, the load balancer")
        self._spawn(lb)
        self._await(lb)
        log(f"  haproxy  ready: gateway :{self.ports.gateway}, rasa :{self.ports.rasa}, "
            f"actions :{self.ports.actions}, stats http://127.0.0.1:{self.stats_port}/")
        ports = {"rasa": [r.rasa for r in self.replicas],
                 "actions": [r.actions for r in self.replicas],
                 "gateway": [r.gateway for r in self.replicas]}
        rasas = self._spawn_each("rasa", self.rasa_service, ports["rasa"])
        actions = self._spawn_each("actions", self.actions_service, ports["actions"])
        self._await_each("actions", actions, ports["actions"], log)
        if gateway:
            gateways = self._spawn_each("gateway", self.gateway_service, ports["gateway"])
            self._await_each("gateway", gateways, ports["gateway"], log)
        self._await_each("rasa", rasas, ports["rasa"], log, f" (model {self.model.name})")
        # HAProxy checks each replica every second: wait until it has seen one of each kind up.
        for port, path in ((self.ports.rasa, "/"), (self.ports.actions, "/health"),
                           (self.ports.gateway, "/healthz")):
            _await_balanced(port, path)

    def _spawn_each(self, kind: str, build: Callable[..., Service],
                    ports: list[int]) -> list[Service]:
        """One ``kind`` service per port, named ``kind1``, ``kind2`` …, started (not awaited)."""
        services = [build(port=port, name=f"{kind}{i}") for i, port in enumerate(ports, 1)]
        for svc in services:
            self._spawn(svc)
        return services

    def _await_each(self, kind: str, services: list[Service], ports: list[int],
                    log: Callable[[str], None], suffix: str = "") -> None:
        for svc in services:
            self._await(svc)
        where = ", ".join(f":{port}" for port in ports)
        log(f"  {kind:<8} {len(services)} ready on {where}{suffix}")

    def _database_url_set(self) -> bool:
        return bool(self.extra_env.get("HOTLINE_DATABASE_URL")
                    or current_settings().database_url)

    def gateway_service(self, *, port: int | None = None, name: str = "gateway") -> Service:
        svc = super().gateway_service(port=port, name=name)
        # Behind the load balancer: the client's address is in X-Forwarded-For.
        svc.env.setdefault("HOTLINE_TRUSTED_PROXIES", "127.0.0.1")
        return svc

    def stop(self, timeout_s: float = 20) -> None:
        super().stop(timeout_s)
        if self.database is not None:
            self.database.cleanup()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _await_balanced(port: int, path: str, timeout_s: float = 15) -> None:
    """Until the balancer has marked a replica up (its health checks run every second)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    print(f"warning: the load balancer on :{port} does not answer {path} yet", file=sys.stderr)
