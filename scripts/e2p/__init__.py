"""e2p: the operator CLI of Events2Panther."""
