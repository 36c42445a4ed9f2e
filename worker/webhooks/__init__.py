"""Provider webhooks: delivery, bounce and complaint events from hosted relays, verified."""
