"""The settings app: what a company's Pipedrive admins and users open inside Pipedrive (Settings > Apps > the app's
settings, a "Custom UI for app settings" iframe) or as a plain page after install.

Layout: ``entry`` (Pipedrive's signed iframe URL -> a session), ``session`` (who is asking, CSRF, admin check),
``render`` (templates), ``security`` (headers, errors as pages), and one module per section, each with its own
``routes`` and template: ``connect``, ``triggers``, ``rules``, ``mappings``, ``preview``, ``sync_log``, ``usage``,
``history``. Every route below ``/app`` except the entry and the static files needs a session.
"""
