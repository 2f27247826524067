"""mednet notes service: Confidential call notes, recorded objectives and the mediator brief."""
