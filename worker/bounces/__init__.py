"""Bounces: parsing, classification, tie-back, inbound endpoint and suppression."""
