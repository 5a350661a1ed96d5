"""Notifications: a layer that listens to what the dashboard already records and tells the
team through email, signed webhooks and Apprise.

==================  ===========================================================================
``catalogue``       every event type, its severity and label
``events``          raising an event once (from an audit record or a watch) and fanning it out
                    to the targets and people whose matchers take it, one delivery each
``senders``         email, the signed webhook, Apprise; no secret in any result
``deliveries``      one attempt of one delivery; counting failures, pausing a target
``targets``         what Admins do: targets from the form and from NOTIFY_URLS, test, resume
``watch``           what no action records: outages, vanished protected snapshots, stale
                    schedules, deliveries whose task was lost
==================  ===========================================================================
"""
