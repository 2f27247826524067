"""mednet notify service: Email and calendar invites, reminders, webhooks and firm event streams."""
