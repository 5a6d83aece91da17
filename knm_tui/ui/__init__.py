"""Textual widgets, screens and styles of knm-tui; they read NodeViews, never raw Node JSON."""
