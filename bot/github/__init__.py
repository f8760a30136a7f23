"""GitHub as the gate's adapter: the App's credentials and the review callback."""
