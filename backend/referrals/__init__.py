"""Referrals: who brought whom. The graph lives in accepted `referral.referred` interactions."""
