"""Sandboxes of the external APIs (Xero, Pipedrive): real aiohttp servers for the local run and tests.

Never imported by production code.
"""
