"""Contracts and plumbing shared by every service: models, topic names, settings base, logging, connections."""
