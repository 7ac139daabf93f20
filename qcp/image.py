"""`qcp image build|smoke`: the service image built without a Docker daemon (mmdebstrap base, buildah) and tried out.

The base is a Debian bookworm root filesystem made by mmdebstrap from Debian's packages (its python3 is 3.11),
cached as a tarball under the state folder and imported into buildah's storage; `deploy/Dockerfile` is then built
on it with `buildah bud --isolation chroot`, which needs neither a daemon nor a container runtime. With Docker,
the same Dockerfile builds on its default base (the build argument PYTHON_IMAGE).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from qcp.stack import StackConfig, StackError, ToolMissing, find_project_root

Echo = Callable[[str], None]

IMAGE_NAME = "qc-platform"
BASE_NAME = "localhost/qcp-base"
DOCKERFILE = Path("deploy/Dockerfile")
IGNORE_FILE = Path("deploy/Dockerfile.dockerignore")
#: The tools, each from Debian's package of its name (buildah pulls in no runtime: it builds with chroot isolation).
TOOLS = ("mmdebstrap", "buildah")
#: The Dockerfile's build argument that names its base image.
BASE_ARGUMENT = "PYTHON_IMAGE"
#: The Dockerfile's build secret with the certificate authorities the build host trusts.
CA_SECRET = "ca-certificates"


@dataclass(frozen=True)
class BaseRecipe:
    """What the Debian base holds: a suite, the packages beyond Essential and apt, and where they come from."""

    suite: str = "bookworm"
    # python3 (3.11 in bookworm); tzdata for zoneinfo (Asia/Shanghai); ca-certificates for TLS to managed backing
    # services; passwd for the app's user.
    packages: tuple[str, ...] = ("python3", "tzdata", "ca-certificates", "passwd")
    # A mirror's security updates are beside it (…/debian-security), as on deb.debian.org and the usual mirrors.
    mirror: str = "http://deb.debian.org/debian"
    # /bin, /lib... as links into /usr, as bookworm has them, without the usrmerge package (it would bring perl).
    hooks: tuple[str, ...] = ("merged-usr",)
    # No manuals, documentation (but the licences) or translations: nobody reads them in a container.
    dpkg_options: tuple[str, ...] = (
        "path-exclude=/usr/share/man/*",
        "path-exclude=/usr/share/info/*",
        "path-exclude=/usr/share/locale/*",
        "path-exclude=/usr/share/doc/*",
        "path-include=/usr/share/doc/*/copyright",
    )

    def sources(self) -> list[str]:
        return [
            f"deb {self.mirror} {self.suite} main",
            f"deb {self.mirror} {self.suite}-updates main",
            f"deb {self.mirror.rstrip('/')}-security {self.suite}-security main",
        ]

    @property
    def key(self) -> str:
        """Changes whenever the recipe does, so that a cached base is never one of another recipe."""
        return hashlib.sha256(json.dumps(self.__dict__, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def tag(self) -> str:
        return f"{BASE_NAME}:{self.suite}-{self.key}"

    def mmdebstrap_command(self, target: Path) -> list[str]:
        return [
            "mmdebstrap", "--variant=apt", "--format=tar", f"--include={','.join(self.packages)}",
            *(f"--hook-dir=/usr/share/mmdebstrap/hooks/{hook}" for hook in self.hooks),
            *(f"--dpkgopt={option}" for option in self.dpkg_options),
            self.suite, str(target), *self.sources(),
        ]


def project_version(root: Path) -> str:
    import tomllib

    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def image_tag(root: Path) -> str:
    return f"localhost/{IMAGE_NAME}:{project_version(root)}"


def image_directory(config: StackConfig) -> Path:
    return config.state_dir / "image"


# -- the tools ------------------------------------------------------------------------------------------------------
def ensure_tools(echo: Echo) -> None:
    """mmdebstrap and buildah from Debian's packages when either is missing (needs root and apt-get); idempotent."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ToolMissing(f"image: {', '.join(missing)} not installed; install them, e.g. "
                          f"`sudo apt-get install -y --no-install-recommends {' '.join(missing)}`")
    echo(f"image: installing {', '.join(missing)} with apt-get (first run only)...")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update"], env=environment, timeout=900)
    run(["apt-get", "install", "-y", "--no-install-recommends", *missing], env=environment, timeout=1800)


def run(argv: Sequence[str], *, env: dict[str, str] | None = None, timeout: float | None = None) -> str:
    """A command's standard output alone (buildah answers JSON and names there, warnings on standard error); its
    failure as a StackError that quotes the end of both."""
    try:
        done = subprocess.run(list(argv), env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except FileNotFoundError:
        raise ToolMissing(f"image: command not found: {argv[0]}") from None
    except subprocess.TimeoutExpired:
        raise StackError(f"image: `{' '.join(argv)}` did not finish within {timeout:.0f} s") from None
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise StackError(f"image: `{' '.join(argv)}` failed with exit code {done.returncode}\n{tail}")
    return done.stdout


def stream(argv: Sequence[str], *, cwd: Path | None = None) -> None:
    """A long command with its output on the terminal (the build shows its steps as they run)."""
    code = subprocess.run(list(argv), cwd=cwd, stdin=subprocess.DEVNULL, check=False).returncode
    if code != 0:
        raise StackError(f"image: `{' '.join(argv)}` failed with exit code {code} (its output is above)")


def image_id(tag: str) -> str | None:
    found = subprocess.run(["buildah", "images", "--quiet", "--no-trunc", tag], capture_output=True, text=True,
                           check=False)
    return found.stdout.split()[0] if found.returncode == 0 and found.stdout.split() else None


def image_exists(tag: str) -> bool:
    return image_id(tag) is not None


# -- the base -------------------------------------------------------------------------------------------------------
def base_tarball(recipe: BaseRecipe, config: StackConfig, echo: Echo, *, refresh: bool = False) -> Path:
    """The recipe's root filesystem as a tarball, made once (a minute or two) and then cached."""
    tarball = image_directory(config) / f"debian-{recipe.suite}-{recipe.key}.tar"
    if tarball.exists() and not refresh:
        echo(f"base: cached {tarball.name} ({tarball.stat().st_size / 2**20:.0f} MiB)")
        return tarball
    tarball.parent.mkdir(parents=True, exist_ok=True)
    partial = tarball.with_name(f"{tarball.stem}.{os.getpid()}.partial")  # two builds at once do not mix
    echo(f"base: mmdebstrap {recipe.suite} with {', '.join(recipe.packages)} from {recipe.mirror}...")
    began = time.monotonic()
    run(recipe.mmdebstrap_command(partial), timeout=1800)
    partial.replace(tarball)  # only a finished tarball is ever cached
    for stale in tarball.parent.glob(f"debian-{recipe.suite}-*.tar"):
        if stale != tarball:
            stale.unlink()  # another recipe's base: its image stays in buildah's storage until removed there
    echo(f"base: {tarball.name} made in {time.monotonic() - began:.0f} s")
    return tarball


def import_base(recipe: BaseRecipe, tarball: Path, echo: Echo, *, refresh: bool = False) -> str:
    """The tarball as an image in buildah's storage, tagged with the recipe's key (imported once)."""
    if image_exists(recipe.tag) and not refresh:
        return recipe.tag
    container = run(["buildah", "from", "scratch"]).strip()
    try:
        run(["buildah", "add", container, str(tarball), "/"])  # a local tarball is unpacked
        run(["buildah", "config", "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "--env", "LANG=C.UTF-8", "--cmd", "python3", "--label", f"qcp.base-recipe={recipe.key}", container])
        run(["buildah", "commit", "--quiet", container, recipe.tag])
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True, check=False)
    echo(f"base: imported as {recipe.tag}")
    return recipe.tag


# -- the image ------------------------------------------------------------------------------------------------------
def host_certificate_authorities() -> Path | None:
    """The bundle this machine trusts for TLS (it may hold a proxy's authority that PyPI's answers are signed by)."""
    import ssl

    defaults = ssl.get_default_verify_paths()
    for candidate in (os.environ.get("SSL_CERT_FILE"), defaults.cafile, defaults.openssl_cafile,
                      "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def bud_command(root: Path, base: str, tag: str, certificate_authorities: Path | None = None) -> list[str]:
    """buildah's build of deploy/Dockerfile on `base`; chroot isolation, so no daemon and no runtime (runc, crun).
    The host's certificate authorities go in as a build secret: used while fetching from PyPI, kept out of layers."""
    secret = ["--secret", f"id={CA_SECRET},src={certificate_authorities}"] if certificate_authorities else []
    return [
        "buildah", "bud", "--isolation", "chroot", "--layers", "--force-rm", "--pull=never",
        "--file", str(root / DOCKERFILE), "--ignorefile", str(root / IGNORE_FILE),
        "--build-arg", f"{BASE_ARGUMENT}={base}", *secret, "--tag", tag, str(root),
    ]


def image_size(tag: str) -> int:
    """Bytes the image's layers take unpacked (what a node stores for it), from buildah's layer records."""
    store = json.loads(run(["buildah", "info"]))["store"]
    records = Path(store["GraphRoot"]) / f"{store['GraphDriverName']}-layers" / "layers.json"
    try:
        sizes = {layer.get("diff-digest"): layer.get("diff-size", 0) for layer in json.loads(records.read_text())}
    except (OSError, ValueError) as error:
        raise StackError(f"image: cannot read the layer sizes from buildah's storage ({records}): {error}") from None
    layers = json.loads(run(["buildah", "inspect", "--type", "image", tag]))["OCIv1"]["rootfs"]["diff_ids"]
    return sum(sizes.get(layer, 0) for layer in layers)


def build_image(config: StackConfig, echo: Echo, *, recipe: BaseRecipe, refresh_base: bool = False) -> dict[str, Any]:
    root = find_project_root()
    began = time.monotonic()
    ensure_tools(echo)
    tools_seconds = time.monotonic() - began
    tarball = base_tarball(recipe, config, echo, refresh=refresh_base)
    base = import_base(recipe, tarball, echo, refresh=refresh_base)
    base_seconds = time.monotonic() - began - tools_seconds
    tag = image_tag(root)
    replaced = image_id(tag)
    command = bud_command(root, base, tag, host_certificate_authorities())
    echo("build: " + " ".join(command))
    build_began = time.monotonic()
    stream(command, cwd=root)
    if replaced and replaced != image_id(tag):
        # the image this build replaces, untagged now; kept if a container still uses it
        subprocess.run(["buildah", "rmi", replaced], capture_output=True, check=False)
    return {
        "image": tag, "base": base, "base_tarball": str(tarball),
        "tools_seconds": round(tools_seconds, 1), "base_seconds": round(base_seconds, 1),
        "build_seconds": round(time.monotonic() - build_began, 1), "total_seconds": round(time.monotonic() - began, 1),
        "size_bytes": image_size(tag),
    }


# -- the command line -----------------------------------------------------------------------------------------------
@click.group()
def image() -> None:
    """The service image without a Docker daemon: a Debian base by mmdebstrap, deploy/Dockerfile by buildah."""


@image.command("build")
@click.option("--refresh-base", is_flag=True, help="make the Debian base again (security updates) instead of the cached one")
@click.option("--debian-mirror", default=BaseRecipe.mirror, show_default=True,
              help="where the base's packages come from (security updates: the same URL + '-security')")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"), show_default=True)
def build_command(refresh_base: bool, debian_mirror: str, output: Path) -> None:
    """Install mmdebstrap and buildah if missing, make the Debian bookworm base (cached under the state folder) and
    build deploy/Dockerfile on it as localhost/qc-platform:<version>. Needs root. JSON report in reports/."""
    from benchmarks.measure import write_report

    try:
        result = build_image(StackConfig(), click.echo, recipe=BaseRecipe(mirror=debian_mirror),
                             refresh_base=refresh_base)
    except StackError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"image {result['image']}: {result['size_bytes'] / 1e6:.0f} MB, base {result['base_seconds']:.0f} s, "
               f"build {result['build_seconds']:.0f} s")
    click.echo(f"report: {write_report(output, 'image-build', result)}")


@image.command("smoke")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"), show_default=True)
def smoke_command(output: Path) -> None:
    """Start registration's `qcp serve api` and `qcp serve worker` from the built image's root filesystem (chroot,
    as the image's user) against the local stack in a namespace of their own; check /ready and one command end to
    end (a season opened and read back once the worker projected it); remove the namespace. Needs root. Exits 1
    when a check fails. JSON report in reports/."""
    from benchmarks.measure import write_report
    from qcp.image_smoke import smoke

    root = find_project_root()
    try:
        result = smoke(image_tag(root), StackConfig(), click.echo)
    except StackError as error:
        raise click.ClickException(str(error)) from None
    click.echo(json.dumps({key: result[key] for key in ("passed", "image", "size_bytes", "startup_seconds")}))
    click.echo(f"report: {write_report(output, 'image-smoke', result)}")
    if not result["passed"]:
        raise SystemExit(1)
