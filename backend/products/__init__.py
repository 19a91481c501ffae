"""Products: the websites that reward their users, their banks, tokens, team and keys."""
