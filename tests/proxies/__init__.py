"""Helpers for tests/test_proxies.py: real nginx and Caddy in front of the gate and an app."""
