"""Helpers the tests share: events, a recording SMTP handler, processes, bounces."""
