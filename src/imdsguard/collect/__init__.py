"""Collect: scopes (account, Region) -> streams of resources, or scope errors."""
