"""``watch``'s scheduling defaults, importable without numpy (the CLI's help text shows them)."""

#: Once a run's full pass (every rule over the whole run) costs more than
#: :data:`INCREMENTAL_ABOVE` seconds, it gets one at least every this many polls that changed it
#: (and at the first poll it did not change: a run that went quiet is judged whole).
FULL_EVERY = 12
#: A run whose full pass (build + rules) takes at most this long gets one at every poll.
INCREMENTAL_ABOVE = 0.2
