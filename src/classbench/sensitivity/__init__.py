"""How much the protocol moves the number: one factor changed at a time on an image sample."""
