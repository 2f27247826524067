class DeliveryError(Exception):
    """A send that did not succeed; for webhooks, the message is all the firm may learn."""
