"""Injected faults: a share of the API calls answers an error, or answers late, as a struggling API does.

``POST /_sandbox/faults {"status": 503, "ratio": 0.2, "paths": ["/api.xro/2.0/Invoices"], "delay": 0,
"retry_after": 5, "methods": ["PUT"], "count": null}`` adds a rule; ``DELETE /_sandbox/faults`` removes them all;
``GET /_sandbox/faults`` lists them with how many calls each hit. A call takes the first rule that matches it and
wins the rule's coin toss (``ratio``). ``status: null`` with a ``delay`` answers normally but late (a timeout on a
client with a shorter one, the work still done: an unclear outcome); a status with a delay answers that status late.
"""

import asyncio
import random
from dataclasses import asdict, dataclass, field
from typing import Any


class BadFault(ValueError):
    """The rule in the request is not one this sandbox can apply."""


@dataclass
class Fault:
    status: int | None = 503
    ratio: float = 1.0
    paths: list[str] = field(default_factory=list)  # path prefixes; empty: every API call
    methods: list[str] = field(default_factory=list)  # empty: every method
    delay: float = 0.0  # real seconds before answering
    retry_after: int | None = None  # sent as Retry-After (a 429's or 503's)
    count: int | None = None  # how many calls it may still hit; None: until removed
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return ((not self.paths or path.startswith(tuple(self.paths)))
                and (not self.methods or method in self.methods) and self.count != 0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse(body: dict[str, Any]) -> Fault:
    try:
        status = None if body.get("status") is None else int(body["status"])
        fault = Fault(status=status, ratio=float(body.get("ratio", 1.0)),
                      paths=[str(p) for p in body.get("paths") or []],
                      methods=[str(m).upper() for m in body.get("methods") or []],
                      delay=float(body.get("delay", 0)),
                      retry_after=None if body.get("retry_after") is None else int(body["retry_after"]),
                      count=None if body.get("count") is None else int(body["count"]))
    except (TypeError, ValueError) as exc:
        raise BadFault(f"not a fault rule: {exc}") from exc
    if not 0 <= fault.ratio <= 1 or fault.delay < 0 or (status is not None and not 400 <= status <= 599):
        raise BadFault("ratio is 0..1, delay >= 0, status a 4xx or 5xx (or null for a late answer)")
    if status is None and not fault.delay:
        raise BadFault("a rule without a status needs a delay")
    return fault


class Faults:
    def __init__(self, seed: int | None = None) -> None:
        self.rules: list[Fault] = []
        self._random = random.Random(seed)

    def add(self, fault: Fault) -> None:
        self.rules.append(fault)

    def clear(self) -> None:
        self.rules.clear()

    def pick(self, method: str, path: str) -> Fault | None:
        """The rule this call falls under, counted, or None (the call goes through untouched)."""
        for fault in self.rules:
            if fault.matches(method, path) and self._random.random() < fault.ratio:
                fault.hits += 1
                if fault.count is not None:
                    fault.count -= 1
                return fault
        return None

    @staticmethod
    async def wait(fault: Fault) -> None:
        if fault.delay:
            await asyncio.sleep(fault.delay)

    def describe(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self.rules]
