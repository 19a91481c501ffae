"""`cascade demo`: the whole mission on embedded defaults, told as a story with checks."""
