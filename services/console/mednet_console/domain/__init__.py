"""The console's pure rules: how its forms become the services' bodies."""
