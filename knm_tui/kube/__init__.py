"""Talking to clusters: kubeconfig contexts, node projections, caches and sync workers.

This package never imports Textual or ``knm_tui.ui``; the UI depends on it, not the reverse.
"""
