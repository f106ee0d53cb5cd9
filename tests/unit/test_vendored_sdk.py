"""The Pipedrive app extensions SDK the settings app loads is the published 0.15.1 build, unchanged, with its
licence: the bytes between the wrapper lines hash to what npm's tarball holds."""

import hashlib
import json
from pathlib import Path

import pdx_gateway.app_ui

VENDOR = Path(pdx_gateway.app_ui.__file__).parent / "static" / "vendor"
OPEN, CLOSE = b"(function () { var exports = {};\n", b"window.AppExtensionsSDK = exports.default; })();\n"


def test_the_vendored_sdk_is_the_published_build_unchanged():
    pinned = json.loads((VENDOR / "app-extensions-sdk.json").read_text())
    wrapped = (VENDOR / "app-extensions-sdk.js").read_bytes()  # bytes: the build has CRLF lines in places
    inner = wrapped.split(OPEN, 1)[1].rsplit(CLOSE, 1)[0]
    assert hashlib.sha256(inner).hexdigest() == pinned["dist_index_js_sha256"]
    assert pinned["version"] == "0.15.1" and b"exports.default = AppExtensionsSDK;" in inner


def test_its_licence_travels_with_it():
    licence = (VENDOR / "app-extensions-sdk.LICENSE.md").read_text()
    assert "MIT License" in licence and "Pipedrive" in licence
