"""Meridian's business services (aiohttp apps) and their shared platform library.

Empty until the order-pipeline issue lands: gateway, auth, orders, inventory and fulfillment.
"""
