"""The draft a company's settings would make for one deal, for the settings app's preview. Writes nothing.

It reads the deal as the engine does (a ``DealReader``) and maps it with the engine's own ``build_command``, as if
the deal had just entered its current stage under a trigger making ``action``; a deal that cannot become a draft
comes back as the same ``MappingProblem`` (code, message, fix) a salesperson would see, never as an exception::

    preview = await preview_draft(reader, "7001", "42", settings, "invoice", date(2026, 11, 30))
    preview.command.line_items if preview.command else preview.problem.message
"""

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import aiohttp

from pdx_common.company_settings import CompanySettings, Trigger
from pdx_common.contracts import CreateInvoice, CreateQuote, DealChanged
from pdx_common.http import ApiError, ConnectionMissing
from pdx_mapper.domain.mapping import MappingProblem, build_command
from pdx_mapper.handlers import DealReader

_DEAL_ID = re.compile(r"[1-9][0-9]{0,17}")


@dataclass(frozen=True)
class DraftPreview:
    """Exactly one of the two is set: the command the engine would send Xero, or why the deal cannot make one."""

    command: CreateInvoice | CreateQuote | None
    problem: MappingProblem | None


async def preview_draft(reader: DealReader, company_id: str, deal_id: str, settings: CompanySettings,
                        action: Literal["invoice", "quote"], today: date) -> DraftPreview:
    deal_id = str(deal_id).strip()
    if not _DEAL_ID.fullmatch(deal_id):
        return _problem("not_a_deal_id", f"'{deal_id[:40]}' is not a deal number.",
                        "Pick a deal from the list, or type the number at the end of the deal's address in Pipedrive "
                        "(…/deal/42).")
    try:
        snapshot = await reader.read(company_id, deal_id)
    except ConnectionMissing as missing:
        return _problem("pipedrive_not_connected", f"We could not read the deal from Pipedrive: Pipedrive is "
                        f"{missing.reason}.", "Reinstall or reconnect the app in Pipedrive (Settings > Apps), then "
                        "try the preview again.")
    except ApiError as error:
        if error.status == 404:
            return _problem("deal_not_found", f"Pipedrive has no deal {deal_id} (it may have been deleted).",
                            "Pick another deal, then try the preview again.")
        return _unavailable(f"Pipedrive answered {error.status}")
    except (aiohttp.ClientError, TimeoutError):
        return _unavailable("Pipedrive did not answer")
    deal = snapshot.deal
    pipeline_id, stage_id = _positive(deal.get("pipeline_id")), _positive(deal.get("stage_id"))
    trigger = (Trigger(pipeline_id=pipeline_id, stage_id=stage_id, action=action) if pipeline_id and stage_id
               else Trigger.model_construct(pipeline_id=0, stage_id=0, action=action, enabled=True))
    event = DealChanged(company_id=company_id, deal_id=deal_id, event_id=f"preview-{deal_id}", action="change",
                        data={"id": deal.get("id"), "pipeline_id": pipeline_id, "stage_id": stage_id},
                        previous={"stage_id": None})
    try:
        return DraftPreview(build_command(snapshot, settings, trigger, event, today), None)
    except MappingProblem as problem:
        return DraftPreview(None, problem)


def _problem(code: str, message: str, fix: str) -> DraftPreview:
    return DraftPreview(None, MappingProblem(code, message, fix))


def _unavailable(what: str) -> DraftPreview:
    return _problem("pipedrive_unavailable", f"We could not read the deal: {what}.",
                    "Try the preview again in a minute.")


def _positive(value: Any) -> int | None:
    if isinstance(value, dict):
        value = value.get("id") if value.get("id") is not None else value.get("value")
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number > 0 else None
