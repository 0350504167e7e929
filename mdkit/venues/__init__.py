"""Venue protocols, sans-I/O: request/message builders and response/frame parsers."""
