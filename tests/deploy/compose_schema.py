"""A JSON schema for docker-compose.yml: our own, written after the Compose Specification
(compose-spec/compose-spec, schema/compose-spec.json), because no installed package ships that schema and these
checks run offline.

It is stricter than the specification on purpose: it covers only the keys this project uses (every other key is
rejected, so adding one is a deliberate change here too) and it checks the value formats Docker Compose would
refuse at ``up`` time (durations, restart policies, depends_on conditions, health check tests, port mappings).
"""

DURATION = {"type": "string", "pattern": r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"}
STRINGS = {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
COMMAND = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
NAME = "^[a-zA-Z0-9._-]+$"
# Short port syntax: [[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTOCOL]; a part may be an interpolation.
PORT = r"^((\$\{[^}]+\}|[0-9.]+):)?((\$\{[^}]+\}|[0-9]+(-[0-9]+)?):)?[0-9]+(-[0-9]+)?(/(tcp|udp))?$"

HEALTHCHECK = {
    "type": "object",
    "properties": {
        "test": {"oneOf": [
            {"type": "string"},
            {"type": "array", "minItems": 1, "items": {"type": "string"},
             "prefixItems": [{"enum": ["NONE", "CMD", "CMD-SHELL"]}]},
        ]},
        "interval": DURATION,
        "timeout": DURATION,
        "start_period": DURATION,
        "start_interval": DURATION,
        "retries": {"type": "integer", "minimum": 0},
        "disable": {"type": "boolean"},
    },
    "additionalProperties": False,
}

SERVICE = {
    "type": "object",
    "properties": {
        "image": {"type": "string", "minLength": 1},
        "build": {"oneOf": [
            {"type": "string"},
            {"type": "object",
             "properties": {"context": {"type": "string"}, "dockerfile": {"type": "string"},
                            "target": {"type": "string"},
                            "args": {"type": "object", "additionalProperties": {"type": ["string", "number"]}}},
             "required": ["context"],
             "additionalProperties": False},
        ]},
        "command": COMMAND,
        "entrypoint": COMMAND,
        "environment": {"oneOf": [
            {"type": "object", "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
             "additionalProperties": {"type": ["string", "number", "boolean", "null"]}},
            STRINGS,
        ]},
        "env_file": {"oneOf": [{"type": "string"}, STRINGS]},
        "ports": {"type": "array", "uniqueItems": True, "items": {"oneOf": [
            {"type": "integer"},
            {"type": "string", "pattern": PORT},
        ]}},
        "expose": {"type": "array", "items": {"type": ["string", "integer"]}, "uniqueItems": True},
        "volumes": {"type": "array", "uniqueItems": True,
                    "items": {"type": "string", "pattern": "^[^:]+:/[^:]*(:(ro|rw))?$"}},
        "tmpfs": {"oneOf": [{"type": "string"}, STRINGS]},
        "depends_on": {"oneOf": [
            STRINGS,
            {"type": "object",
             "propertyNames": {"pattern": NAME},
             "additionalProperties": {
                 "type": "object",
                 "properties": {
                     "condition": {"enum": ["service_started", "service_healthy",
                                            "service_completed_successfully"]},
                     "restart": {"type": "boolean"},
                     "required": {"type": "boolean"},
                 },
                 "required": ["condition"],
                 "additionalProperties": False}},
        ]},
        "healthcheck": HEALTHCHECK,
        "restart": {"type": "string", "pattern": "^(no|always|unless-stopped|on-failure(:[0-9]+)?)$"},
        "profiles": STRINGS,
        "read_only": {"type": "boolean"},
        "user": {"type": "string"},
        "init": {"type": "boolean"},
        "cap_add": STRINGS,
        "cap_drop": STRINGS,
        "security_opt": STRINGS,
        "stop_grace_period": DURATION,
        "stop_signal": {"type": "string", "pattern": "^SIG[A-Z0-9]+$"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "working_dir": {"type": "string"},
    },
    "patternProperties": {"^x-": {}},
    "additionalProperties": False,
    "anyOf": [{"required": ["image"]}, {"required": ["build"]}],
}

COMPOSE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "docker-compose.yml, the subset of the Compose Specification this project uses",
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"},
        "services": {"type": "object", "propertyNames": {"pattern": NAME}, "additionalProperties": SERVICE,
                     "minProperties": 1},
        "volumes": {"type": "object", "propertyNames": {"pattern": NAME},
                    "additionalProperties": {"oneOf": [
                        {"type": "null"},
                        {"type": "object", "properties": {"name": {"type": "string"}, "driver": {"type": "string"},
                                                          "external": {"type": "boolean"}},
                         "additionalProperties": False},
                    ]}},
    },
    "required": ["services"],
    "patternProperties": {"^x-": {}},
    "additionalProperties": False,
}
