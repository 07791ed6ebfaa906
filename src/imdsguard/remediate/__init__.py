"""Remediate: apply -> verify -> rollback, journaled and paced, one applier per kind."""
