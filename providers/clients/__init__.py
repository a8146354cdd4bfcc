"""One client per upstream API; clients speak HTTP and return dataclasses, and never touch the ORM."""
