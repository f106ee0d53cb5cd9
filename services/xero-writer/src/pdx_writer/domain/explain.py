"""Xero's validation messages, translated into what is wrong and how to fix it. Never shown raw alone."""

import re
from dataclasses import dataclass

# Where an admin changes a setting: the app's settings inside Pipedrive, by the section and label they see there.
APP_SETTINGS = "the app's settings (Pipedrive: Settings > Apps > Xero drafts)"
IN_APP_SETTINGS = f"In {APP_SETTINGS}"


@dataclass(frozen=True)
class Explanation:
    code: str
    message: str
    fix: str


RULES: list[tuple[re.Pattern[str], str, str, str]] = [
    (re.compile(r"TaxType code '([^']*)' does not exist", re.IGNORECASE), "unknown_tax_type",
     "Xero has no tax rate {0} that can be used on sales.",
     f"{IN_APP_SETTINGS}, open Customers, products & money > Tax rates and choose one of Xero's sales tax rates "
     "for each Pipedrive tax % (and as the Default tax rate), then replay the deal."),
    (re.compile(r"Account code '([^']*)'|Account must be valid", re.IGNORECASE), "unknown_account",
     "Xero does not accept the sales account {0}.",  # {0}: 'code', or the words below when Xero names none
     f"{IN_APP_SETTINGS}, open Customers, products & money and choose one of Xero's revenue accounts as the Sales "
     "account (and under Account per pipeline and Account per product, if the deal's pipeline or products have "
     "their own), then replay the deal."),
    (re.compile(r"branding ?theme", re.IGNORECASE), "unknown_branding_theme",
     "Xero does not accept the branding theme chosen in the app's settings.",
     f"{IN_APP_SETTINGS}, open Field mappings > Branding theme and choose one of the organisation's branding "
     "themes, or the organisation's default, then replay the deal."),
    (re.compile(r"[Ii]tem code '([^']*)'"), "unknown_item",
     "Xero has no item with code {0}.",
     "Create the item in Xero, or correct the product code in Pipedrive, or, in the app's settings (Pipedrive: "
     "Settings > Apps > Xero drafts), open Customers, products & money and choose another Default item or another "
     "choice under Products Xero doesn't know, then replay the deal."),
    (re.compile(r"not subscribed to currency '?([A-Z]{3})|currency '?([A-Z]{3})'? has not been (?:set up|enabled)",
                re.IGNORECASE),
     "currency_not_enabled", "Xero's organisation does not have the deal's currency {0}.",
     "Add the currency in Xero (Settings > Currencies), or change the deal's currency in Pipedrive, then replay."),
    (re.compile(r"contact.*(must be specified|not found|could not be found)", re.IGNORECASE), "unknown_contact",
     "Xero could not find the customer for this deal.",
     "Check the deal's organisation or person in Pipedrive, then replay the deal."),
    (re.compile(r"contact name .* already assigned", re.IGNORECASE), "duplicate_contact_name",
     "Another Xero contact already has this customer's name.",
     "Merge or rename the duplicate contact in Xero, or link the existing Xero contact under Customers & products "
     f"in {APP_SETTINGS}, then replay the deal."),
]


def explain(messages: list[str]) -> Explanation:
    for text in messages:
        for pattern, code, message, fix in RULES:
            match = pattern.search(text)
            if match:
                value = next((g for g in match.groups() if g), None)
                named = f"'{value}'" if value else "chosen in the app's settings"
                return Explanation(code, message.format(named) + f' (Xero said: "{text}")', fix)
    joined = "; ".join(messages) or "no reason given"
    return Explanation("xero_rejected", f'Xero refused the draft: "{joined}".',
                       f"Correct the deal in Pipedrive, or {APP_SETTINGS}, as Xero's message says, "
                       "then replay the deal.")


def explain_refusal(status: int, body: object) -> Explanation:
    """Why Xero refused a whole request that carried this one draft alone (it was split down to it)."""
    if status == 413:
        return Explanation("document_too_large", "The draft is larger than Xero accepts in one request (3.5 MB).",
                           "Shorten the product descriptions, or split the products over two deals, then replay "
                           "the deal.")
    if not isinstance(body, dict):
        return Explanation("xero_refused_request", f"Xero refused the request for this draft (HTTP {status}).",
                           "Replay the deal; if it fails the same way, tell your administrator.")
    elements = body.get("Elements") or []
    messages = [m for element in elements for m in validation_messages(element)] or [str(body.get("Message") or "")]
    character = _INVALID_CHARACTER.search(" ".join(messages))
    if character:
        return Explanation(
            "invalid_character", f"The deal's text carries an invisible control character (0x{character.group(1)}) "
            f'that Xero cannot store (Xero said: "{messages[0]}").',
            "Retype the product names and descriptions, the customer's details and the deal fields used on the "
            "draft in Pipedrive (text pasted from elsewhere can carry such characters), then replay the deal.")
    if body.get("Type") == "PostDataInvalidException":
        return Explanation(
            "xero_unreadable", f'Xero could not read the draft (Xero said: "{messages[0]}").',
            "Check the deal's products (quantities, prices, discounts) in Pipedrive, then replay the deal; if it "
            "fails the same way, tell your administrator.")
    return explain(messages)


_INVALID_CHARACTER = re.compile(r"hexadecimal value 0x([0-9A-Fa-f]+), is an invalid character")


def validation_messages(element: dict) -> list[str]:
    messages = [e.get("Message", "") for e in element.get("ValidationErrors") or []]
    for line in element.get("LineItems") or []:
        messages += [e.get("Message", "") for e in line.get("ValidationErrors") or []]
    return [m for m in messages if m]


# --- customers and products kept in sync (no deal to tell: the settings page lists these) ---------------------------
CUSTOMERS = "Customers & products"
RESEND = "the next change saved in Pipedrive sends it to Xero again"
AFTER_LINKING = "save a change to it in Pipedrive (the next change is sent to the contact you linked)"


def ambiguous_contact(name: str, candidates: int, names: str, then: str = "replay the deal") -> Explanation:
    """Two or more Xero contacts could be this customer: never a guess.

    >>> ambiguous_contact("Jo Smith", 2, "'Jo Smith', 'Joanna Smith' (jo@example.com)").message
    "Xero has 2 contacts that could be 'Jo Smith': 'Jo Smith', 'Joanna Smith' (jo@example.com)."
    """
    return Explanation("ambiguous_contact", f"Xero has {candidates} contacts that could be '{name}': {names}.",
                       f"{IN_APP_SETTINGS}, open {CUSTOMERS} and link the right Xero contact to {name}, then "
                       f"{then}.")


def listed_draft_problem(exp: Explanation, name: str) -> Explanation | None:
    """How a draft's customer problem reads under Customers & products (where the customer is listed so it can be
    linked), or None when linking is no answer to it.

    >>> listed_draft_problem(Explanation("contact_not_found", "Xero has no contact for 'Acme'.", ""), "Acme").fix[-60:]
    ' Acme (or create the contact in Xero), then replay the deal.'
    """
    if exp.code == "contact_not_found":
        instead = "or create the contact in Xero"
    elif exp.code == "duplicate_contact_name":
        instead = "or merge or rename the duplicate contact in Xero"
    else:
        return None
    return Explanation(exp.code, exp.message, f"{IN_APP_SETTINGS}, open {CUSTOMERS} and link the existing Xero "
                       f"contact to {name} ({instead}), then replay the deal.")


def linked_contact_gone(name: str, then: str) -> Explanation:
    """The Xero contact an admin linked a customer to is gone from Xero: the link stays (they chose it), so they
    choose another.

    >>> linked_contact_gone("Acme Ltd", "replay the deal").message
    "The Xero contact an admin linked to 'Acme Ltd' is no longer in Xero."
    """
    return Explanation("xero_record_gone", f"The Xero contact an admin linked to '{name}' is no longer in Xero.",
                       f"{IN_APP_SETTINGS}, open {CUSTOMERS} and link another Xero contact to {name} (Link a "
                       f"different Xero contact), then {then}.")


def sync_not_connected(reason: str) -> Explanation:
    return Explanation("xero_not_connected", f"Xero is {reason}, so the change was not sent.",
                       f"Connect Xero again in {APP_SETTINGS} under Connections; {RESEND}.")


_RECORD_RULES: list[tuple[re.Pattern[str], str, str, str]] = [
    (re.compile(r"name .* already assigned", re.IGNORECASE), "duplicate_contact_name",
     "Another Xero contact already has the name {name}.",
     "Rename or merge the other contact in Xero, or give this customer another name in Pipedrive; " + RESEND + "."),
    (re.compile(r"email address must be valid", re.IGNORECASE), "invalid_email",
     "Xero does not accept the email address of {name}.",
     "Correct the email address in Pipedrive; " + RESEND + "."),
    (re.compile(r"already in use by another item", re.IGNORECASE), "duplicate_item_code",
     "Another Xero item already has the code of {name}.",
     "Give one of the two another code (in Xero, or the product's code in Pipedrive); " + RESEND + "."),
    (re.compile(r"Account code '([^']*)'|Account must be valid", re.IGNORECASE), "unknown_account",
     "Xero does not accept the sales account of {name}.",
     f"{IN_APP_SETTINGS}, open Customers, products & money and choose one of Xero's revenue accounts as the Sales "
     "account (and under Account per product, if the product has its own); " + RESEND + "."),
    (re.compile(r"TaxType code '([^']*)' does not exist", re.IGNORECASE), "unknown_tax_type",
     "Xero has no sales tax rate for the tax of {name}.",
     f"{IN_APP_SETTINGS}, open Customers, products & money > Tax rates and choose one of Xero's sales tax rates "
     "for the product's tax %; " + RESEND + "."),
    (re.compile(r"could not be found|not found", re.IGNORECASE), "xero_record_gone",
     "The Xero {kind} linked to {name} is no longer in Xero.",
     "Nothing to do: the link is forgotten, so the next draft or change finds or creates it again (to choose it "
     f"yourself, link it under {CUSTOMERS} in {APP_SETTINGS})."),
]


def explain_record(messages: list[str], kind: str, name: str) -> Explanation:
    """Why Xero refused the update or creation of one contact or item, and what to do.

    >>> explain_record(["Email address must be valid."], "contact", "Acme Ltd").code
    'invalid_email'
    """
    said = "; ".join(messages) or "no reason given"
    for text in messages:
        for pattern, code, message, fix in _RECORD_RULES:
            if pattern.search(text):
                return Explanation(code, message.format(kind=kind, name=f"'{name}'") + f' (Xero said: "{text}")',
                                   fix)
    return Explanation("xero_rejected", f"Xero refused the change to the {kind} '{name}': \"{said}\".",
                       f"Correct the {'product' if kind == 'item' else 'customer'} in Pipedrive as Xero's message "
                       f"says; {RESEND}.")


def explain_record_refusal(status: int, body: object, kind: str, name: str) -> Explanation:
    """Xero refused a whole request that carried this one record alone."""
    exp = explain_refusal(status, body)
    if exp.code == "invalid_character":
        return Explanation(exp.code, exp.message.replace("The deal's text", f"The {kind} '{name}'"),
                           "Retype its name, address and other details in Pipedrive (text pasted from elsewhere "
                           f"can carry such characters); {RESEND}.")
    if isinstance(body, dict) and body.get("Elements"):
        return explain_record([m for e in body["Elements"] for m in validation_messages(e)], kind, name)
    return Explanation(exp.code if exp.code != "xero_refused_request" else "xero_rejected",
                       f"Xero refused the change to the {kind} '{name}' (HTTP {status}).",
                       f"Check the record in Pipedrive; {RESEND}. If it fails the same way, tell your "
                       "administrator.")
