"""The alert thresholds (the operations guide's defaults), shared by the alert rules and the dashboard so
that a panel's red line is where its alert fires."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AlertThresholds:  # defaults = the operations guide
    open_transactions: int = 100
    page_cache_hit_ratio: float = 0.90
    gc_pause_seconds: float = 1.0
    disk_used_ratio: float = 0.80
    replication_lag_seconds: float = 10.0
    # A daily backup plus two hours of slack: the newest complete backup may be this old.
    backup_max_age_hours: float = 26.0
    # neo4j:restoreDrillMaxAgeDays: the weekly drill plus a day.
    restore_drill_max_age_days: float = 8.0
    # neo4j:failoverDrillMaxAgeDays: a monthly `make drill` plus a few days.
    failover_drill_max_age_days: float = 35.0

    def __post_init__(self) -> None:
        if self.open_transactions < 1:
            raise ValueError(f"open_transactions must be >= 1, got {self.open_transactions}")
        for field in ("page_cache_hit_ratio", "disk_used_ratio"):
            value = getattr(self, field)
            if not 0 < value < 1:
                raise ValueError(f"{field} is a ratio in (0, 1), got {value}")
        for field in ("gc_pause_seconds", "replication_lag_seconds", "backup_max_age_hours",
                      "restore_drill_max_age_days", "failover_drill_max_age_days"):
            value = getattr(self, field)
            if value <= 0:
                raise ValueError(f"{field} must be > 0, got {value}")


def threshold_text(value: float) -> str:
    """A threshold as PromQL/prose text: 100, 0.9, 1, 10.5."""
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))
