"""Start and stop a local Label Studio server (a subprocess from its own virtual environment).

Label Studio is a Django app with ~200 pinned dependencies, so it never lives in the toolkit's
environment: it runs from ``.venv-ls`` (``LABEL_STUDIO_BIN`` overrides the path). The environment follows
Label Studio 1.23.2 as measured: loopback only, a legacy API token from the environment (enabled for the org),
local-files serving from one media root, no version check or Sentry, and stray ``USERNAME``/``PASSWORD``/
``HOST``/``PORT`` variables removed (Label Studio would read them as its own settings).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from schemas.errors import ToolkitError

#: where `make setup` puts Label Studio's own environment, relative to the directory the command runs in
DEFAULT_BIN = Path(".venv-ls") / "bin" / "label-studio"
CREDENTIALS_FILE = "viddiff-admin.json"
STRAY_VARS = ("USERNAME", "PASSWORD", "HOST", "PORT")
DEFAULT_EMAIL = "admin@viddiff.local"


def label_studio_bin() -> str:
    """The ``label-studio`` program: ``$LABEL_STUDIO_BIN``, else ``.venv-ls/bin/label-studio`` under the
    current directory (where ``make setup`` creates it), else ``label-studio`` on ``PATH``.

    Never a path next to this file: an installed package has no ``.venv-ls`` beside it."""
    cand = os.environ.get("LABEL_STUDIO_BIN") or str(Path.cwd() / DEFAULT_BIN)
    if Path(cand).is_file():
        return cand
    found = shutil.which("label-studio")
    if found:
        return found
    raise ToolkitError(
        "label-studio not found; create its own environment: python3 -m venv .venv-ls && "
        ".venv-ls/bin/pip install label-studio==1.23.2 (or set LABEL_STUDIO_BIN)",
        file=cand,
    )


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:``port`` (a connection attempt is refused)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return False
    except OSError:
        return True


@dataclass
class Credentials:
    """The admin user Label Studio creates on first start, and its legacy API token."""

    email: str
    password: str
    token: str

    @classmethod
    def load_or_create(cls, data_dir: Path) -> Credentials:
        """Read ``DATA_DIR/viddiff-admin.json`` (mode 600), or mint one; env ``LABEL_STUDIO_*`` wins."""
        path = data_dir / CREDENTIALS_FILE
        stored = json.loads(path.read_text()) if path.exists() else {}
        creds = cls(
            email=os.environ.get("LABEL_STUDIO_USERNAME") or stored.get("email") or DEFAULT_EMAIL,
            password=os.environ.get("LABEL_STUDIO_PASSWORD")
            or stored.get("password")
            or secrets.token_urlsafe(12),
            token=os.environ.get("LABEL_STUDIO_USER_TOKEN") or stored.get("token") or secrets.token_hex(20),
        )
        if not stored:
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump({"email": creds.email, "password": creds.password, "token": creds.token}, fh)
        return creds


def server_env(
    data_dir: Path, media_root: Path, creds: Credentials, base: dict | None = None
) -> dict[str, str]:
    """The environment Label Studio runs with (see the module docstring)."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in STRAY_VARS}
    env.update(
        LABEL_STUDIO_BASE_DATA_DIR=str(data_dir),
        LABEL_STUDIO_USERNAME=creds.email,
        LABEL_STUDIO_PASSWORD=creds.password,
        LABEL_STUDIO_USER_TOKEN=creds.token,
        LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",
        LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED="true",
        LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=str(media_root),
        LATEST_VERSION_CHECK="false",
        SENTRY_DSN="",
        FRONTEND_SENTRY_DSN="",
    )
    return env


class LabelStudioServer:
    """One Label Studio process on 127.0.0.1; ``with LabelStudioServer(...) as s: s.url, s.api_key``."""

    def __init__(
        self,
        data_dir: str | os.PathLike,
        *,
        port: int | None = None,
        media_root: str | os.PathLike | None = None,
        bin_path: str | None = None,
        startup_timeout: float = 240.0,
    ):
        self.data_dir = Path(data_dir).resolve()
        self.media_root = Path(media_root or Path.cwd()).resolve()
        self.port = port or free_port()
        self.bin_path = bin_path or label_studio_bin()
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.creds: Credentials | None = None
        self.log_path = self.data_dir / "label-studio.log"

    @property
    def url(self) -> str:
        """Base URL (loopback)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_key(self) -> str:
        """The admin's legacy API token (what ``LABEL_STUDIO_API_KEY`` should hold)."""
        assert self.creds is not None
        return self.creds.token

    def start(self) -> LabelStudioServer:
        """Start the process and wait until ``/health`` answers and the token authenticates."""
        if not self.media_root.is_dir():
            raise ToolkitError("media root is not a directory", file=str(self.media_root), key="--media-root")
        if not port_is_free(self.port):
            # Label Studio would silently move to port+1; refuse instead.
            raise ToolkitError(f"port {self.port} on 127.0.0.1 is in use; pick another --port", key="--port")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.creds = Credentials.load_or_create(self.data_dir)
        env = server_env(self.data_dir, self.media_root, self.creds)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                self.bin_path,
                "start",
                "--no-browser",
                "--internal-host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=str(self.data_dir),
        )
        log.close()
        try:
            self._wait_healthy()
            self._check_token()
        except BaseException:
            self.stop()
            raise
        return self

    def _log_tail(self, n: int = 3) -> str:
        with contextlib.suppress(OSError):
            lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]
            return " | ".join(lines[-n:])
        return ""

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise ToolkitError(
                    f"label-studio exited with code {self.proc.returncode}: {self._log_tail()}",
                    file=str(self.log_path),
                )
            with contextlib.suppress(OSError, urllib.error.URLError):
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200 and b"UP" in r.read():
                        return
            time.sleep(0.5)
        raise ToolkitError(
            f"label-studio did not become healthy in {self.startup_timeout:.0f} s", file=str(self.log_path)
        )

    def _check_token(self) -> None:
        req = urllib.request.Request(
            self.url + "/api/current-user/whoami", headers={"Authorization": f"Token {self.api_key}"}
        )
        try:
            with urllib.request.urlopen(req, timeout=10):
                return
        except urllib.error.HTTPError as e:
            raise ToolkitError(
                f"the API token was rejected (HTTP {e.code}); this data dir was created with another "
                "token or with legacy tokens disabled",
                file=str(self.data_dir),
            ) from None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the server (by PID, its own process group), then SIGKILL if it does not exit."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def __enter__(self) -> LabelStudioServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def prepare_template(template_dir: str | os.PathLike, *, bin_path: str | None = None) -> Path:
    """Migrate a data dir once (start, wait for health, stop) so copies of it start in ~3 s instead of ~40 s.

    Copies keep the template's SECRET_KEY, admin user and token (``viddiff-admin.json``).
    """
    template_dir = Path(template_dir)
    if (template_dir / ".migrated").exists():
        return template_dir
    media = template_dir / "media-root"
    media.mkdir(parents=True, exist_ok=True)
    with LabelStudioServer(template_dir, media_root=media, bin_path=bin_path):
        pass
    (template_dir / ".migrated").write_text("ok\n")
    return template_dir


def copy_data_dir(template_dir: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Copy a migrated data dir (``cp -a`` semantics) to ``dest``."""
    dest = Path(dest)
    shutil.copytree(template_dir, dest, symlinks=True, ignore=shutil.ignore_patterns("label-studio.log"))
    return dest


class _Stop(Exception):
    """Raised in the main thread by the SIGTERM handler of :func:`serve`."""


def _on_sigterm(signum, frame) -> None:
    raise _Stop(signal.Signals(signum).name)


def serve(
    data_dir: str | os.PathLike,
    *,
    port: int | None = None,
    media_root: str | os.PathLike | None = None,
    echo=print,
) -> None:
    """Run Label Studio until Ctrl-C (SIGINT) or SIGTERM: print URL, API key and the env lines the client side
    reads. Either signal stops the server process group before returning, so no Label Studio is left behind."""
    server = LabelStudioServer(data_dir, port=port or 8080, media_root=media_root)
    echo(f"starting Label Studio ({server.bin_path}) with data in {server.data_dir} ...")
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        _serve(server, echo)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _serve(server: LabelStudioServer, echo) -> None:
    try:
        server.start()
    except _Stop as e:
        echo(f"{e.args[0]}: stopping Label Studio ...")
        server.stop()
        echo("Label Studio stopped")
        return
    try:
        echo(
            f"Label Studio is up: {server.url}  (login {server.creds.email} / password in "
            f"{server.data_dir / CREDENTIALS_FILE})"
        )
        echo(f"export LABEL_STUDIO_URL={server.url}")
        echo(f"export LABEL_STUDIO_API_KEY={server.api_key}")
        echo(f"export LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT={server.media_root}")
        echo(f"annotators create their own login at {server.url}/user/signup/ (then log in at {server.url})")
        echo("press Ctrl-C (or send SIGTERM) to stop")
        while server.proc is not None and server.proc.poll() is None:
            time.sleep(0.5)
        raise ToolkitError(
            f"label-studio exited with code {server.proc.returncode}", file=str(server.log_path)
        )
    except KeyboardInterrupt:
        echo("SIGINT: stopping Label Studio ...")
    except _Stop as e:
        echo(f"{e.args[0]}: stopping Label Studio ...")
    finally:
        server.stop()
    echo("Label Studio stopped")
