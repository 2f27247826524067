from .envelope import CloudEvent, EnvelopeError, new_event
from .topics import Topics

__all__ = ["CloudEvent", "EnvelopeError", "Topics", "new_event"]
