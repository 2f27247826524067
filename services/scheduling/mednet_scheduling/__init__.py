"""mednet scheduling service: Per-party pre-mediation calls and mediator calendars."""
