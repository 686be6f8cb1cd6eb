"""Events in: what the shop tells Herald, stored and then acted on, in one transaction.

A shop event first becomes member facts through :mod:`herald.audiences` (contact, orders,
points, tier); then :mod:`herald.campaigns` decides what it triggers (a coupon redeemed, a
trigger fired or cancelled, and journeys when they land). Keeping the two steps here lets
audiences know nothing of campaigns.
"""
