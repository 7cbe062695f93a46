"""The Containerfile, the Kubernetes workloads and the systemd units run the same hub commands.

No container runtime runs in CI, so the image is not built here: its ENTRYPOINT/CMD and user are parsed and
compared with the units (which systemd-analyze checks) and the manifests (which the Kubernetes schema checks).
"""

from __future__ import annotations

from typing import Any

from tests.deploy._files import (
    DEPLOY,
    ROOT,
    UNITS,
    containerfile_instructions,
    exec_form,
    manifest_documents,
    program_command,
    unit_values,
)


def _unit_commands() -> list[list[str]]:
    commands: list[list[str]] = []
    for unit in sorted(UNITS.glob("madoguchi-*.service")):
        for key in ("ExecStartPre", "ExecStart"):
            commands.extend(program_command(line) for line in unit_values(unit, key))
    return commands


def _final_stage() -> list[tuple[str, str]]:
    instructions = containerfile_instructions(DEPLOY / "Containerfile")
    last_from = max(index for index, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[last_from:]


def _manifest_commands() -> dict[str, list[str]]:
    commands: dict[str, list[str]] = {}
    for _, document in manifest_documents():
        spec: dict[str, Any] = document.get("spec", {})
        if document["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        if document["kind"] in {"Deployment", "Job", "CronJob"}:
            pod = spec["template"]["spec"]
            for container in [*pod.get("initContainers", []), *pod["containers"]]:
                commands[f"{document['kind']}/{container['name']}"] = [
                    *container["command"],
                    *container.get("args", []),
                ]
    return commands


def test_image_default_command_is_the_hub_units_command() -> None:
    """`hub serve`, exactly what madoguchi-hub.service starts; exec form so the hub gets SIGTERM itself."""
    stage = _final_stage()
    entrypoint = [exec_form(arguments) for name, arguments in stage if name == "ENTRYPOINT"][-1]
    cmd = [exec_form(arguments) for name, arguments in stage if name == "CMD"][-1]
    hub_unit = UNITS / "madoguchi-hub.service"
    assert [entrypoint + cmd] == [program_command(line) for line in unit_values(hub_unit, "ExecStart")]


def test_workloads_run_the_units_commands() -> None:
    """Deployment (with its config check), migration Job and purge CronJob run exactly the hub commands the
    hub unit (ExecStartPre= and ExecStart=) and the purge unit run."""
    unit_commands = _unit_commands()
    hub_commands = [command for command in unit_commands if command[0] == "hub"]
    assert _manifest_commands() == {
        "Deployment/check-config": ["hub", "check-config"],
        "Deployment/hub": ["hub", "serve"],
        "Job/migrate": ["hub", "db", "upgrade"],
        "CronJob/purge": ["hub", "evidence", "purge"],
    }
    assert sorted(_manifest_commands().values()) == sorted(hub_commands)


def test_image_runs_as_the_manifests_user_with_the_venv_on_path() -> None:
    """A numeric non-root USER matching runAsUser (a name cannot satisfy runAsNonRoot), and `hub` on PATH."""
    stage = _final_stage()
    (user,) = [arguments for name, arguments in stage if name == "USER"]
    uid = int(user.split(":")[0])
    assert uid != 0
    for _, document in manifest_documents():
        if document["kind"] in {"Deployment", "Job"}:
            assert document["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == uid
    env = " ".join(arguments for name, arguments in stage if name == "ENV")
    assert "PATH=/opt/madoguchi/.venv/bin:" in env
    assert "PYTHONDONTWRITEBYTECODE=1" in env


def test_image_copies_only_files_that_exist() -> None:
    """Every COPY source from the build context is in the repository (a moved file would break the build)."""
    copies = [
        arguments.split()
        for name, arguments in containerfile_instructions(DEPLOY / "Containerfile")
        if name == "COPY" and not arguments.startswith("--from")
    ]
    assert copies
    for parts in copies:
        for source in parts[:-1]:
            assert (ROOT / source).exists(), source
    # The editable install needs the packages setuptools is told to include.
    copied = {source for parts in copies for source in parts[:-1]}
    assert {
        "pyproject.toml",
        "README.md",
        "service",
        "clerk_agent",
        "municipal_console",
        "migrations",
    } <= copied
