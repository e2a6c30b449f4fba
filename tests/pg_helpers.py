"""A throw-away PostgreSQL cluster for the suite: ``initdb`` in a temp dir, served only on a
unix socket in that dir, stopped and deleted at the end of the session.

The suite migrates one template database once; each test gets its own database copied from
it (``CREATE DATABASE … TEMPLATE``, a few tens of milliseconds) and dropped afterwards.

``initdb`` refuses to run as root. Under root (CI, containers) the cluster runs as the
``postgres`` system user that Debian's package creates (``runuser -u postgres --``), with the
temp dir handed to that user. The binaries and the user are found as for ``hotline run
--replicas`` (:mod:`hotline.local.postgres`).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from hotline.local.postgres import pg_bindir, run_as
from hotline.local.stack import free_port

PG_USER = "postgres"  # the cluster's superuser (trust authentication on the socket)
TEMPLATE = "hotline_tmpl"


# Stops the cluster and deletes its dir once the test process is gone, also when it was killed
# (``timeout``, SIGTERM, SIGKILL) before the session's teardown could run: argv is the test
# process id, the cluster's dir and the stop command.
_WATCHDOG = """
import os, shutil, subprocess, sys, time
owner, root, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
while True:
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        break
    except PermissionError:
        pass
    time.sleep(1)
if os.path.exists(os.path.join(root, "data", "postmaster.pid")):
    subprocess.run(stop, capture_output=True, timeout=60)
shutil.rmtree(root, ignore_errors=True)
"""


def _temp_base() -> str | None:
    """Memory (``/dev/shm``) when it has room: no disk I/O to wait for on a busy machine.
    Else ``/tmp``: a short path (a socket's path must stay under ~100 bytes) that every user
    may enter."""
    for base in ("/dev/shm", "/tmp"):
        try:
            stat = os.statvfs(base)
        except OSError:
            continue
        if base == "/tmp" or stat.f_bavail * stat.f_frsize >= 2 << 30:
            return base
    return None


class PgCluster:
    """A running cluster; :meth:`url` names a database on it for SQLAlchemy."""

    def __init__(self) -> None:
        self.bindir = pg_bindir()
        self.user = run_as()
        base = _temp_base()
        self.root = Path(tempfile.mkdtemp(prefix="hotline-pg-", dir=base))
        self.data = self.root / "data"
        self.port = free_port()  # names the socket file; no TCP listener
        self._ids = itertools.count(1)
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self.started = False
        self._watchdog: subprocess.Popen[bytes] | None = None

    # --- processes ---------------------------------------------------------------------

    def _cmd(self, args: Sequence[str]) -> list[str]:
        if self.user is None:
            return list(args)
        return ["runuser", "-u", self.user.pw_name, "--", *args]

    def _run(self, args: Sequence[str]) -> None:
        done = subprocess.run(self._cmd(args), capture_output=True, text=True, timeout=120,
                              cwd=self.root)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n"
                               f"{done.stdout}{done.stderr}{tail}")

    def start(self) -> PgCluster:
        self._run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", PG_USER,
                   "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"])
        # Speed over durability (the cluster lives for one test session); enough connections
        # for the concurrency tests and the pools of many short-lived engines. The server's
        # time zone is Shanghai's, not UTC: instants must come back right whatever a
        # deployment's server is set to.
        settings = {
            "listen_addresses": "''", "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
            "max_connections": "200", "shared_buffers": "32MB",
            "timezone": "'Asia/Shanghai'", "log_min_messages": "warning",
        }
        conf = "".join(f"{key} = {value}\n" for key, value in settings.items())
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as out:
            out.write(conf)  # appended (root may write it; it stays the cluster user's file)
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l",
                   str(self.root / "server.log"), "-w", "-t", "60", "start"])
        self.started = True
        self._watchdog = subprocess.Popen(  # own session: a Ctrl-C or kill of the tests spares it
            [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(self.root),
             *self._cmd(self._stop_args())],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        return self

    def _stop_args(self) -> list[str]:
        return [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                "stop"]

    def stop(self) -> None:
        try:
            if self.started:
                self._run(self._stop_args())
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            if self._watchdog is not None:  # nothing left for it to do
                self._watchdog.terminate()
                self._watchdog.wait(10)

    # --- databases ---------------------------------------------------------------------

    def url(self, dbname: str) -> str:
        return (f"postgresql+psycopg://{PG_USER}@/{dbname}"
                f"?host={self.root}&port={self.port}")

    def _connect(self):  # type: ignore[no-untyped-def]
        import psycopg

        return psycopg.connect(host=str(self.root), port=self.port, user=PG_USER,
                               dbname="postgres", autocommit=True)

    def admin(self, sql: str) -> None:
        """Run ``sql`` outside a transaction (CREATE/DROP DATABASE) on the ``postgres`` db."""
        with self._connect() as conn:
            conn.execute(sql)

    def create_template(self) -> str:
        """Migrate a template database to head once; per-test databases are copies of it."""
        from hotline.cli.db import upgrade

        self.admin(f"CREATE DATABASE {TEMPLATE}")
        upgrade(self.url(TEMPLATE))
        return TEMPLATE

    def new_database(self, template: str | None = TEMPLATE) -> str:
        name = f"t_{os.getpid()}_{next(self._ids)}"
        source = f" TEMPLATE {template} STRATEGY FILE_COPY" if template else ""
        self.admin(f"CREATE DATABASE {name}{source}")
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending the sessions that pooled engines still hold on it.

        The sessions are ended and waited for here, in steps of milliseconds: ``DROP DATABASE
        … WITH (FORCE)`` alone waits in steps of 100 ms for them to go."""
        with self._connect() as conn:
            others = "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
            conn.execute(f"SELECT pg_terminate_backend(pid) {others}", [name])
            deadline = time.monotonic() + 10
            while conn.execute(f"SELECT 1 {others}", [name]).fetchone() is not None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.002)
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
