"""Events in: what the shop tells Herald, stored and then acted on, in one transaction.

A shop event first becomes member facts through :mod:`herald.audiences` (contact, orders,
points, tier); then :mod:`herald.campaigns` decides what it sets off (a coupon redeemed) and
:mod:`herald.journeys` moves journeys on (goals, ``wait_for`` steps, entries; triggers are
journeys). Keeping the two steps here lets audiences know nothing of campaigns.
"""
