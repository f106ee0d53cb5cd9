"""No drift between what each service reads and what docker-compose.yml, deploy/k8s and the Dockerfiles set.

What a service reads comes from its pydantic settings class: ``model_config["env_prefix"]`` + each field of
``model_fields``; the required ones are the fields without a default."""

import re

import pytest

from tests.deploy.project import (
    INTERPOLATION,
    OVERLAYS,
    REPO,
    compose,
    compose_environment,
    k8s_environment,
    of_kind,
    render,
    services,
)

SERVICES = pytest.mark.parametrize("svc", services(), ids=lambda s: s.name)


def dockerfile_environment(svc) -> set[str]:
    text = (svc.folder / "Dockerfile").read_text().replace("\\\n", " ")
    names = set()
    for line in text.splitlines():
        if line.startswith("ENV "):
            names |= set(re.findall(r"(\S+?)=", line[4:]))
    return names


@SERVICES
def test_compose_sets_every_required_variable_and_nothing_the_service_does_not_read(svc):
    env = set(compose_environment(svc.name))
    assert svc.required <= env, f"missing in docker-compose.yml: {sorted(svc.required - env)}"
    assert env <= set(svc.reads), f"read by nothing: {sorted(env - set(svc.reads))}"


@SERVICES
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kubernetes_sets_every_required_variable_and_nothing_the_service_does_not_read(svc, overlay):
    env = set(k8s_environment(render(overlay), svc.name))
    assert svc.required <= env, f"missing in deploy/k8s: {sorted(svc.required - env)}"
    assert env <= set(svc.reads), f"read by nothing: {sorted(env - set(svc.reads))}"


@SERVICES
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_compose_and_kubernetes_configure_the_same_variables(svc, overlay):
    assert set(compose_environment(svc.name)) == set(k8s_environment(render(overlay), svc.name))


@SERVICES
def test_the_image_sets_only_variables_the_service_reads(svc):
    own = {name for name in dockerfile_environment(svc) if name.startswith("PDX_")}
    assert own == {svc.prefix + "HOST", svc.prefix + "PORT"}
    assert own <= set(svc.reads)


@SERVICES
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_come_from_kubernetes_secrets_only(svc, overlay):
    env = k8s_environment(render(overlay), svc.name)
    for name in svc.secret & set(env):
        assert set(env[name]) == {"secretKeyRef"}, f"{name} is a secret but is set from {env[name]}"


@SERVICES
def test_secrets_come_from_the_untracked_env_file_in_compose(svc):
    env = compose_environment(svc.name)
    for name in svc.secret & set(env):
        match = INTERPOLATION.fullmatch(env[name])
        assert match and match["op"] == ":?" and match["arg"], f"{name} must be ${{VAR:?message}}, not a value"


@SERVICES
def test_compose_defaults_are_the_services_own_defaults(svc):
    """``${VAR:-default}`` in compose and the value in the k8s base must be what the settings class defaults to."""
    base = k8s_environment(render("base"), svc.name)
    for name, value in compose_environment(svc.name).items():
        match = INTERPOLATION.fullmatch(value)
        default = svc.reads[name].default
        if match and match["op"] == ":-" and isinstance(default, str):
            assert match["arg"] == default, name
            assert base[name] == {"configMap": default}, name


@SERVICES
def test_every_place_agrees_on_the_port(svc):
    port = str(svc.port)
    assert compose_environment(svc.name)[svc.prefix + "PORT"] == port
    assert k8s_environment(render("base"), svc.name)[svc.prefix + "PORT"] == {"configMap": port}
    dockerfile = (svc.folder / "Dockerfile").read_text()
    assert f"{svc.prefix}PORT={port}" in dockerfile and f"EXPOSE {port}" in dockerfile


def test_every_service_is_deployed_everywhere():
    names = {s.name for s in services()}
    assert names <= set(compose()["services"])
    assert names == set(of_kind(render("base"), "Deployment"))
    assert all((REPO / "services" / n / "Dockerfile").exists() for n in names)
