"""The one way a company's settings change, for the operators' API and the settings app alike.

``await save(store, "7001", document, expected_version=3, author=Author("12", "Ann Admin"))`` validates the whole
document with ``CompanySettings`` (the model the mapper reads), refuses it when the stored version is no longer
``expected_version``, stores it as the next version and records in the history who changed what, and when.
"""

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from pdx_common.company_settings import CompanySettings
from pdx_gateway.adapters.settings_repo import MongoSettingsStore, VersionConflict

MAX_PROBLEMS = 20
WHOLE = "(settings)"


@dataclass(frozen=True)
class Author:
    """Who saved: a Pipedrive user of the company, or the operators' API (no user)."""

    user_id: str | None
    name: str

    def as_doc(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "name": self.name}


OPERATOR_API = Author(None, "operator API")


@dataclass(frozen=True)
class Change:
    """One setting that changed: ``path`` is dotted (``money.sales_account_code``); a value absent before or after
    (an added trigger, a removed tax mapping) is ``None``."""

    path: str
    old: Any
    new: Any

    def as_doc(self) -> dict[str, Any]:
        return {"path": self.path, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Problem:
    """One validation problem. ``field`` and ``message`` are pydantic's (the API documents them); ``plain`` says the
    same in plain words for a person, beside the form input named ``field``."""

    field: str
    message: str
    plain: str

    def as_api(self) -> dict[str, str]:
        return {"field": self.field, "problem": self.message}


class SettingsInvalid(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("the settings are not valid; nothing was changed")
        self.problems = problems


class StaleSettings(Exception):
    """Someone saved since the version the change was made from."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the settings changed meanwhile (now version {current})")
        self.current = current


def validated(document: dict[str, Any]) -> CompanySettings:
    try:
        return CompanySettings.model_validate(document)
    except ValidationError as exc:
        raise SettingsInvalid(problems_of(exc)) from None


async def save(store: MongoSettingsStore, company_id: str, document: dict[str, Any], expected_version: int,
               author: Author) -> CompanySettings:
    """Validate, compare-and-set on ``version``, store, and record the change in the history."""
    new = validated(document)
    current = await store.get(company_id)
    if current.version != expected_version:
        raise StaleSettings(current.version)
    changed = diff(_comparable(current), _comparable(new))
    try:
        return await store.replace(company_id, new, expected_version, changed_by=author.as_doc(),
                                   changes=[c.as_doc() for c in changed])
    except VersionConflict as conflict:
        raise StaleSettings(conflict.current) from None


def changes_between(old: CompanySettings, new: CompanySettings) -> list[Change]:
    """What differs between two settings, their versions aside (empty: saving ``new`` would change nothing)."""
    return diff(_comparable(old), _comparable(new))


def _comparable(settings: CompanySettings) -> dict[str, Any]:
    document = settings.model_dump(mode="json")
    document.pop("version", None)
    return document


def diff(old: Any, new: Any, path: str = "") -> list[Change]:
    """The settings that differ between two JSON documents, as dotted paths; objects and lists are followed into,
    so changing one trigger's action reads ``triggers.0.action: invoice -> quote``."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [change for key in _keys(old, new)
                for change in diff(old.get(key), new.get(key), _join(path, str(key)))]
    if isinstance(old, list) and isinstance(new, list):
        return [change for index in range(max(len(old), len(new)))
                for change in diff(_at(old, index), _at(new, index), _join(path, str(index)))]
    return [] if old == new else [Change(path, old, new)]


def _keys(old: dict, new: dict) -> list:
    return list(old) + [key for key in new if key not in old]


def _at(values: list, index: int) -> Any:
    return values[index] if index < len(values) else None


def _join(path: str, key: str) -> str:
    # A key with a dot in it (a tax percentage such as "12.5") would read as two levels: bracket it.
    if "." in key:
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


# A model-level problem that belongs beside one input: where the form shows it.
_BESIDE = {"products": "products.default_item_code"}


def form_errors(problems: list[Problem]) -> dict[str, str]:
    """Problems as a form shows them: the input's name (a dotted path) -> a plain sentence."""
    errors: dict[str, str] = {}
    for problem in problems:
        field = _BESIDE.get(problem.field, problem.field)
        sentence = problem.plain[:1].upper() + problem.plain[1:]
        errors[field] = f"{errors[field]} {sentence}" if field in errors else sentence
    return errors


def problems_of(exc: ValidationError) -> list[Problem]:
    return [Problem(".".join(map(str, error["loc"])) or WHOLE, error["msg"], plain(error["msg"]))
            for error in exc.errors()[:MAX_PROBLEMS]]


# pydantic's wording -> plain words, for a person beside a form field. First match wins.
_PLAIN: tuple[tuple[str, str], ...] = (
    (r"Value error, products\.unmatched is 'default_item' but products\.default_item_code is empty",
     "choose the default item: products Xero doesn't know are sold as that item"),
    (r"Value error, timezone '(.*)' is not an IANA time zone name.*",
     r"'\1' is not a time zone; choose one from the list"),
    (r"Value error, money\.tax_types key '(.*)' is not a percentage between 0 and 100",
     r"\1 is not a percentage between 0 and 100"),
    (r"Value error, money\.tax_types key '(.*)' is not a percentage",
     r"'\1' is not a percentage: type a number, e.g. 15"),
    (r"Value error, money\.tax_types has '(.*)' and '(.*)', the same rate twice",
     r"\1 and \2 are the same percentage: keep one of them"),
    (r"Value error, money\.tax_types\['(.*)'\] is empty.*", r"choose the Xero tax rate for \1%"),
    (r"Value error, money\.account_by_(pipeline|product) has '(.*)', which is not a .*",
     r"'\2' is not a \1 number from Pipedrive"),
    (r"Value error, money\.account_by_\w+\['(.*)'\] is '(.*)': name a Xero account code.*",
     r"'\2' is not an account code: 1 to 10 characters, e.g. 200"),
    (r"Value error, fields\.branding_theme_id .* is not a Xero branding theme id.*",
     "choose a branding theme from the list (or the organisation's default)"),
    (r"Value error, stage (\d+) of pipeline (\d+) makes a DRAFT (invoice|quote), so it cannot also be where paid "
     r"deals are moved",
     r"stage \1 of pipeline \2 makes a DRAFT \3 (under Triggers), so paid deals cannot be moved there (under Numbers "
     r"on the deal): a move there would make a draft; choose another stage for one of them"),
    (r"Value error, pipeline (\d+) has two \"when paid, move to\" stages",
     r"pipeline \1 has two stages to move paid deals to; keep one"),
    (r"Value error, (.*)", r"\1"),
    (r"Input should be greater than or equal to (\S+)", r"must be \1 or more"),
    (r"Input should be greater than (\S+)", r"must be more than \1"),
    (r"Input should be less than or equal to (\S+)", r"must be \1 or less"),
    (r"Input should be less than (\S+)", r"must be less than \1"),
    (r"String should have at most (\d+) characters?", r"must be \1 characters or fewer"),
    (r"String should have at least 1 character", "must not be empty"),
    (r"String should have at least (\d+) characters", r"must be at least \1 characters long"),
    (r"Input should be a valid integer.*", "must be a whole number"),
    (r"Input should be a valid number.*", "must be a number"),
    (r"Input should be a valid boolean.*", "must be yes or no"),
    (r"Input should be a valid string.*", "must be text"),
    (r"Input should be a valid (dictionary|list|tuple|array).*", "is not in the right form"),
    (r"Input should be '.*", "must be one of the choices in the list"),  # never the API's values ('invoice', ...)
    (r"Input should be (.*)", r"must be \1"),
    (r"Field required", "must be filled in"),
    (r"Extra inputs are not permitted", "is not a setting (check its spelling)"),
    (r"(?:Tuple|List) should have at most (\d+) items?.*", r"can have at most \1 entries"),
)


def plain(message: str) -> str:
    """``plain("Input should be greater than or equal to 0")`` -> ``"must be 0 or more"``."""
    for pattern, replacement in _PLAIN:
        match = re.fullmatch(pattern, message, flags=re.DOTALL)
        if match:
            return match.expand(replacement)
    return message
