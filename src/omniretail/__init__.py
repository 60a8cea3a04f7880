"""omniretail: one retailer, every channel."""

__version__ = "0.1.0"
