"""What the deployment files are checked against, read from the project itself: the workspace, each service's
settings class (the variables it reads), the topics, the compose file and the rendered Kubernetes overlays."""

import functools
import importlib
import inspect
import re
import shutil
import subprocess
import sys
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr
from pydantic_settings import BaseSettings

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
OVERLAYS = ("small", "high-volume")
COMPOSE_FILE = REPO / "docker-compose.yml"
# Interpolation in docker-compose.yml: ${NAME}, ${NAME:-default}, ${NAME:?message} (and the -, ?, + forms).
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}")


@dataclass(frozen=True)
class Service:
    """One service: its folder name is also its compose service, its Deployment and its image (``pdx-<name>``)."""

    name: str
    folder: Path
    package: str  # the distribution name in its pyproject.toml
    module: str  # python -m <module>
    settings: type[BaseSettings]

    @property
    def prefix(self) -> str:
        return self.settings.model_config["env_prefix"]

    @property
    def reads(self) -> dict[str, Any]:
        """Every variable the service reads, with the settings field it fills."""
        return {env_name(self.settings, name): field for name, field in self.settings.model_fields.items()}

    @property
    def required(self) -> set[str]:
        return {env for env, field in self.reads.items() if field.is_required()}

    @property
    def secret(self) -> set[str]:
        return {env for env, field in self.reads.items() if _is_secret(field.annotation)}

    @property
    def port(self) -> int:
        return self.settings.model_fields["port"].default


def env_name(settings: type[BaseSettings], field_name: str) -> str:
    alias = settings.model_fields[field_name].validation_alias
    return alias.upper() if isinstance(alias, str) else (settings.model_config["env_prefix"] + field_name).upper()


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


def _settings_class(module: str) -> type[BaseSettings]:
    settings = importlib.import_module(f"{module}.settings")
    [cls] = [c for _, c in inspect.getmembers(settings, inspect.isclass)
             if issubclass(c, BaseSettings) and c.__module__ == settings.__name__]
    return cls


@functools.cache
def services() -> tuple[Service, ...]:
    found = []
    for folder in sorted((REPO / "services").iterdir()):
        if not (folder / "pyproject.toml").exists():
            continue
        [module] = [p.parent.name for p in (folder / "src").glob("*/__main__.py")]
        package = tomllib.loads((folder / "pyproject.toml").read_text())["project"]["name"]
        found.append(Service(folder.name, folder, package, module, _settings_class(module)))
    return tuple(found)


def service(name: str) -> Service:
    return next(s for s in services() if s.name == name)


# The workspace ------------------------------------------------------------------------------------------------------

@functools.cache
def workspace_members() -> dict[str, Path]:
    """Distribution name -> folder, for every member of the root pyproject's uv workspace."""
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    members = {}
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for folder in sorted(REPO.glob(pattern)):
            if (folder / "pyproject.toml").exists():
                members[tomllib.loads((folder / "pyproject.toml").read_text())["project"]["name"]] = folder
    return members


def workspace_dependencies(package: str) -> set[str]:
    """The workspace members ``package`` needs, itself included (transitively)."""
    members, seen, todo = workspace_members(), set(), [package]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        project = tomllib.loads((members[name] / "pyproject.toml").read_text())["project"]
        for requirement in project.get("dependencies", []):
            dep = re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]
            if dep in members:
                todo.append(dep)
    return seen


def uv_version_of_dev_script() -> str:
    return re.search(r"^UV_VERSION=(\S+)$", (REPO / "dev").read_text(), re.M).group(1)


# Compose --------------------------------------------------------------------------------------------------------------

@functools.cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def compose_environment(name: str) -> dict[str, str]:
    env = compose()["services"][name].get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


# Kubernetes -----------------------------------------------------------------------------------------------------------

def kubectl() -> str:
    """The venv's kubectl (kustomize built in), from the dev dependencies."""
    found = Path(sys.executable).with_name("kubectl")
    return str(found) if found.exists() else shutil.which("kubectl") or "kubectl"


@functools.cache
def render(target: str) -> tuple[dict[str, Any], ...]:
    """``kubectl kustomize`` of an overlay (or ``base``), as a tuple of manifests."""
    folder = K8S / ("base" if target == "base" else f"overlays/{target}")
    done = subprocess.run([kubectl(), "kustomize", str(folder)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"kubectl kustomize {folder} failed:\n{done.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def of_kind(manifests: tuple[dict[str, Any], ...], kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    [only] = deployment["spec"]["template"]["spec"]["containers"]
    return only


def k8s_environment(manifests: tuple[dict[str, Any], ...], deployment: str) -> dict[str, dict[str, Any]]:
    """Variable -> where its value comes from (``{"value": ...}``, ``{"configMap": ...}`` or ``{"secretKeyRef": ...}``),
    for the Deployment's one container: its ConfigMaps (envFrom) and its own env entries."""
    spec = container(of_kind(manifests, "Deployment")[deployment])
    config_maps = of_kind(manifests, "ConfigMap")
    env: dict[str, dict[str, Any]] = {}
    for source in spec.get("envFrom", []):
        assert "configMapRef" in source, f"{deployment}: envFrom {source} hides which variables it sets"
        for key, value in config_maps[source["configMapRef"]["name"]]["data"].items():
            env[key] = {"configMap": value}
    for item in spec.get("env", []):
        env[item["name"]] = {"value": item["value"]} if "value" in item else dict(item["valueFrom"])
    return env


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a LabelSelector (matchLabels, matchExpressions) selects these labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        ok = {"In": key in labels and labels[key] in values, "NotIn": labels.get(key) not in values,
              "Exists": key in labels, "DoesNotExist": key not in labels}[op]
        if not ok:
            return False
    return True
