"""Scan history: rows from a scan result, their SQLite store, and the drift between scans."""
