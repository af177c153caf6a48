"""Support threads: customers write to the shop (about an order or in general), staff answer."""
