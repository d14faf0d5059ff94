"""Helpers for scripts/bench.py: each module measures one comparison and returns table rows."""
