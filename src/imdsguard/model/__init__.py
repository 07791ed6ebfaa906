"""Frozen data only: the scan, launch-setting and remediation records, and the kind table."""
