"""A Pipedrive sandbox: a real aiohttp server that behaves like Pipedrive's API for everything the product uses.

``create_app(PipedriveState(retry_delays=(0.05, 0.05, 0.05)))``; seeded ids are constants in ``seed``
(``DEMO_DEAL_ID``, ``STAGE_WON``, ``PO_NUMBER_FIELD_KEY``, ``USER_ID`` (admin), ``REGULAR_USER_ID``, ...). Run it:
``python -m pdx_sandbox.pipedrive serve [--app-settings-url URL]``; ``/host/app-settings`` embeds the app's settings
iframe as Pipedrive does (see ``host``).
"""

from pdx_sandbox.pipedrive.app import create_app
from pdx_sandbox.pipedrive.http import PIPEDRIVE_STATE
from pdx_sandbox.pipedrive.seed import (
    DEAL_ALREADY_WON_ID,
    DEAL_EUR_ID,
    DEAL_GBP_RENEWAL_ID,
    DEAL_NO_CONTACT_ID,
    DEAL_NO_PRODUCTS_ID,
    DEAL_PERSON_ONLY_ID,
    DEAL_USD_ID,
    DEMO_DEAL_ID,
    DUE_DAYS_FIELD_KEY,
    INACTIVE_USER_ID,
    INVOICE_DATE_FIELD_KEY,
    ORG_ACCOUNT_MANAGER_FIELD_KEY,
    ORG_ACME,
    ORG_BRIGHTSIDE,
    ORG_KIWI,
    ORG_TAX_NUMBER_FIELD_KEY,
    ORG_THAMES,
    PERSON_AROHA,
    PERSON_CUSTOMER_NUMBER_FIELD_KEY,
    PERSON_JOHN,
    PERSON_MIA,
    PO_NUMBER_FIELD_KEY,
    PRODUCT_CONSULT_HR,
    PRODUCT_NO_CODE,
    PRODUCT_WIDGET,
    QUOTE_TERMS_FIELD_KEY,
    REGION_FIELD_KEY,
    REGION_NORTH,
    REGION_SOUTH,
    REGULAR_USER_ID,
    RENEWALS_PIPELINE_ID,
    SALES_PIPELINE_ID,
    STAGE_NEGOTIATIONS,
    STAGE_WON,
    USER_ID,
)
from pdx_sandbox.pipedrive.state import PipedriveState

__all__ = [
    "DEAL_ALREADY_WON_ID", "DEAL_EUR_ID", "DEAL_GBP_RENEWAL_ID", "DEAL_NO_CONTACT_ID", "DEAL_NO_PRODUCTS_ID",
    "DEAL_PERSON_ONLY_ID", "DEAL_USD_ID", "DEMO_DEAL_ID", "DUE_DAYS_FIELD_KEY", "INACTIVE_USER_ID",
    "INVOICE_DATE_FIELD_KEY", "ORG_ACCOUNT_MANAGER_FIELD_KEY", "ORG_ACME", "ORG_BRIGHTSIDE", "ORG_KIWI",
    "ORG_TAX_NUMBER_FIELD_KEY", "ORG_THAMES", "PERSON_AROHA", "PERSON_CUSTOMER_NUMBER_FIELD_KEY", "PERSON_JOHN",
    "PERSON_MIA", "PIPEDRIVE_STATE", "PO_NUMBER_FIELD_KEY", "PRODUCT_CONSULT_HR", "PRODUCT_NO_CODE", "PRODUCT_WIDGET",
    "QUOTE_TERMS_FIELD_KEY",
    "REGION_FIELD_KEY", "REGION_NORTH", "REGION_SOUTH", "REGULAR_USER_ID", "RENEWALS_PIPELINE_ID",
    "SALES_PIPELINE_ID", "STAGE_NEGOTIATIONS", "STAGE_WON", "USER_ID", "PipedriveState", "create_app",
]
