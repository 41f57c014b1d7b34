"""Berth's benchmark harness: Berth, CNCF Distribution and nginx side by side."""
