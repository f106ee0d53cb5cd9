"""deploy/k8s, offline: each overlay renders with the venv's kubectl (kustomize), every manifest validates against the
Kubernetes schemas that kubernetes-validate ships, and the rules the product needs hold in every overlay."""

import re

import kubernetes_validate
import pytest

from pdx_common import topics
from tests.deploy.project import K8S, OVERLAYS, container, of_kind, render, selects, services

# The Kubernetes version the manifests target (kubernetes-validate ships schemas for 1.25 to 1.37); the preStop
# sleep action they use needs 1.30 or later.
KUBERNETES_VERSION = "1.33.0"
# Custom resources have no schema in kubernetes-validate: these are skipped there, explicitly, and checked by
# test_kafka_topics_have_the_strimzi_shape instead.
CUSTOM_RESOURCES = {("kafka.strimzi.io/v1beta2", "KafkaTopic")}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@pytest.fixture(params=OVERLAYS)
def manifests(request):
    return render(request.param)


def test_each_overlay_renders_every_service_with_its_companions(manifests):
    names = {s.name for s in services()}
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        assert set(of_kind(manifests, kind)) == names, kind
    assert all(m["metadata"].get("namespace") == "pdx" for m in manifests)


def test_every_manifest_validates_against_the_kubernetes_schemas(manifests):
    checked = 0
    for manifest in manifests:
        if (manifest["apiVersion"], manifest["kind"]) in CUSTOM_RESOURCES:
            continue
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(map(str, exc.path))
            pytest.fail(f"{manifest['kind']}/{manifest['metadata']['name']}: {path}: {exc.message}")
        checked += 1
    assert checked == len(manifests) - len(of_kind(manifests, "KafkaTopic"))


def test_the_validator_rejects_what_kubernetes_would():
    deployment = dict(of_kind(render("small"), "Deployment")["gateway"])
    deployment["spec"] = {**deployment["spec"], "replicaz": 2}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_kafka_topics_have_the_strimzi_shape(manifests):
    kafka_topics = of_kind(manifests, "KafkaTopic")
    assert sorted(t["spec"]["topicName"] for t in kafka_topics.values()) == sorted(topics.ALL)
    for name, topic in kafka_topics.items():
        assert topic["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert DNS_LABEL.match(name), name
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "pdx-kafka"
        spec = topic["spec"]
        assert set(spec) <= {"topicName", "partitions", "replicas", "config"}, name
        assert isinstance(spec["partitions"], int) and spec["partitions"] >= 1, name
        assert isinstance(spec["replicas"], int) and 1 <= spec["replicas"] <= 32767, name
        config = spec["config"]
        assert 1 <= config["min.insync.replicas"] <= spec["replicas"], name
        assert isinstance(config["retention.ms"], int) and config["retention.ms"] > 0, name


def test_every_topic_has_three_replicas_and_two_in_sync_in_every_overlay(manifests):
    """acks=all then means two brokers hold every acknowledged message, and one broker may be down."""
    for name, topic in of_kind(manifests, "KafkaTopic").items():
        assert topic["spec"]["replicas"] == 3, name
        assert topic["spec"]["config"]["min.insync.replicas"] == 2, name


def test_metrics_need_the_metrics_token_from_a_secret(manifests):
    """/metrics answers only the token's bearer; Prometheus scrapes the http port the annotations name."""
    for name, deployment in of_kind(manifests, "Deployment").items():
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        main = container(deployment)
        assert annotations["prometheus.io/port"] == str(main["ports"][0]["containerPort"]), name
        assert annotations["prometheus.io/path"] == "/metrics", name
        [token] = [e for e in main["env"] if e["name"].endswith("_METRICS_TOKEN")]
        assert token["valueFrom"]["secretKeyRef"] == {"name": "pdx-metrics", "key": "token"}, name


def test_kafka_bootstrap_is_the_strimzi_clusters_service(manifests):
    for config_map in of_kind(manifests, "ConfigMap").values():
        for key, value in config_map["data"].items():
            if key.endswith("_KAFKA_BOOTSTRAP"):
                assert value == "pdx-kafka-kafka-bootstrap:9092", key


def test_consumers_scale_no_further_than_their_topics_partitions(manifests):
    """A consumer group gives each partition to one member: replicas beyond the partitions would sit idle."""
    partitions = {t["spec"]["topicName"]: t["spec"]["partitions"] for t in of_kind(manifests, "KafkaTopic").values()}
    hpas = of_kind(manifests, "HorizontalPodAutoscaler")
    consumers = 0
    for name, deployment in of_kind(manifests, "Deployment").items():
        consumed = deployment["metadata"].get("annotations", {}).get("pdx.io/consumes")
        hpa = hpas[name]["spec"]
        assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"], name
        if consumed:
            consumers += 1
            for topic in consumed.split(","):
                assert hpa["maxReplicas"] <= partitions[topic], f"{name} may scale past {topic}'s partitions"
    assert consumers == 4


@pytest.mark.parametrize("svc", [s for s in services() if s.name != "gateway"], ids=lambda s: s.name)
def test_consumer_annotations_name_the_groups_and_topics_in_the_code(svc):
    annotations = of_kind(render("base"), "Deployment")[svc.name]["metadata"]["annotations"]
    source = "\n".join(p.read_text() for p in (svc.folder / "src").rglob("*.py"))
    assert f'"{annotations["pdx.io/consumer-group"]}"' in source
    constants = {value: name for name, value in vars(topics).items() if isinstance(value, str) and name.isupper()}
    for topic in annotations["pdx.io/consumes"].split(","):
        assert f"topics.{constants[topic]}" in source, f"{svc.name} does not read {topic}"


def test_only_consumers_carry_the_consumer_annotation():
    for svc in services():
        source = "\n".join(p.read_text() for p in (svc.folder / "src").rglob("*.py"))
        subscribes = "group_id=" in source or "consumer_options(" in source
        annotations = of_kind(render("base"), "Deployment")[svc.name]["metadata"].get("annotations", {})
        assert subscribes == ("pdx.io/consumes" in annotations), svc.name


def test_workloads_are_probed_bounded_and_unprivileged(manifests):
    for name, deployment in of_kind(manifests, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        main = container(deployment)
        port = main["ports"][0]
        assert port["name"] == "http" and port["containerPort"] == next(s.port for s in services() if s.name == name)
        assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}, name
        assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}, name
        for bound in ("requests", "limits"):
            assert set(main["resources"][bound]) == {"cpu", "memory"}, (name, bound)
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0
        assert main["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                           "capabilities": {"drop": ["ALL"]}}, name
        assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False, name
        assert pod["terminationGracePeriodSeconds"] >= 30, name
        assert "replicas" not in deployment["spec"], f"{name}: the HPA owns the replica count"
        assert main["image"].split("/")[-1].split(":")[0] == name


def test_every_deployment_has_a_service_and_a_disruption_budget_that_select_its_pods(manifests):
    for name, deployment in of_kind(manifests, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selects({"matchLabels": of_kind(manifests, "Service")[name]["spec"]["selector"]}, labels)
        pdb = of_kind(manifests, "PodDisruptionBudget")[name]["spec"]
        assert selects(pdb["selector"], labels) and pdb["maxUnavailable"] == 1


def _external(rule: dict) -> bool:
    """An ingress rule admits traffic from outside the cluster unless every peer is a plain podSelector or one
    namespace named by its name label (Prometheus' monitoring namespace)."""
    peers = rule.get("from") or []
    return not peers or any("ipBlock" in p or ("namespaceSelector" in p and not _one_namespace(p)) for p in peers)


def _one_namespace(peer: dict) -> bool:
    return set(peer["namespaceSelector"].get("matchLabels", {})) == {"kubernetes.io/metadata.name"}


def test_only_the_gateway_and_the_crm_card_take_traffic_from_outside(manifests):
    policies = of_kind(manifests, "NetworkPolicy").values()
    open_to_outside, egress_limited = set(), set()
    for name, deployment in of_kind(manifests, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        mine = [p["spec"] for p in policies if selects(p["spec"]["podSelector"], labels)]
        assert any("Ingress" in p["policyTypes"] and not p.get("ingress") for p in mine), f"{name}: no default deny"
        if any(_external(rule) for p in mine for rule in p.get("ingress", [])):
            open_to_outside.add(name)
        if any("Egress" in p["policyTypes"] for p in mine):
            egress_limited.add(name)
    assert open_to_outside == {"gateway", "crm-card"}
    assert egress_limited == {s.name for s in services()}


def test_no_secret_is_committed():
    for path in K8S.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert not re.search(r"^kind:\s*Secret\s*$", text, re.M), path
            assert "secretGenerator" not in text, path
    for target in ("base", *OVERLAYS):
        assert not of_kind(render(target), "Secret")
