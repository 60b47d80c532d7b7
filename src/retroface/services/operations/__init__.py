"""Keeping a data directory healthy: doctor, backup and restore, key management."""
