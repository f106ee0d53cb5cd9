"""The Dockerfiles, offline: one pattern for every service, every COPY'd path exists and survives .dockerignore, the
builder installs only the service's part of the lock file, and the runtime runs the service as a non-root user."""

import difflib
import fnmatch
import re
from pathlib import Path

import pytest

from tests.deploy.project import (
    REPO,
    Service,
    services,
    uv_version_of_dev_script,
    workspace_dependencies,
    workspace_members,
)

SANDBOXES = REPO / "sandboxes" / "Dockerfile"


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def copied_sources(dockerfile: Path) -> list[str]:
    sources = []
    for op, args in instructions(dockerfile):
        if op == "COPY" and not args.startswith("--from="):
            sources += [a for a in args.split()[:-1] if not a.startswith("--")]
    return sources


def ignored(path: str) -> bool:
    """Whether .dockerignore leaves ``path`` out of the build context (its patterns here use no ``!``)."""
    patterns = [p.strip() for p in (REPO / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]
    assert not any(p.startswith("!") for p in patterns), "negations are not modelled here"
    parts = Path(path).parts
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return any(fnmatch.fnmatch(prefix, p.removeprefix("**/")) or fnmatch.fnmatch(prefix, p)
               or (p.startswith("**/") and fnmatch.fnmatch(Path(prefix).name, p[3:]))
               for p in patterns for prefix in prefixes)


def normalized(svc: Service) -> str:
    """The Dockerfile with the service's own names replaced, and without the COPY of another service's sources it
    depends on (the gateway imports the mapper's pure mapping for previews): the pattern is the same apart from those.
    That the COPY'd sources are exactly the needed ones is checked on its own below."""
    text = (svc.folder / "Dockerfile").read_text()
    for dep in workspace_dependencies(svc.package) - {svc.package}:
        folder = workspace_members()[dep].relative_to(REPO)
        if folder.parts[0] == "services":
            text = text.replace(f"COPY {folder}/src {folder}/src\n", "")
    for value, placeholder in ((svc.package, "<package>"), (svc.prefix, "<PREFIX>"), (svc.module, "<module>"),
                               (f"services/{svc.name}/Dockerfile", "services/<svc>/Dockerfile"),
                               (f"COPY services/{svc.name}/src services/{svc.name}/src", "COPY <svc>/src"),
                               (f"pdx-{svc.name}", "pdx-<svc>"),
                               (str(svc.port), "<port>"), (f"The {svc.name} service", "The <svc> service")):
        text = text.replace(value, placeholder)
    return text


SERVICES = pytest.mark.parametrize("svc", services(), ids=lambda s: s.name)


def test_every_service_follows_one_dockerfile_pattern():
    [first, *others] = services()
    for svc in others:
        diff = difflib.unified_diff(normalized(first).splitlines(), normalized(svc).splitlines(), lineterm="")
        assert normalized(svc) == normalized(first), f"{svc.name} differs from {first.name}:\n" + "\n".join(diff)


@pytest.mark.parametrize("dockerfile", [*(s.folder / "Dockerfile" for s in services()), SANDBOXES],
                         ids=lambda p: p.parent.name)
def test_copied_paths_exist_and_are_in_the_build_context(dockerfile):
    for source in copied_sources(dockerfile):
        assert (REPO / source).exists(), f"{dockerfile}: COPY {source} does not exist"
        assert not ignored(source), f"{dockerfile}: COPY {source} is excluded by .dockerignore"


@pytest.mark.parametrize("dockerfile", [*(s.folder / "Dockerfile" for s in services()), SANDBOXES],
                         ids=lambda p: p.parent.name)
def test_the_builder_sees_the_whole_workspace_and_the_pinned_uv(dockerfile):
    manifests = {str(folder.relative_to(REPO) / "pyproject.toml") for folder in workspace_members().values()}
    assert manifests <= set(copied_sources(dockerfile)), "uv needs every workspace member's pyproject.toml"
    assert {"pyproject.toml", "uv.lock"} <= set(copied_sources(dockerfile))
    assert f"ARG UV_VERSION={uv_version_of_dev_script()}" in dockerfile.read_text()


@pytest.mark.parametrize(("dockerfile", "package"), [
    *(pytest.param(s.folder / "Dockerfile", s.package, id=s.name) for s in services()),
    pytest.param(SANDBOXES, "pdx-sandbox", id="sandboxes")])
def test_the_builder_installs_only_this_package_from_the_lock(dockerfile, package):
    syncs = [args for op, args in instructions(dockerfile) if op == "RUN" and "uv sync" in args]
    assert len(syncs) == 2
    for args in syncs:
        assert "--frozen" in args and "--no-dev" in args and f"--package {package}" in args.split("uv sync")[1]
    assert "--no-install-workspace" in syncs[0] and "--no-editable" in syncs[1]
    sources = {s for s in copied_sources(dockerfile) if s.endswith("/src")}
    needed = {str(workspace_members()[dep].relative_to(REPO) / "src") for dep in workspace_dependencies(package)}
    assert sources == needed


@SERVICES
def test_the_runtime_runs_the_service_as_a_non_root_user_with_a_health_check(svc):
    steps = instructions(svc.folder / "Dockerfile")
    froms = [args for op, args in steps if op == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS builder", "${PYTHON_IMAGE} AS runtime"]
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in (svc.folder / "Dockerfile").read_text()
    runtime = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM"):]
    assert [args for op, args in runtime if op == "COPY"] == ["--from=builder /app/.venv /app/.venv"]
    [user] = [args for op, args in runtime if op == "USER"]
    assert re.fullmatch(r"[1-9][0-9]*:[1-9][0-9]*", user), "a numeric non-root user, so runAsNonRoot can verify it"
    [entrypoint] = [args for op, args in runtime if op == "ENTRYPOINT"]
    assert entrypoint == f'["python", "-m", "{svc.module}"]'
    assert (svc.folder / "src" / svc.module / "__main__.py").exists()
    [healthcheck] = [args for op, args in runtime if op == "HEALTHCHECK"]
    assert "/healthz" in healthcheck and f"os.environ.get('{svc.prefix}PORT', '{svc.port}')" in healthcheck


def test_the_sandboxes_image_runs_a_sandbox_module():
    steps = instructions(SANDBOXES)
    assert ("ENTRYPOINT", '["python", "-m"]') in steps
    [cmd] = [args for op, args in steps if op == "CMD"]
    module = cmd.split('"')[1]
    assert (REPO / "sandboxes" / "src" / module.replace(".", "/") / "__main__.py").exists()


def test_dockerignore_keeps_local_state_and_secrets_out():
    for path in (".venv/bin/python", ".tools/bin/uv", ".local/api.token", ".git/HEAD", ".env",
                 "libs/common/src/pdx_common/__pycache__/x.pyc", ".pytest_cache/v", "tests/unit/test_x.py"):
        assert ignored(path), path
    for path in ("uv.lock", "pyproject.toml", "libs/common/src/pdx_common/topics.py"):
        assert not ignored(path), path
