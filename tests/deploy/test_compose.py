"""docker-compose.yml, offline: against the Compose Specification's own JSON schema (the copy check-jsonschema
ships, vendored from compose-spec/compose-spec), against our stricter schema of the keys we use
(tests/deploy/compose_schema.py), and for what the product needs from it: health-gated start-up, the topics, secrets
from an untracked .env, the sandboxes profile."""

import json
import re
from importlib.resources import files

import jsonschema
import pytest

from pdx_common import topics
from tests.deploy.compose_schema import COMPOSE_SCHEMA
from tests.deploy.project import (
    COMPOSE_FILE,
    INTERPOLATION,
    REPO,
    compose,
    compose_environment,
    env_file,
    services,
)

EXAMPLE = REPO / "deploy" / "compose.env.example"
SANDBOXES = REPO / "deploy" / "compose.sandboxes.env"
INFRA = ("kafka", "topic-init", "mongo")


def compose_specification() -> dict:
    return json.loads(files("check_jsonschema").joinpath("builtin_schemas/vendor/compose-spec.json").read_text())


def test_compose_file_matches_the_compose_specification():
    spec = compose_specification()
    validator = jsonschema.validators.validator_for(spec)(spec)
    errors = sorted(validator.iter_errors(compose()), key=str)
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)
    broken = {"services": {"a": {"image": "x", "depends_on": {"b": {"condition": "service_ready"}}}}}
    assert list(validator.iter_errors(broken))  # the check can fail


def test_compose_file_matches_the_schema():
    jsonschema.Draft202012Validator.check_schema(COMPOSE_SCHEMA)
    errors = sorted(jsonschema.Draft202012Validator(COMPOSE_SCHEMA).iter_errors(compose()), key=str)
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_the_schema_rejects_what_compose_would():
    broken = {"services": {"a": {"image": "x", "depends_on": {"b": {"condition": "service_ready"}}}}}
    assert list(jsonschema.Draft202012Validator(COMPOSE_SCHEMA).iter_errors(broken))


def test_every_dollar_is_an_interpolation_or_escaped():
    text = COMPOSE_FILE.read_text().replace("$$", "")
    assert text.count("$") == len(INTERPOLATION.findall(text))


def test_references_point_at_defined_services_and_volumes():
    spec = compose()
    defined = set(spec["services"])
    for name, svc in spec["services"].items():
        assert set(svc.get("depends_on", {})) <= defined, name
        for volume in svc.get("volumes", []):
            assert volume.split(":")[0] in spec.get("volumes", {}), (name, volume)
        if "profiles" not in svc:  # a service that always runs cannot wait for one that only runs in a profile
            assert all("profiles" not in spec["services"][d] for d in svc.get("depends_on", {})), name


@pytest.mark.parametrize("svc", services(), ids=lambda s: s.name)
def test_each_service_is_built_from_its_dockerfile_and_waits_for_healthy_infrastructure(svc):
    spec = compose()["services"][svc.name]
    assert spec["build"] == {"context": ".", "dockerfile": f"services/{svc.name}/Dockerfile"}
    assert spec["image"] == f"pdx-{svc.name}:dev"
    assert spec["depends_on"] == {"topic-init": {"condition": "service_completed_successfully"},
                                  "mongo": {"condition": "service_healthy"}}
    test = spec["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"] and f"http://127.0.0.1:{svc.port}/readyz" in test[3]
    assert spec["read_only"] is True and "profiles" not in spec


def test_infrastructure_is_health_checked_and_topic_init_runs_after_kafka():
    spec = compose()["services"]
    assert spec["kafka"]["image"].startswith("apache/kafka:3.9.")
    assert spec["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    assert spec["mongo"]["image"] == "mongo:8"
    assert "healthcheck" in spec["kafka"] and "healthcheck" in spec["mongo"]
    assert spec["topic-init"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}


def test_topic_init_creates_every_topic_the_product_uses():
    script = compose()["services"]["topic-init"]["command"][0]
    [names] = re.findall(r"for topic in ([^;]+);", script)
    assert sorted(names.split()) == sorted(topics.ALL)
    assert f"--partitions ${{PDX_TOPIC_PARTITIONS:-{topics.DEFAULT_PARTITIONS}}}" in script


def test_only_the_gateway_and_the_crm_card_publish_ports():
    spec = compose()["services"]
    published = {name for name, svc in spec.items() if svc.get("ports") and "profiles" not in svc}
    assert published == {"gateway", "crm-card"}


def test_sandboxes_run_only_in_their_profile():
    spec = compose()["services"]
    in_profile = {name for name, svc in spec.items() if "profiles" in svc}
    assert in_profile == {"pipedrive-sandbox", "xero-sandbox"}
    assert all(spec[name]["profiles"] == ["sandboxes"] for name in in_profile)
    assert all(spec[name]["build"]["dockerfile"] == "sandboxes/Dockerfile" for name in in_profile)


def test_the_example_env_file_lists_every_variable_compose_requires():
    required = {m["name"] for m in INTERPOLATION.finditer(COMPOSE_FILE.read_text()) if m["op"] in (":?", "?")}
    assert required <= set(env_file(EXAMPLE))
    assert all(value == "" or "example" in value for value in env_file(EXAMPLE).values()), "no real secret in it"


def test_the_sandboxes_env_file_overrides_only_variables_compose_uses():
    used = {m["name"] for m in INTERPOLATION.finditer(COMPOSE_FILE.read_text())}
    overrides = env_file(SANDBOXES)
    assert set(overrides) <= used
    # Every external address of every service points at a sandbox in that profile.
    for svc in services():
        for name, value in compose_environment(svc.name).items():
            match = INTERPOLATION.fullmatch(value)
            if name.endswith("_URL") and match and match["op"] == ":-" and "MONGO" not in name:
                assert overrides[match["name"]].startswith(("http://pipedrive-sandbox:", "http://xero-sandbox:"))
