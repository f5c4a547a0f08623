"""Boxoffice: a real-time seat-map booking server."""
