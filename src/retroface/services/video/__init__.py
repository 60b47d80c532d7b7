"""Footage: ingest into sightings (resumable, parallel) and clustering of unknown faces."""
