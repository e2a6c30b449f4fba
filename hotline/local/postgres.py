"""A local PostgreSQL server for ``hotline run --replicas``: Debian's server binaries, a
cluster under the var directory (created once, kept between runs), served on a unix socket
only, in a short directory of its own (a socket path must stay under ~100 bytes).

``initdb`` and ``postgres`` refuse to run as root; under root they run as the ``postgres``
system user that Debian's package creates (``runuser -u postgres --``). The test suite's
throw-away clusters (``tests/pg_helpers.py``) find the binaries and the user the same way.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from hotline.local.stack import Service, StackError

PG_USER = "postgres"  # the cluster's superuser (trust authentication on its own socket)
PORT = 5432  # names the socket file in our own directory; there is no TCP listener
DATABASE = "hotline"


class PostgresUnavailable(StackError):
    """What is missing to run a cluster (binaries, a user other than root)."""


def pg_bindir() -> Path:
    """Where ``initdb``/``postgres`` live: ``HOTLINE_PG_BIN``, else the newest
    ``/usr/lib/postgresql/<v>/bin`` (Debian), else ``initdb`` on the PATH."""
    override = os.environ.get("HOTLINE_PG_BIN")
    if override:
        if (Path(override) / "initdb").is_file():
            return Path(override)
        raise PostgresUnavailable(f"HOTLINE_PG_BIN={override} has no initdb")
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                        else 0)
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb, no initdb "
        "on the PATH): apt-get install postgresql-15, or set HOTLINE_PG_BIN")


def run_as() -> pwd.struct_passwd | None:
    """The user a cluster runs as: None for the current (non-root) user."""
    if os.geteuid() != 0:
        return None
    if shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root without runuser to drop privileges")
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailable("running as root and there is no 'postgres' user for initdb")


def as_user(user: pwd.struct_passwd | None, args: Sequence[str]) -> list[str]:
    """``args`` run as ``user`` (``runuser``), or as they are for the current user."""
    if user is None:
        return list(args)
    return ["runuser", "-u", user.pw_name, "--", *args]


class LocalPostgres:
    """A cluster in ``root/data``; :meth:`service` runs its server in the foreground."""

    def __init__(self, root: Path) -> None:
        self.bindir = pg_bindir()
        self.user = run_as()
        self.root = root
        self.data = root / "data"
        self.socket_dir = Path(tempfile.mkdtemp(prefix="hl-pg-", dir="/tmp"))
        self.port = PORT

    def _own(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def _check_reachable(self) -> None:
        if self.user is None:
            return
        probe = subprocess.run(as_user(self.user, ["test", "-w", str(self.root)]),
                               capture_output=True)
        if probe.returncode != 0:
            raise PostgresUnavailable(
                f"PostgreSQL runs as the '{self.user.pw_name}' user, who cannot write to "
                f"{self.root}: set HOTLINE_VAR_DIR to a directory every user can enter, or "
                "HOTLINE_DATABASE_URL to a database you run")

    def init(self) -> None:
        """``initdb`` once; later runs reuse the cluster and its data."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._own(self.root)
        self._own(self.socket_dir)
        self._check_reachable()
        if (self.data / "PG_VERSION").exists():
            return
        done = subprocess.run(
            as_user(self.user, [str(self.bindir / "initdb"), "-D", str(self.data), "-U",
                                PG_USER, "--auth=trust", "-E", "UTF8", "--no-locale"]),
            capture_output=True, text=True, timeout=180, cwd=self.root)
        if done.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {done.stderr.strip()[-500:]}")

    def service(self) -> Service:
        self.init()
        argv = as_user(self.user, [
            str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
            "-k", str(self.socket_dir), "-c", "listen_addresses=", "-c", "max_connections=200",
            "-c", "timezone=Asia/Shanghai"])
        return Service("postgres", argv, ready=self.ready, timeout_s=60,
                       hint="the local PostgreSQL server (Debian's postgresql-15)")

    def _connect(self, dbname: str = "postgres"):  # type: ignore[no-untyped-def]
        import psycopg

        return psycopg.connect(host=str(self.socket_dir), port=self.port, user=PG_USER,
                               dbname=dbname, autocommit=True, connect_timeout=2)

    def ready(self) -> bool:
        with self._connect() as conn:
            conn.execute("SELECT 1")
        return True

    def ensure_database(self) -> None:
        with self._connect() as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                 (DATABASE,)).fetchone()
            if found is None:
                conn.execute(f"CREATE DATABASE {DATABASE}")

    def url(self) -> str:
        return (f"postgresql+psycopg://{PG_USER}@/{DATABASE}"
                f"?host={self.socket_dir}&port={self.port}")

    def cleanup(self) -> None:
        """Remove the socket directory (the server has stopped)."""
        shutil.rmtree(self.socket_dir, ignore_errors=True)
