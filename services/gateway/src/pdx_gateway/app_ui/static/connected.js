// The Xero window, at its end: tell the settings page that opened it, if it is still there.
(function () {
  "use strict";
  if (window.opener && !window.opener.closed) {
    try { window.opener.postMessage("pdx-xero-connected", window.location.origin); } catch (e) { /* gone */ }
  }
})();
