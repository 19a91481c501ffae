"""Cascade backend: interactions in, referral rewards out, settled on-chain."""
