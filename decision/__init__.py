"""Deployment decision: the table (table.yaml) and the pure engine that reads it."""
