"""`sentinel` subcommands that live in their own modules (one per surface); cli.py registers them."""
