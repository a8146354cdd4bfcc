"""One folder per upstream provider; each registers itself with `providers.registry` from its AppConfig."""
