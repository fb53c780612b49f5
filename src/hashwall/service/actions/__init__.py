"""What a stored match record sets off: review queue, signed webhooks, flood quarantine."""
