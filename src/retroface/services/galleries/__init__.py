"""Galleries (watchlists) and their subjects: manage, enrol, provenance, versions, erasure."""
