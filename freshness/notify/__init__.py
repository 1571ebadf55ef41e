"""Telling people: notifications rendered once, an outbox of deliveries, one transport per
channel kind (e-mail, Apprise, signed webhook).

* ``outbox.enqueue`` writes a Notification and one Delivery per enabled channel of the
  person, in the caller's transaction (the reminder event or the prompt that caused it
  commits with them, or neither does);
* ``outbox.dispatch`` sends what is due: each delivery is claimed by a conditional
  update (one dispatcher owns it for a lease), sent with its idempotency key, then
  recorded as sent, retried with exponential backoff, or given up; a permanent error
  disables the channel with its reason;
* ``base`` defines the transport interface and the errors; ``fake`` a transport for
  tests; ``email``, ``webhook`` and ``apprise`` the real ones.
"""
