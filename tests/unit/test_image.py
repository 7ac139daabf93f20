"""`qcp image`: the commands it runs, without running them (a real build takes minutes: `qcp image build`)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner

from qcp.cli import cli
from qcp.image import BASE_ARGUMENT, DOCKERFILE, BaseRecipe, bud_command, image_tag
from qcp.image_smoke import ImageConfig, leftovers, process_command

ROOT = Path(__file__).resolve().parents[2]


def test_the_cli_offers_build_and_smoke() -> None:
    result = CliRunner().invoke(cli, ["image", "--help"])

    assert result.exit_code == 0
    assert re.search(r"^\s+build\s", result.output, re.M) and re.search(r"^\s+smoke\s", result.output, re.M)


def test_the_dockerfile_takes_its_base_as_the_argument_the_build_passes() -> None:
    lines = [line.strip() for line in (ROOT / DOCKERFILE).read_text().splitlines()]
    first_stage = next(index for index, line in enumerate(lines) if line.startswith("FROM "))

    assert any(line.startswith(f"ARG {BASE_ARGUMENT}=") for line in lines[:first_stage])
    assert [line.split()[1] for line in lines if line.startswith("FROM ")] == [f"${{{BASE_ARGUMENT}}}"] * 2


def test_buildah_builds_the_dockerfile_on_the_local_base_without_a_daemon_or_a_registry() -> None:
    command = bud_command(ROOT, "localhost/qcp-base:bookworm-abc", "localhost/qc-platform:0.1.0")

    assert command[:2] == ["buildah", "bud"]
    assert command[command.index("--isolation") + 1] == "chroot"
    assert f"{BASE_ARGUMENT}=localhost/qcp-base:bookworm-abc" in command
    assert "--pull=never" in command
    assert command[command.index("--ignorefile") + 1] == str(ROOT / "deploy/Dockerfile.dockerignore")
    assert command[-1] == str(ROOT)


def test_the_image_is_tagged_with_the_project_version() -> None:
    assert re.fullmatch(r"localhost/qc-platform:\d+\.\d+\.\d+", image_tag(ROOT))


def test_a_cached_base_is_never_one_of_another_recipe() -> None:
    recipe = BaseRecipe()

    assert replace(recipe, packages=(*recipe.packages, "gcc")).key != recipe.key
    assert recipe.key in recipe.tag


def test_the_base_is_bookworm_with_python_from_debian_and_its_security_updates() -> None:
    command = BaseRecipe().mmdebstrap_command(Path("/tmp/base.tar"))

    assert command[0] == "mmdebstrap" and "bookworm" in command
    assert "python3" in next(item for item in command if item.startswith("--include=")).split("=")[1].split(",")
    assert any(item.endswith("bookworm-security main") for item in command)


def test_a_smoke_process_runs_the_entrypoint_chrooted_as_the_image_user() -> None:
    image = ImageConfig(user="10001", workdir="/app", entrypoint=["qcp"])

    command = process_command(Path("/mnt/root"), image, ["serve", "api", "--port", "8000"])

    assert command[:2] == ["unshare", "--mount"]
    assert command[-8:] == ["/mnt/root", "10001:10001", "/app", "qcp", "serve", "api", "--port", "8000"]
    assert "chroot --userspec=" in command[command.index("-c") + 1]


def test_an_image_without_a_user_counts_as_root() -> None:
    assert not ImageConfig(user="0", workdir="/", entrypoint=[]).non_root
    assert ImageConfig(user="10001:10001", workdir="/", entrypoint=[]).non_root


def test_compilers_and_package_caches_in_a_root_filesystem_are_found(tmp_path: Path) -> None:
    for path in ("usr/bin/gcc", "var/cache/apt/archives/libc6_2.36_amd64.deb", "root/.cache/pip/x"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")

    assert sorted(leftovers(tmp_path)) == ["root/.cache", "usr/bin/gcc", "var/cache/apt/archives/libc6_2.36_amd64.deb"]


def test_a_clean_root_filesystem_has_no_leftovers(tmp_path: Path) -> None:
    (tmp_path / "var/lib/apt/lists/partial").mkdir(parents=True)
    (tmp_path / "var/lib/apt/lists/lock").write_text("")

    assert leftovers(tmp_path) == []
