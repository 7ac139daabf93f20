"""`qcp image smoke`: one service's API and worker run from the built image's root filesystem against the local stack.

No container runtime is needed (none can run on a machine that refuses setrlimit to containers): buildah mounts the
image's root filesystem, and each process is started in a mount namespace of its own with /proc and /dev inside
that root, then `chroot` to it as the image's user, in its working directory, with its environment and entrypoint,
so that what runs is what a pod runs: the image's Python, its locked environment, its user, nothing of the host's.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from infra.auth import TokenService
from infra.bootstrap import tokens_for
from infra.settings import ServiceSettings
from qcp.image import image_exists, image_size, run
from qcp.stack import StackConfig, StackError, create_database, up

Echo = Callable[[str], None]

#: Runs as root in a private mount namespace; the mounts vanish with the process (exec keeps one pid throughout).
ENTER_ROOT = (
    'root=$1 user=$2 workdir=$3; shift 3; '
    'mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" '
    '&& exec chroot --userspec="$user" "$root" env --chdir="$workdir" "$@"'
)
#: Compilers and build tools that must not be in the image.
COMPILERS = ("usr/bin/gcc", "usr/bin/cc", "usr/bin/c++", "usr/bin/g++", "usr/bin/clang", "usr/bin/make", "usr/bin/ld")
READY_TIMEOUT = 120.0
PROJECTION_TIMEOUT = 60.0


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class ImageConfig:
    """What the image says about how to run it (its OCI configuration)."""

    user: str
    workdir: str
    entrypoint: list[str]
    environment: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, tag: str) -> ImageConfig:
        config = json.loads(run(["buildah", "inspect", "--type", "image", tag]))["OCIv1"]["config"]
        environment = dict(item.split("=", 1) for item in config.get("Env") or [])
        return cls(user=config.get("User") or "0", workdir=config.get("WorkingDir") or "/",
                   entrypoint=config.get("Entrypoint") or [], environment=environment)

    @property
    def non_root(self) -> bool:
        return self.user.split(":")[0] not in ("", "0", "root")


def process_command(root: Path, image: ImageConfig, arguments: list[str]) -> list[str]:
    """The host command that runs the image's entrypoint with `arguments` inside `root`, as the image's user."""
    user = image.user if ":" in image.user else f"{image.user}:{image.user}"
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", ENTER_ROOT, "sh",
            str(root), user, image.workdir, *image.entrypoint, *arguments]


def leftovers(root: Path) -> list[str]:
    """Compilers, downloaded packages, package lists and build caches found in a root filesystem."""
    found = [path for path in COMPILERS if (root / path).exists()]
    found += [str(path.relative_to(root)) for path in (root / "var/cache/apt/archives").glob("*.deb")]
    found += [str(path.relative_to(root)) for path in (root / "var/lib/apt/lists").glob("*_Packages*")]
    found += [str(path.relative_to(root)) for path in (root / "root/.cache", root / "app/.cache",
                                                       root / "var/cache/pip") if path.exists()]
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def smoke(tag: str, config: StackConfig, echo: Echo, *, service: str = "registration") -> dict[str, Any]:
    """Start, check and stop; the result says what passed, how long start-up took and how big the image is."""
    from benchmarks.review import namespace_settings

    if not image_exists(tag):
        raise StackError(f"image: {tag} is not in buildah's storage; build it first with `qcp image build`")
    up(config, echo=echo)
    image = ImageConfig.of(tag)
    # Outside development mode, as a deployment runs: signed with a key of its own, never the published one.
    settings = namespace_settings(config, service).model_copy(
        update={"development_mode": False, "jwt_secret": SecretStr(secrets.token_hex(32))})
    checks: list[Check] = []
    result: dict[str, Any] = {"image": tag, "size_bytes": image_size(tag), "user": image.user, "service": service,
                              "namespace": settings.topic_prefix}
    container = None
    try:
        create_database(config, str(settings.postgres_db))
        container = run(["buildah", "from", "--pull=never", tag]).strip()
        root = Path(run(["buildah", "mount", container]).strip())
        checks.append(Check("non-root user", image.non_root, f"the image runs as {image.user!r}"))
        present = leftovers(root)
        checks.append(Check("no compilers or caches", not present, ", ".join(present) or "none found"))
        with tempfile.TemporaryDirectory(prefix="qcp-image-smoke-") as logs:
            result |= _run_processes(root, image, settings, service, Path(logs), checks, echo)
    finally:
        if container:
            subprocess.run(["buildah", "umount", container], capture_output=True, check=False)
            subprocess.run(["buildah", "rm", container], capture_output=True, check=False)
        result["namespace_removed"] = _remove(config, settings, echo)
    result["checks"] = [asdict(check) for check in checks]
    result["passed"] = all(check.ok for check in checks)
    for check in checks:
        echo(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    return result


def _remove(config: StackConfig, settings: ServiceSettings, echo: Echo) -> bool:
    """Drop the smoke's topics, MongoDB database and event store; a stack that fails meanwhile is named, not hidden
    behind the checks' results."""
    from benchmarks.review import remove_namespace

    try:
        asyncio.run(remove_namespace(config, settings))
    except Exception as error:  # noqa: BLE001 - any failure leaves the namespace behind, and says so
        echo(f"could not remove the namespace {settings.topic_prefix} ({type(error).__name__}: {error}); "
             f"its topics start with it, its databases are {settings.database_name} and {settings.postgres_db}")
        return False
    return True


def _environment(image: ImageConfig, settings: ServiceSettings) -> dict[str, str]:
    """The image's own environment and what the service needs to find the stack, in the smoke's namespace."""
    return image.environment | {
        "QCP_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "QCP_MONGO_URL": settings.mongo_url,
        "QCP_MONGO_DB_PREFIX": settings.mongo_db_prefix, "QCP_EVENT_STORE": "postgres",
        "QCP_POSTGRES_PORT": str(settings.postgres_port), "QCP_POSTGRES_DB": str(settings.postgres_db),
        "QCP_POSTGRES_POOL_SIZE": "2", "QCP_TOPIC_PREFIX": settings.topic_prefix,
        "QCP_RELAY_POLL_INTERVAL_SECONDS": "0.1", "QCP_JWT_SECRET": settings.jwt_secret.get_secret_value(),
    }


def _run_processes(root: Path, image: ImageConfig, settings: ServiceSettings, service: str, logs: Path,
                   checks: list[Check], echo: Echo) -> dict[str, Any]:
    ports = {"api": free_port(), "worker": free_port()}
    environment = _environment(image, settings)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    started: dict[str, float] = {}
    startup: dict[str, float | None] = {"api": None, "worker": None}
    measured: dict[str, Any] = {"ports": ports, "startup_seconds": startup}
    try:
        for kind, port in ports.items():
            arguments = ["serve", kind, "--service", service, "--host", "127.0.0.1", "--port", str(port)]
            with (logs / f"{kind}.log").open("wb") as log:
                started[kind] = time.monotonic()
                processes[kind] = subprocess.Popen(  # noqa: S603 - our own image's entrypoint
                    process_command(root, image, arguments), env=environment, stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )
            echo(f"{service}-{kind}: started from the image on port {port} (pid {processes[kind].pid})")
        for kind, seconds in _wait_ready(processes, ports, started).items():
            startup[kind] = seconds
            code = processes[kind].poll()
            failure = f"exited with code {code}" if code is not None else f"not ready within {READY_TIMEOUT:.0f} s"
            checks.append(Check(f"{kind} /ready", seconds is not None, f"200 after {seconds:.1f} s" if seconds else
                                f"{failure}; its log ends:\n{_tail(logs / f'{kind}.log')}"))
        if all(startup.values()):
            measured["command"] = _one_command(f"http://127.0.0.1:{ports['api']}", tokens_for(settings), checks)
        for kind in ("api", "worker"):
            checks.append(_running_user(processes[kind], image, kind))
    finally:
        stopped = {kind: _stop(process) for kind, process in processes.items()}
        measured["stopped"] = {kind: {"exit_status": code, "killed": killed} for kind, (code, killed) in stopped.items()}
    for kind, (code, killed) in stopped.items():
        # uvicorn raises the signal again once it has shut down gracefully, so an API's exit status is -SIGTERM
        checks.append(Check(f"{kind} stops on SIGTERM", not killed and code in (0, -signal.SIGTERM),
                            f"exit status {code}" + (", needed SIGKILL" if killed else "")))
    return measured


def _wait_ready(processes: dict[str, subprocess.Popen[bytes]], ports: dict[str, int],
                started: dict[str, float]) -> dict[str, float | None]:
    ready: dict[str, float | None] = {kind: None for kind in ports}
    deadline = time.monotonic() + READY_TIMEOUT
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline and any(value is None for value in ready.values()):
            for kind, port in ports.items():
                if ready[kind] is not None or processes[kind].poll() is not None:
                    continue
                try:
                    if client.get(f"http://127.0.0.1:{port}/ready").status_code == 200:
                        ready[kind] = round(time.monotonic() - started[kind], 2)
                except httpx.HTTPError:
                    pass
            if all(process.poll() is not None for kind, process in processes.items() if ready[kind] is None):
                break
            time.sleep(0.2)
    return ready


def _one_command(url: str, tokens: TokenService, checks: list[Check]) -> dict[str, Any]:
    """An organizer opens the demo season; it is read back once the worker has projected it."""
    from qcp.demo import demo_season

    now = datetime.now(UTC)
    body = demo_season(now.year, now)
    season_id = f"{body['organizer']}-{body['year']}-{body['kind']}"
    headers = {"Authorization": f"Bearer {tokens.mint('image-smoke', 'organizer', body['organizer'])}"}
    began = time.monotonic()
    with httpx.Client(base_url=url, timeout=30, headers=headers) as client:
        opened = client.post("/seasons", json=body)
        checks.append(Check("open a season", opened.status_code == 201, f"POST /seasons: {opened.status_code}"))
        if opened.status_code != 201:
            checks[-1].detail += f" {opened.text[:300]}"
            return {"season_id": season_id}
        deadline = time.monotonic() + PROJECTION_TIMEOUT
        read = client.get(f"/seasons/{season_id}")
        while read.status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
            read = client.get(f"/seasons/{season_id}")
    seconds = round(time.monotonic() - began, 2)
    projected = read.status_code == 200 and read.json().get("title") == body["title"]
    checks.append(Check("season read back after the worker projected it", projected,
                        f"GET /seasons/{season_id}: {read.status_code} after {seconds:.1f} s"))
    return {"season_id": season_id, "opened_to_projected_seconds": seconds}


def _running_user(process: subprocess.Popen[bytes], image: ImageConfig, kind: str) -> Check:
    """The process really runs as the image's user (read from the kernel, not assumed)."""
    try:
        status = Path(f"/proc/{process.pid}/status").read_text()
    except OSError:
        return Check(f"{kind} runs as the image's user", False, "the process is gone")
    uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
    return Check(f"{kind} runs as the image's user", uid == image.user.split(":")[0], f"uid {uid}")


def _stop(process: subprocess.Popen[bytes], timeout: float = 20.0) -> tuple[int | None, bool]:
    """SIGTERM, as Kubernetes stops a pod; SIGKILL after `timeout`. Answers the exit status and whether it was killed."""
    killed = False
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            killed = True
    return process.returncode, killed


def _tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"
