"""What the deploy's S3 lifecycle rule and the backup job agree on about backup objects."""
from __future__ import annotations

# The object tag (key, value) the backup job puts on every object of a chain once a newer complete,
# checked chain exists; the bucket's lifecycle expires only tagged objects under <stack>/
# (components/aws/backup_store.py), so the newest complete chain survives whatever its age.
EXPIRABLE_TAG = ("expirable", "true")
