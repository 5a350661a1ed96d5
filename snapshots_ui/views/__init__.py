"""Thin function views, one module per area of the dashboard.

A provider error becomes a message on a page that still renders, never a 500; a server or
snapshot the provider does not know becomes a 404 page with a sentence (see
``snapshots_ui.middleware``).
"""
