"""Pages that span domains: the staff area and the customer portal."""
