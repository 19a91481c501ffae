"""Rewards: the reward formula and the reward rows it produces."""
