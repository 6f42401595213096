"""Putting the app on the network: start-up and clean stop, sign-in, request limits, allocator settings."""
