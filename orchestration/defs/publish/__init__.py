"""Publishing: the read-only copy of the warehouse that every reader opens."""
