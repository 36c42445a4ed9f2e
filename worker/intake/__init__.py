"""What comes in: the event contract, addresses, the card-number rule and the producer side."""
