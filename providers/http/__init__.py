"""What every upstream client shares: the base client, the error tree, JSON parsing and rule helpers."""
